"""The connection a link names, and storing the grant a consent produced.

Storing never races a rotation and never drops a refresh token: the new document (validated
with the platform before) is written as AWSPENDING on a version named after the link's nonce, and
the rotation engine's finishSecret (which moves AWSCURRENT, resets the state tags and sends
``token.recovered`` for a connection that was failing) completes it. While that version is pending
RotateSecret refuses new rotations; a rotation that had started just before loses its AWSPENDING
label and its remaining steps are refused as "not the pending version". If instead a rotation's
createSecret takes AWSPENDING back before finishSecret, nothing is stored, the page says so and
the nonce stays. A second browser finishing the same link writes the same version id with another
value: Secrets Manager refuses it and that browser sees "already used".

A new connection (``token-refresher connect``) is created by the CLI unmanaged, with the
``awaiting-consent`` tag and a document without tokens: the sweep never sees it. The first
consent writes the grant as its AWSCURRENT and only then tags it managed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import (
    AWSCURRENT,
    AWSPENDING,
    SecretDescription,
    SecretNotFound,
    SecretStore,
)
from token_refresher.alerting.failures import publish_alert
from token_refresher.alerting.notices import merge_refresh, new_notice_alerts, token_tags
from token_refresher.connect.attempts import refuse_when_locked
from token_refresher.connect.exchange import Consent, Identity
from token_refresher.connect.links import (
    NONCE_USED,
    TAG_AWAITING,
    TAG_CONNECT_NONCE,
    Link,
    LinkError,
    LinkProblem,
    pending_version,
)
from token_refresher.errors import (
    RotationStateError,
    SecretFormatError,
)
from token_refresher.events import RotationRequest, Step
from token_refresher.model import TokenDocument
from token_refresher.redact import Redactor
from token_refresher.rotation.engine import RotationEngine
from token_refresher.state import (
    TAG_INSTANCE,
    TAG_LAST_ROTATED,
    TAG_MANAGED,
    TAG_PROVIDER,
    TokenState,
)
from token_refresher.timeutil import format_iso, to_epoch

CONSENT_FIELD = "consent"  # in the token document: the last consenting account (kept verbatim)


@dataclass(frozen=True)
class Connection:
    desc: SecretDescription
    doc: TokenDocument
    is_new: bool

    @property
    def previous_account(self) -> str | None:
        consent = self.doc.extras.get(CONSENT_FIELD)
        value = consent.get("account_id") if isinstance(consent, dict) else None
        return value if isinstance(value, str) and value else None

    @property
    def previous_label(self) -> str:
        consent = self.doc.extras.get(CONSENT_FIELD)
        label = consent.get("account_label") if isinstance(consent, dict) else None
        shown = label or self.previous_account
        return str(shown) if shown else "none recorded yet"


def load_connection(store: SecretStore, link: Link, instance: str) -> Connection:
    """The connection ``link`` names, checked: this deployment's, same provider, nonce unused."""
    try:
        desc = store.describe(link.secret_id)
    except SecretNotFound:
        raise LinkError(LinkProblem.FOREIGN, "no such connection") from None
    tags = desc.tags
    is_new = tags.get(TAG_MANAGED) != "true"
    if is_new and tags.get(TAG_AWAITING) != "true":
        raise LinkError(LinkProblem.FOREIGN, "not a connection of this deployment")
    if not instance or tags.get(TAG_INSTANCE) != instance:  # fail closed without an instance
        raise LinkError(LinkProblem.FOREIGN, "another deployment's connection")
    if tags.get(TAG_PROVIDER, link.provider) != link.provider:
        raise LinkError(LinkProblem.TAMPERED, "provider differs from the connection's")
    if tags.get(TAG_CONNECT_NONCE) != link.nonce:
        raise LinkError(LinkProblem.USED)
    refuse_when_locked(tags, link.nonce)  # from the tags: no value read, no provider called
    if store.get_value(desc.arn, version_id=pending_version(link.nonce)) is not None:
        raise LinkError(LinkProblem.USED, "this link's grant was written already")
    text = store.get_value(desc.arn, stage=AWSCURRENT)
    doc = _placeholder(text) if is_new else TokenDocument.from_json(text)
    if doc.provider != link.provider:
        raise LinkError(LinkProblem.TAMPERED, "provider differs from the connection's")
    return Connection(desc, doc, is_new)


def _placeholder(text: str | None) -> TokenDocument:
    """An awaiting-consent document: everything but tokens."""
    try:
        data = json.loads(text or "")
    except ValueError:
        raise SecretFormatError("is not valid JSON", field="secret") from None
    if not isinstance(data, dict):
        raise SecretFormatError("must be a JSON object", field="secret")
    return TokenDocument.from_dict(data | {"access_token": "placeholder"}).evolve(access_token=None)  # nosec B105 # a stand-in, dropped at once


def consented_document(
    conn: Connection, consent: Consent, now: datetime, *, scopes: str
) -> TokenDocument:
    """The new document: the grant merged in; options and unknown fields kept; account recorded."""
    doc = merge_refresh(conn.doc, consent.tokens, now).evolve(
        refresh_token=consent.tokens.refresh_token,  # the new grant's (None for Meta, TikTok)
        refresh_token_expires_at=consent.tokens.refresh_token_expires_at,
        data_access_expires_at=consent.tokens.data_access_expires_at,
        kind=consent.kind or conn.doc.kind,  # notices: the consent's own (LinkedIn without refresh)
        options={**conn.doc.options, **consent.options_update},  # e.g. TikTok's advertiser ids
    )
    record: dict[str, Any] = {"consented_at": format_iso(now), "scopes": scopes}
    if consent.identity is not None:
        record |= _identity_record(consent.identity)
    return doc.evolve(extras={**conn.doc.extras, CONSENT_FIELD: record})


def _identity_record(identity: Identity) -> dict[str, str]:
    return {"account_id": identity.account_id, "account_label": identity.label}


class GrantNotStored(RotationStateError):
    """Another rotation took AWSPENDING before the consented grant became AWSCURRENT."""


def store_grant(  # noqa: PLR0913 - the store, the engine and what to write, explicitly
    store: SecretStore,
    engine: RotationEngine,
    conn: Connection,
    doc: TokenDocument,
    *,
    nonce: str,
    now: datetime,
    extra_tags: Mapping[str, str],
) -> str:
    """Write ``doc`` as the connection's new AWSCURRENT; returns the version id.

    Raises LinkError(USED) when another browser already wrote this link's grant, GrantNotStored
    when a rotation took AWSPENDING first; the nonce is marked used only once the grant is stored.
    """
    version = pending_version(nonce)
    # Secrets Manager refuses a second PutSecretValue of this version (below); the read first
    # keeps the answer the same where a store overwrites instead (LocalStack, docs/aws-parity.md)
    if store.get_value(conn.desc.arn, version_id=version) is not None:
        raise LinkError(LinkProblem.USED, "this link's grant was already written")
    try:
        store.put_pending(conn.desc.arn, version, doc.to_json())  # the new grant is safe from here
    except AwsError as exc:
        if exc.code == "ResourceExistsException":
            raise LinkError(LinkProblem.USED, "this link's grant was already written") from None
        raise
    try:
        _make_current(store, engine, conn, doc, version, now=now, extra_tags=extra_tags)
    except AwsError as exc:  # the version id is spent: the page must not say "open it again"
        raise GrantNotStored(f"finishing the consented grant failed ({exc.code})") from exc
    store.tag(conn.desc.arn, {TAG_CONNECT_NONCE: NONCE_USED})
    return version


def _make_current(  # noqa: PLR0913 - as store_grant
    store: SecretStore,
    engine: RotationEngine,
    conn: Connection,
    doc: TokenDocument,
    version: str,
    *,
    now: datetime,
    extra_tags: Mapping[str, str],
) -> None:
    if conn.is_new:
        current = conn.desc.version_with(AWSCURRENT)
        store.move_stage(conn.desc.arn, AWSCURRENT, to_version=version, from_version=current)
        state_tags = TokenState().to_tags() | token_tags(doc) | {TAG_MANAGED: "true"}
        store.tag(
            conn.desc.arn,
            state_tags
            | {TAG_AWAITING: "false", TAG_LAST_ROTATED: str(to_epoch(now))}
            | dict(extra_tags),
        )
    else:
        _finish(store, engine, conn, doc, version)


def _finish(
    store: SecretStore, engine: RotationEngine, conn: Connection, doc: TokenDocument, version: str
) -> None:
    """The engine's finishSecret for the pending grant. createSecret (it would reuse the value),
    setSecret (nothing to set) and testSecret (the service validated the grant before writing)
    are not run, nor the engine's failure reporting: a failure here is shown on the page, and
    neither marks the connection failing nor sends an alert whose new link would kill this one."""
    request = RotationRequest(Step.FINISH, conn.desc.arn, version)
    desc = store.describe(conn.desc.arn)
    if AWSPENDING not in desc.versions.get(version, ()):
        raise GrantNotStored("a rotation took AWSPENDING before the consented grant was stored")
    engine.finish_secret(desc, conn.doc, request, Redactor(doc.secret_values()))


def announce_notices(
    notifier: Notifier, conn: Connection, doc: TokenDocument, now: datetime
) -> dict[str, str]:
    """The stored grant's notices (a deadline only a new consent pushes back, e.g. LinkedIn
    without a refresh token): one alert each, and the success page's line. For an existing
    connection the engine's finishSecret has already sent the alert."""
    redact = Redactor(doc.secret_values())
    alerts = new_notice_alerts(conn.doc, doc, secret_id=conn.desc.name, now=now, redact=redact)
    for alert in alerts if conn.is_new else ():
        publish_alert(notifier, alert)
    notes = [str(n.get("message", "")) for n in doc.notices]
    return {"Next consent": " ".join(notes)} if notes else {}

"""A platform's callback: the flow cookie against ``state``, the code exchanged, the consenting
account checked, the grant validated and stored through the rotation engine's steps."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus

from token_refresher.adapters.errors import AwsError
from token_refresher.alerting.failures import publish_alert
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect import pages
from token_refresher.connect.attempts import (
    CALLBACK,
    claim_slot,
    failed_callbacks,
    record_failed_callback,
)
from token_refresher.connect.endpoint import Endpoint
from token_refresher.connect.exchange import CodeGrant, Consent, exchange_code, same_account
from token_refresher.connect.flow import Flow, clear_cookie
from token_refresher.connect.links import Link, LinkError, LinkProblem
from token_refresher.connect.minter import SigningKey
from token_refresher.connect.platforms import platform
from token_refresher.connect.problems import denied_page, different_account_page
from token_refresher.connect.request import HttpRequest
from token_refresher.connect.store import (
    Connection,
    announce_notices,
    consented_document,
    load_connection,
    store_grant,
)
from token_refresher.errors import ErrorClass, ProviderError, TokenRefresherError
from token_refresher.observability import logger
from token_refresher.providers import get_provider
from token_refresher.redact import Redactor
from token_refresher.state import TAG_INSTANCE
from token_refresher.timeutil import format_iso


class Callback:
    """One platform callback (``/callback/<provider>``) of the connect endpoint."""

    def __init__(self, ep: Endpoint) -> None:
        self.ep = ep

    def attempt(
        self, req: HttpRequest, provider: str, flow: Flow, signing: SigningKey
    ) -> pages.Page:
        """A callback whose flow checked out; one that stores nothing counts against the link."""
        ep = self.ep
        link = Link.verify(flow.signed_link, signing.key, now=ep.clock(), instance=signing.instance)
        if link.provider != provider:
            raise LinkError(LinkProblem.TAMPERED, "callback path of another platform")
        conn = load_connection(ep.store, link, signing.instance)
        # the cap, held by a conditional write before the platform is called (attempts.py)
        first = failed_callbacks(conn.desc.tags, link.nonce) + 1
        claim_slot(ep.store, conn.desc.arn, link.nonce, CALLBACK, first=first)
        stored = False
        try:
            page = self._answer(req, conn, link, flow, signing)
            stored = page.status == HTTPStatus.OK  # the success page
        finally:  # a callback that stored nothing counts against the link (attempts.py)
            if not stored:
                record_failed_callback(ep.store, conn.desc.arn, conn.desc.tags, link.nonce)
        return page

    def _answer(
        self, req: HttpRequest, conn: Connection, link: Link, flow: Flow, signing: SigningKey
    ) -> pages.Page:
        """The callback of a checked link: the platform's refusal, or the code exchanged."""
        clear = clear_cookie(secure=req.secure)
        if "error" in req.query:
            return self._refused_at_platform(conn, req.query, clear)
        code = req.query.get("auth_code" if link.provider == "tiktok" else "code", "")
        if not code:
            raise LinkError(LinkProblem.TAMPERED, "no authorization code")
        redactor = Redactor([code])
        try:
            return self._complete(
                conn, link, flow, code, signing=signing, clear=clear, redactor=redactor
            )
        except (LinkError, AwsError):  # the link's or the store's: the service's own pages
            raise
        except TokenRefresherError as err:
            return self.ep.failed(conn, err, "callback", clear=clear, redactor=redactor)

    def _complete(  # noqa: PLR0913 - one attempt's parts
        self,
        conn: Connection,
        link: Link,
        flow: Flow,
        code: str,
        *,
        signing: SigningKey,
        clear: str,
        redactor: Redactor,
    ) -> pages.Page:
        ep = self.ep
        app = ep.engine.apps.for_token(conn.desc, conn.doc, redactor)  # binding check first
        if app is None:
            raise ProviderError(ErrorClass.CONFIG, "no app credentials", provider=link.provider)
        spec = platform(link.provider)
        verifier = flow.code_verifier(signing.key) if spec.pkce(conn.doc) else None
        grant = CodeGrant(code, ep.redirect_uri(signing, link.provider), verifier)
        consent = exchange_code(conn.doc, app, ep.ctx, grant)
        redactor.add(consent.tokens.access_token, consent.tokens.refresh_token)
        if not self._account_allowed(conn, link, consent):
            return different_account_page(conn.previous_label, clear)
        now = ep.clock()
        doc = consented_document(conn, consent, now, scopes=spec.scopes(conn.doc))
        check = get_provider(doc.provider).validate(doc, app, ep.ctx)
        if not check.valid:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"the new token failed the platform's check ({check.detail or 'invalid'})",
                provider=doc.provider,
            )
        tags = {TAG_INSTANCE: signing.instance} if signing.instance else {}
        store_grant(ep.store, ep.engine, conn, doc, nonce=link.nonce, now=now, extra_tags=tags)
        logger.info(
            "connection stored",
            extra={"secret_id": conn.desc.name, "provider": doc.provider, "new": conn.is_new},
        )
        facts = ep.facts(conn, link) | {
            "Account": consent.identity.label or consent.identity.account_id
            if consent.identity
            else "not reported by the platform",
            "Token valid until": format_iso(doc.expires_at) if doc.expires_at else "until revoked",
        }
        facts.pop("Last consenting account", None)
        return pages.success(facts | announce_notices(ep.notifier, conn, doc, now), clear)

    def _account_allowed(self, conn: Connection, link: Link, consent: Consent) -> bool:
        previous = conn.previous_account
        if link.allow_new_account or previous is None:
            return True
        if consent.identity is not None and same_account(previous, consent.identity, link.provider):
            return True
        # A pinned connection and a platform answer that names no account (oauth2 without an
        # id_token) cannot be shown to be the same account: refused like a different one.
        logger.warning(
            "connect refused: a different account consented",
            extra={
                "secret_id": conn.desc.name,
                "provider": link.provider,
                "identity_reported": consent.identity is not None,
            },
        )
        publish_alert(  # an SNS failure is logged: the person still reads why they were refused
            self.ep.notifier,
            Alert(
                AlertEvent.CONNECT_REFUSED,
                secret_id=conn.desc.name,
                provider=link.provider,
                message="a different account than the connection's consented; nothing was stored",
                remediation=(
                    "Sign in with the connection's account, or make a link with "
                    "`token-refresher link <secret-id> --allow-new-account` to switch accounts."
                ),
                occurred_at=self.ep.clock(),
            ),
        )
        return False

    @staticmethod
    def _refused_at_platform(conn: Connection, query: Mapping[str, str], clear: str) -> pages.Page:
        code = query.get("error", "")[:64]
        logger.warning(
            "consent not given at the platform",
            extra={"secret_id": conn.desc.name, "provider": conn.doc.provider, "error": code},
        )
        return denied_page(code, clear)

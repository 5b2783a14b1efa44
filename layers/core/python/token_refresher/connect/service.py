"""The connect endpoint: the landing page of a link, and each platform's callback."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from http import HTTPStatus

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.binding import BindingError
from token_refresher.connect import pages
from token_refresher.connect.attempts import record_failed_callback
from token_refresher.connect.exchange import CodeGrant, Consent, exchange_code, same_account
from token_refresher.connect.flow import Flow, FlowError, clear_cookie
from token_refresher.connect.idtoken import require_identity_source
from token_refresher.connect.links import LINK_PARAM, Link, LinkError, LinkProblem
from token_refresher.connect.minter import SigningKey
from token_refresher.connect.platforms import (
    LABELS,
    AuthorizeRequest,
    NoConsentFlow,
    platform,
    require_consent_flow,
)
from token_refresher.connect.problems import (
    denied_page,
    different_account_page,
    error_page,
    link_page,
    no_flow_page,
    not_found_page,
    not_stored_page,
)
from token_refresher.connect.request import HttpRequest
from token_refresher.connect.store import (
    Connection,
    GrantNotStored,
    announce_notices,
    consented_document,
    load_connection,
    store_grant,
)
from token_refresher.errors import ErrorClass, ProviderError, TokenRefresherError
from token_refresher.failures import publish_alert
from token_refresher.observability import logger
from token_refresher.providers import get_provider
from token_refresher.providers.base import ProviderContext
from token_refresher.redact import Redactor
from token_refresher.rotation import RotationEngine
from token_refresher.state import TAG_INSTANCE
from token_refresher.timeutil import Clock, format_iso, utcnow

CALLBACK_PREFIX = "/callback/"


class ConnectService:
    def __init__(  # noqa: PLR0913 - collaborators passed in explicitly (composition root)
        self,
        store: SecretStore,
        notifier: Notifier,
        ctx: ProviderContext,
        keys: Callable[[], SigningKey],
        engine: RotationEngine,
        *,
        clock: Clock = utcnow,
    ) -> None:
        self.store = store
        self.notifier = notifier
        self.ctx = ctx
        self._keys = keys
        self.engine = engine
        self._clock = clock

    def handle(self, req: HttpRequest) -> pages.Page:
        """Route one Function URL request: ``/`` is a link's landing page, ``/callback/<provider>``
        a platform's return; anything else is 404. Every failure becomes one of our pages."""
        if req.method not in ("GET", "HEAD"):
            return not_found_page()
        try:
            if req.path == "/":
                return self.landing(req)
            if req.path.startswith(CALLBACK_PREFIX):
                return self.callback(req, req.path[len(CALLBACK_PREFIX) :].strip("/"))
            return not_found_page()
        except LinkError as err:
            return _link_refused(err, "")
        except (AwsError, TokenRefresherError) as exc:
            return self._unexpected(req, exc)

    @staticmethod
    def _unexpected(req: HttpRequest, exc: AwsError | TokenRefresherError) -> pages.Page:
        """Reading the key or the connection failed: our page, not a bare 502 (no token here:
        AWS messages name resources, ours name fields)."""
        if isinstance(exc, AwsError):
            error_class, detail = ErrorClass.TRANSIENT, {"aws_code": exc.code}
        else:
            error_class, detail = exc.error_class, {"detail": exc.message}
        logger.error(
            "connect failed",
            extra={"path": req.path[:64], "error": type(exc).__name__, "error_class": error_class}
            | detail,
        )
        return error_page(error_class, "")

    # --- the landing page ----------------------------------------------------------------------

    def landing(self, req: HttpRequest) -> pages.Page:
        signing = self._keys()
        token = req.query.get(LINK_PARAM, "")
        link = Link.verify(token, signing.key, now=self._clock(), instance=signing.instance)
        conn = load_connection(self.store, link, signing.instance)
        try:
            require_consent_flow(conn.doc)
            require_identity_source(conn.doc.provider, conn.doc.options)  # oauth2: pinnable
            app = self.engine.apps.for_token(conn.desc, conn.doc, Redactor())
            if app is None:
                raise ProviderError(ErrorClass.CONFIG, "no app credentials", provider=link.provider)
            spec = platform(link.provider)
            flow = Flow.start(token, link.provider)
            href = spec.authorize_url(
                conn.doc,
                app,
                self.ctx,
                AuthorizeRequest(
                    redirect_uri=self.redirect_uri(signing, link.provider),
                    state=flow.state(signing.key),
                    code_challenge=flow.code_challenge(signing.key),
                ),
            )
        except TokenRefresherError as err:
            return self._failed(conn, err, "landing")
        logger.info(
            "connect link opened", extra={"secret_id": conn.desc.name, "provider": link.provider}
        )
        facts = self._facts(conn, link) | {"Link valid until": format_iso(link.expires_at)}
        pinned = conn.previous_account is not None and not link.allow_new_account
        return pages.landing(
            facts, LABELS[link.provider], href, flow.cookie(secure=req.secure), pinned=pinned
        )

    def redirect_uri(self, signing: SigningKey, provider: str) -> str:
        return f"{signing.base_url}callback/{provider}"

    def _facts(self, conn: Connection, link: Link) -> dict[str, str]:
        facts = {
            "Connection": conn.desc.name,
            "Platform": LABELS.get(link.provider, link.provider),
            "Scopes": platform(link.provider).scopes(conn.doc),
            "Last consenting account": conn.previous_label,
        }
        if link.allow_new_account:
            facts["Account"] = "any account may consent (new account allowed)"
        elif conn.previous_account is None:
            facts["Account"] = "any account will be accepted (none recorded yet)"
        if conn.is_new:
            facts["Last consenting account"] = "new connection"
        return facts

    # --- the callback --------------------------------------------------------------------------

    def callback(self, req: HttpRequest, provider: str) -> pages.Page:
        """A platform's return: check the flow cookie against ``state``, exchange the code, check
        the consenting account, store the grant through the rotation engine's steps; the flow's
        cookie is cleared whatever the outcome."""
        signing = self._keys()
        secure = req.secure
        try:
            flow = Flow.from_callback(req.cookie, req.query.get("state", ""), provider, signing.key)
        except FlowError as err:
            raise LinkError(LinkProblem.TAMPERED, str(err)) from None
        try:
            page = self._attempt(req, provider, flow, signing)
        except LinkError as err:
            page = _link_refused(err, "")
        cleared = clear_cookie(secure=secure, flow_id=flow.flow_id)
        return replace(page, headers={**page.headers, "Set-Cookie": cleared})

    def _attempt(
        self, req: HttpRequest, provider: str, flow: Flow, signing: SigningKey
    ) -> pages.Page:
        link = Link.verify(
            flow.link_token, signing.key, now=self._clock(), instance=signing.instance
        )
        if link.provider != provider:
            raise LinkError(LinkProblem.TAMPERED, "callback path of another platform")
        conn = load_connection(self.store, link, signing.instance)
        stored = False
        try:
            page = self._answer(req, conn, link, flow, signing)
            stored = page.status == HTTPStatus.OK  # the success page
        finally:  # a callback that stored nothing counts against the link (attempts.py)
            if not stored:
                record_failed_callback(self.store, conn.desc.arn, conn.desc.tags, link.nonce)
        return page

    def _answer(
        self, req: HttpRequest, conn: Connection, link: Link, flow: Flow, signing: SigningKey
    ) -> pages.Page:
        """The callback of a checked link: the platform's refusal, or the code exchanged."""
        secure = req.secure
        if "error" in req.query:
            return self._refused_at_platform(conn, req.query, secure)
        code = req.query.get("auth_code" if link.provider == "tiktok" else "code", "")
        if not code:
            raise LinkError(LinkProblem.TAMPERED, "no authorization code")
        redactor = Redactor([code])
        try:
            return self._complete(
                conn, link, flow, code, signing=signing, secure=secure, redactor=redactor
            )
        except TokenRefresherError as err:
            return self._failed(conn, err, "callback", secure=secure, redactor=redactor)

    def _complete(  # noqa: PLR0913 - one attempt's parts, keyword-only past the code
        self,
        conn: Connection,
        link: Link,
        flow: Flow,
        code: str,
        *,
        signing: SigningKey,
        secure: bool,
        redactor: Redactor,
    ) -> pages.Page:
        app = self.engine.apps.for_token(conn.desc, conn.doc, redactor)  # binding check first
        if app is None:
            raise ProviderError(ErrorClass.CONFIG, "no app credentials", provider=link.provider)
        spec = platform(link.provider)
        verifier = flow.code_verifier(signing.key) if spec.pkce(conn.doc) else None
        grant = CodeGrant(code, self.redirect_uri(signing, link.provider), verifier)
        consent = exchange_code(conn.doc, app, self.ctx, grant)
        redactor.add(consent.token.access_token, consent.token.refresh_token)
        if not self._account_allowed(conn, link, consent):
            return different_account_page(conn.previous_label, clear_cookie(secure=secure))
        now = self._clock()
        doc = consented_document(conn, consent, now, scopes=spec.scopes(conn.doc))
        check = get_provider(doc.provider).validate(doc, app, self.ctx)
        if not check.valid:
            raise ProviderError(
                ErrorClass.REAUTH_REQUIRED,
                f"the new token failed the platform's check ({check.detail or 'invalid'})",
                provider=doc.provider,
            )
        tags = self._instance_tags(signing.instance)
        store_grant(self.store, self.engine, conn, doc, nonce=link.nonce, now=now, extra_tags=tags)
        logger.info(
            "connection stored",
            extra={"secret_id": conn.desc.name, "provider": doc.provider, "new": conn.is_new},
        )
        facts = self._facts(conn, link) | {
            "Account": consent.identity.label or consent.identity.account_id
            if consent.identity
            else "not reported by the platform",
            "Token valid until": format_iso(doc.expires_at) if doc.expires_at else "until revoked",
        }
        facts.pop("Last consenting account", None)
        return pages.success(
            facts | announce_notices(self.notifier, conn, doc, now), clear_cookie(secure=secure)
        )

    @staticmethod
    def _instance_tags(instance: str) -> dict[str, str]:
        return {TAG_INSTANCE: instance} if instance else {}

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
            self.notifier,
            Alert(
                AlertEvent.CONNECT_REFUSED,
                secret_id=conn.desc.name,
                provider=link.provider,
                message="a different account than the connection's consented; nothing was stored",
                remediation=(
                    "Sign in with the connection's account, or make a link with "
                    "`token-refresher link <secret-id> --allow-new-account` to switch accounts."
                ),
                occurred_at=self._clock(),
            ),
        )
        return False

    def _refused_at_platform(
        self, conn: Connection, query: Mapping[str, str], secure: bool
    ) -> pages.Page:
        code = query.get("error", "")[:64]
        logger.warning(
            "consent not given at the platform",
            extra={"secret_id": conn.desc.name, "provider": conn.doc.provider, "error": code},
        )
        return denied_page(code, clear_cookie(secure=secure))

    def _failed(
        self,
        conn: Connection,
        err: TokenRefresherError,
        where: str,
        *,
        secure: bool = True,
        redactor: Redactor | None = None,
    ) -> pages.Page:
        redact = redactor or Redactor()
        logger.error(
            "connect failed",
            extra={
                "secret_id": conn.desc.name,
                "provider": conn.doc.provider,
                "where": where,
                "error_class": err.error_class.value,
                "provider_code": err.provider_code,
                "detail": redact(err.message),
                "remediation": redact(err.remediation) if err.remediation else None,
            },
        )
        if isinstance(err, GrantNotStored):
            return not_stored_page(clear_cookie(secure=secure))
        if isinstance(err, NoConsentFlow):
            return no_flow_page(err.message, clear_cookie(secure=secure))
        if isinstance(err, BindingError):
            self._binding_refused(conn, err, redact)
        return error_page(err.error_class, clear_cookie(secure=secure))

    def _binding_refused(self, conn: Connection, err: BindingError, redact: Redactor) -> None:
        """The app-credential binding refused the connection: one alert, like rotation's (the
        message names the two secrets; no token, code or link)."""
        publish_alert(
            self.notifier,
            Alert(
                AlertEvent.CONFIG_INVALID,
                secret_id=conn.desc.name,
                provider=conn.doc.provider,
                message=f"consent refused: {redact(err.message)}",
                occurred_at=self._clock(),
                error_class=err.error_class.value,
                remediation=redact(err.remediation) if err.remediation else None,
            ),
        )


def _link_refused(err: LinkError, clear: str) -> pages.Page:
    logger.warning(
        "connect link refused", extra={"problem": err.problem.value, "detail": err.detail}
    )
    return link_page(err.problem, clear)

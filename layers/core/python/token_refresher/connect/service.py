"""The connect endpoint: the landing page of a link (landing.py), and each platform's callback
(callback.py); what both share is endpoint.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.connect import pages
from token_refresher.connect.callback import Callback
from token_refresher.connect.endpoint import Endpoint
from token_refresher.connect.flow import Flow, FlowError, clear_cookie
from token_refresher.connect.landing import landing
from token_refresher.connect.links import LinkError, LinkProblem
from token_refresher.connect.minter import SigningKey
from token_refresher.connect.problems import error_page, link_page, not_found_page
from token_refresher.connect.request import HttpRequest
from token_refresher.errors import ErrorClass, TokenRefresherError
from token_refresher.observability import logger
from token_refresher.providers.base import ProviderContext
from token_refresher.rotation.engine import RotationEngine
from token_refresher.timeutil import Clock, utcnow

__all__ = ["CALLBACK_PREFIX", "ConnectService", "HttpRequest"]

CALLBACK_PREFIX = "/callback/"


class ConnectService:
    """Routes the Function URL's requests and turns every failure into one of our pages."""

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
        self.endpoint = Endpoint(store, notifier, ctx, keys, engine, clock)
        self.store, self.notifier, self.ctx, self.engine = store, notifier, ctx, engine

    @property
    def _keys(self) -> Callable[[], SigningKey]:
        return self.endpoint.keys

    @_keys.setter
    def _keys(self, keys: Callable[[], SigningKey]) -> None:  # tests replace the signing key
        self.endpoint.keys = keys

    def handle(self, req: HttpRequest) -> pages.Page:
        """Route one Function URL request: ``/`` is a link's landing page, ``/callback/<provider>``
        a platform's return; anything else is 404.

        Args:
            req: the Function URL request (method, path, query, cookie).

        Returns:
            The page to answer with; every failure becomes one of our pages.

        Raises:
            Nothing of its own: link, AWS and provider failures become pages (anything else is a
            bug and reaches the handler).
        """
        if req.method not in ("GET", "HEAD"):
            return not_found_page()
        try:
            if req.path == "/":
                return landing(self.endpoint, req)
            if req.path.startswith(CALLBACK_PREFIX):
                return self.callback(req, req.path[len(CALLBACK_PREFIX) :].strip("/"))
            return not_found_page()
        except LinkError as err:
            return _link_refused(err, "")
        except (AwsError, TokenRefresherError) as exc:
            return _unexpected(req, exc)

    def callback(self, req: HttpRequest, provider: str) -> pages.Page:
        """A platform's return: check the flow cookie against ``state``, exchange the code, check
        the consenting account, store the grant through the rotation engine's steps; the flow's
        cookie is cleared whatever the outcome."""
        signing = self.endpoint.keys()
        try:
            flow = Flow.from_callback(req.cookie, req.query.get("state", ""), provider, signing.key)
        except FlowError as err:
            raise LinkError(LinkProblem.TAMPERED, str(err)) from None
        try:
            page = Callback(self.endpoint).attempt(req, provider, flow, signing)
        except LinkError as err:
            page = _link_refused(err, "")
        cleared = clear_cookie(secure=req.secure, flow_id=flow.flow_id)
        return replace(page, headers={**page.headers, "Set-Cookie": cleared})


def _unexpected(req: HttpRequest, exc: AwsError | TokenRefresherError) -> pages.Page:
    """Reading the key or the connection failed: our page, not a bare 502 (no token here: AWS
    messages name resources, ours name fields)."""
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


def _link_refused(err: LinkError, clear: str) -> pages.Page:
    logger.warning(
        "connect link refused", extra={"problem": err.problem.value, "detail": err.detail}
    )
    return link_page(err.problem, clear)

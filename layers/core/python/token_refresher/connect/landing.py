"""A consent link's landing page: check the link and the connection, then send the owner to the
platform's consent screen with a fresh flow (state, PKCE, cookie)."""

from __future__ import annotations

from token_refresher.adapters.errors import AwsError
from token_refresher.connect import pages
from token_refresher.connect.attempts import LANDING, claim_slot
from token_refresher.connect.endpoint import Endpoint
from token_refresher.connect.flow import Flow
from token_refresher.connect.idtoken import require_identity_source
from token_refresher.connect.links import LINK_PARAM, Link, LinkError
from token_refresher.connect.platforms import (
    LABELS,
    AuthorizeRequest,
    platform,
    require_consent_flow,
)
from token_refresher.connect.request import HttpRequest
from token_refresher.connect.store import load_connection
from token_refresher.errors import ErrorClass, ProviderError, TokenRefresherError
from token_refresher.observability import logger
from token_refresher.redact import Redactor
from token_refresher.timeutil import format_iso


def landing(ep: Endpoint, req: HttpRequest) -> pages.Page:
    """The page of a link (``/?l=<link>``): the connection's facts and the consent button.
    A bad link raises LinkError (the service answers with the link's problem page)."""
    signing = ep.keys()
    signed_link = req.query.get(LINK_PARAM, "")
    link = Link.verify(signed_link, signing.key, now=ep.clock(), instance=signing.instance)
    conn = load_connection(ep.store, link, signing.instance)
    claim_slot(ep.store, conn.desc.arn, link.nonce, LANDING)  # landing views are bounded too
    try:
        require_consent_flow(conn.doc)
        require_identity_source(conn.doc.provider, conn.doc.options)  # oauth2: pinnable
        app = ep.engine.apps.for_token(conn.desc, conn.doc, Redactor())
        if app is None:
            raise ProviderError(ErrorClass.CONFIG, "no app credentials", provider=link.provider)
        flow = Flow.start(signed_link, link.provider)
        href = platform(link.provider).authorize_url(
            conn.doc,
            app,
            ep.ctx,
            AuthorizeRequest(
                redirect_uri=ep.redirect_uri(signing, link.provider),
                state=flow.state(signing.key),
                code_challenge=flow.code_challenge(signing.key),
            ),
        )
    except (LinkError, AwsError):  # the link's or the store's: the service's own pages
        raise
    except TokenRefresherError as err:
        return ep.failed(conn, err, "landing")
    logger.info(
        "connect link opened", extra={"secret_id": conn.desc.name, "provider": link.provider}
    )
    facts = ep.facts(conn, link) | {"Link valid until": format_iso(link.expires_at)}
    pinned = conn.previous_account is not None and not link.allow_new_account
    return pages.landing(
        facts, LABELS[link.provider], href, flow.cookie(secure=req.secure), pinned=pinned
    )

"""Amazon Ads: Login with Amazon (LWA) refresh_token grant at ``/auth/o2/token``.

- ``options.region`` picks the LWA host: NA (default) ``https://api.amazon.com``, EU
  ``https://api.amazon.co.uk``, FE ``https://api.amazon.co.jp``. An endpoint override for this
  provider replaces the base for every region (tests).
- Access tokens (``Atza|...``) live 3600 s; the refresh token (``Atzr|...``) is normally returned
  unchanged. A new one, if any, is stored.
- Errors: 400 ``invalid_grant`` (revoked, or granted to another client/region) -> re-authorize;
  401 ``invalid_client`` -> configuration.
- Validation: ``GET /auth/o2/tokeninfo?access_token=...``. Not confirmed for Ads tokens
  (docs/providers/README.md): the shape (``aud``, ``user_id``, ``exp``) comes from LWA's general
  documentation, where ``exp`` is read as seconds left (values that look like an epoch are taken
  as one). 400/401 with ``invalid_token`` means "not valid"; when app credentials are given, a
  token whose ``aud`` is another client is reported not valid too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from token_refresher.errors import ErrorClass, SecretFormatError
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    ValidationResult,
    json_object,
    oauth_error,
)
from token_refresher.providers.client import Endpoints, PlatformClient
from token_refresher.timeutil import from_epoch

__all__ = [
    "DEFAULT_BASE_URL",
    "NAME",
    "PROVIDER",
    "REGION_BASE_URLS",
    "AmazonAds",
    "region_base_url",
]

NAME = "amazon_ads"
REGION_BASE_URLS = {
    "NA": "https://api.amazon.com",
    "EU": "https://api.amazon.co.uk",
    "FE": "https://api.amazon.co.jp",
}
DEFAULT_REGION = "NA"
DEFAULT_BASE_URL = REGION_BASE_URLS[DEFAULT_REGION]
GRANT_PATH = "/auth/o2/token"  # the token endpoint: a grant is presented there
INFO_PATH = "/auth/o2/tokeninfo"
_EPOCH_THRESHOLD = 1_000_000_000  # larger exp values are absolute times, not seconds left

REAUTH_HINT = (
    "Login with Amazon refused the refresh token: the advertiser revoked the app's access, or the "
    "token belongs to another security profile or region. The advertiser must log in with Amazon "
    "and authorize the app again; check options.region matches where they authorized."
)
CONFIG_HINT = (
    "Login with Amazon rejected the client: check the LWA security profile's client id and secret "
    "in the app credentials secret (client secrets can be rotated in the developer console)."
)


def region_base_url(doc: TokenDocument) -> str:
    region = doc.str_option("region", DEFAULT_REGION).strip().upper()
    base = REGION_BASE_URLS.get(region)
    if base is None:
        raise SecretFormatError(
            f"must be one of {', '.join(REGION_BASE_URLS)}", field="options.region"
        )
    return base


class AmazonAds(PlatformClient):
    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant=GRANT_PATH, check=INFO_PATH)
    hints: ClassVar[Mapping[ErrorClass, str]] = {
        ErrorClass.REAUTH_REQUIRED: REAUTH_HINT,
        ErrorClass.CONFIG: CONFIG_HINT,
    }

    def base_url(self, doc: TokenDocument, ctx: ProviderContext) -> str:
        return ctx.base_url(NAME, region_base_url(doc))

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        resp = self.tokeninfo(doc, ctx)
        if resp.status in (400, 401):
            body = resp.json()
            if isinstance(body, dict) and body.get("error") == "invalid_token":
                return ValidationResult(valid=False, detail="tokeninfo: invalid_token")
        if resp.status != 200:
            raise oauth_error(resp, NAME)
        body = json_object(resp, NAME)
        audience = body.get("aud")
        if app is not None and isinstance(audience, str) and audience != app.client_id:
            return ValidationResult(valid=False, detail="tokeninfo: token issued to another client")
        exp = body.get("exp")
        expires_at = None
        if isinstance(exp, int) and not isinstance(exp, bool) and exp > 0:
            expires_at = (
                from_epoch(exp) if exp >= _EPOCH_THRESHOLD else ctx.now() + timedelta(seconds=exp)
            )
        valid = expires_at is None or expires_at > ctx.now()
        return ValidationResult(valid=valid, expires_at=expires_at, detail="tokeninfo")


PROVIDER = AmazonAds()

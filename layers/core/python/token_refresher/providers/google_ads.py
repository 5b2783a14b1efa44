"""Google Ads: OAuth 2.0 refresh_token grant at Google's token endpoint.

- Access tokens live about an hour; the refresh token normally stays the same (if a new one comes
  back, it is stored).
- No developer token is needed for token refresh (retired 2026-09-09; access belongs to the Cloud
  project). ``login-customer-id`` matters only to Ads API calls, not here.
- Validation: ``GET /tokeninfo?access_token=...``. ``expires_in`` is a string of seconds left and
  drops below a minute for a token about to lapse: that is still a valid token.
- Time-based access: when the user granted access for a limited time, the token answer carries
  ``refresh_token_expires_in``; its end is stored as ``refresh_token_expires_at``, a human
  deadline (30/7/1-day warnings, as for LinkedIn).
- ``options.testing_app: true`` marks an OAuth app still in "Testing" status, whose refresh tokens
  die 7 days after authorization: without a figure from Google, the refresh reports that end as
  ``refresh_token_expires_at`` so the sweep warns a human at 7 and 1 days.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import ClassVar

from token_refresher.errors import ErrorClass
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.providers.base import (
    ProviderContext,
    RefreshResult,
    ValidationResult,
    countdown_at,
    json_object,
    oauth_error,
)
from token_refresher.providers.client import Endpoints, PlatformClient

__all__ = ["DEFAULT_BASE_URL", "NAME", "PROVIDER", "GoogleAds"]

NAME = "google_ads"
DEFAULT_BASE_URL = "https://oauth2.googleapis.com"
TESTING_APP_LIFETIME = timedelta(days=7)

REAUTH_HINT = (
    "Google revoked the refresh token (user revoked access, 6 months unused, more than 100 live "
    "tokens for this client, an admin policy, or the OAuth app is in Testing status, where refresh "
    "tokens die after 7 days). The user must authorize again; publish the OAuth app to Production "
    "to avoid the 7-day limit."
)


class GoogleAds(PlatformClient):
    name = NAME
    endpoints = Endpoints(DEFAULT_BASE_URL, grant="/token", check="/tokeninfo")
    hints: ClassVar[Mapping[ErrorClass, str]] = {ErrorClass.REAUTH_REQUIRED: REAUTH_HINT}

    def after_grant(
        self, result: RefreshResult, doc: TokenDocument, ctx: ProviderContext
    ) -> RefreshResult:
        if result.refresh_token_expires_at is not None:
            return result  # Google's own figure (time-based access) beats any assumption
        if doc.bool_option("testing_app"):
            # Apps in "Testing" status: refresh tokens die 7 days after the user authorized.
            # A new refresh token restarts the clock; without a known date, assume "now".
            rotated = result.refresh_token != doc.refresh_token
            if rotated or doc.refresh_token_expires_at is None:
                return replace(result, refresh_token_expires_at=ctx.now() + TESTING_APP_LIFETIME)
        return result

    def check(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        resp = self.tokeninfo(doc, ctx)
        if resp.status == 400:
            return ValidationResult(valid=False, detail="tokeninfo rejected the access token")
        if resp.status != 200:
            raise oauth_error(resp, NAME)
        body = json_object(resp, NAME)
        scopes = tuple(str(body.get("scope", "")).split())
        expires_in = body.get("expires_in")
        expires_at = (
            countdown_at(expires_in, ctx.now(), provider=NAME, field_name="tokeninfo expires_in")
            if expires_in is not None
            else None
        )
        return ValidationResult(valid=True, expires_at=expires_at, scopes=scopes)


PROVIDER = GoogleAds()

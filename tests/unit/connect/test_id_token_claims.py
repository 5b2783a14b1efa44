"""The id_token names the consenting account only when it was issued to this app (``aud``) by the
platform (``iss``); a binding refusal of the flow alerts once (token.config_invalid)."""

from __future__ import annotations

import json
import logging
import re
import time
from typing import Any

import pytest

from tests.support.fake_providers import FakeProviders
from tests.unit.connect.browser import World, signed_link
from token_refresher.connect.idtoken import require_issuer_origin
from token_refresher.errors import ProviderError

pytestmark = pytest.mark.unit

OTHER_TENANT = "11111111-0000-4000-8000-000000000002"


def _refused_nothing_written(world: World, name: str, visit_status: int, before: str) -> None:
    assert visit_status == 400
    assert world.store.current_value(name) == before
    assert world.notifier.events() == []


@pytest.mark.parametrize(
    ("provider", "claims"),
    [
        ("google_ads", {"aud": "another-app.apps.googleusercontent.com"}),
        ("microsoft_ads", {"aud": ["another-app"]}),
        ("oauth2", {"aud": "another-client"}),
        ("google_ads", {"iss": "https://accounts.example.com"}),
        ("microsoft_ads", {"iss": f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0"}),
        ("oauth2", {"iss": "https://other-issuer.example.com"}),
    ],
)
def test_an_id_token_for_another_app_or_issuer_is_refused(
    world: World, fake_providers: FakeProviders, provider: str, claims: dict[str, Any]
) -> None:
    # Given a connection (oauth2 with an issuer option) and a platform whose id_token names
    # another client (aud) or another issuer (iss)
    name = world.connection(provider)
    before = world.store.current_value(name) or ""
    fake_providers.consent.override_id_token(provider, **claims)
    # When the owner consents
    visit = world.connect(world.link(name, provider))
    # Then the configuration error page shows, nothing is written and no alert is sent
    assert "Connected" not in visit.text
    _refused_nothing_written(world, name, visit.page.status, before)


NOW = int(time.time())


@pytest.mark.parametrize("provider", ["google_ads", "microsoft_ads", "oauth2"])
@pytest.mark.parametrize(
    ("header", "claims"),
    [
        pytest.param(None, {"exp": NOW - 3600, "iat": NOW - 7200}, id="expired"),
        pytest.param(None, {"exp": None}, id="no-exp"),
        pytest.param(None, {"iat": NOW + 3600}, id="issued-in-the-future"),
        pytest.param(None, {"iat": NOW - 86400}, id="issued-a-day-ago"),
        pytest.param(None, {"aud": ["{client}", "another-audience"]}, id="audiences-without-azp"),
        pytest.param(None, {"azp": "another-client"}, id="wrong-azp"),
        pytest.param(
            None, {"aud": ["{client}", "another"], "azp": "another"}, id="audiences-wrong-azp"
        ),
        pytest.param({"alg": "none"}, {}, id="alg-none"),
        pytest.param({"alg": "None"}, {}, id="alg-None"),
    ],
)
def test_an_id_token_failing_openid_connect_core_3_1_3_7_is_refused(
    world: World,
    fake_providers: FakeProviders,
    provider: str,
    header: dict[str, Any] | None,
    claims: dict[str, Any],
) -> None:
    # Given a platform whose id_token is expired, stale, names several audiences without azp,
    # another azp, or is unsigned (alg none): OpenID Connect Core 1.0 §2 and §3.1.3.7
    name = world.connection(provider)
    before = world.store.current_value(name) or ""
    client = f"{provider}-client"
    laid = {
        k: [client if a == "{client}" else a for a in v] if isinstance(v, list) else v
        for k, v in claims.items()
    }
    fake_providers.consent.override_id_token(provider, header, **laid)
    # When the owner consents
    visit = world.connect(world.link(name, provider))
    # Then the configuration error page shows, nothing is written and no alert is sent
    assert "Connected" not in visit.text
    _refused_nothing_written(world, name, visit.page.status, before)


@pytest.mark.parametrize(
    ("provider", "header", "claims"),
    [
        ("google_ads", None, {"iss": "accounts.google.com"}),  # Google's legacy issuer form
        ("google_ads", None, {"aud": ["google_ads-client", "other"], "azp": "google_ads-client"}),
        ("google_ads", None, {"azp": "google_ads-client"}),  # Google sends azp = aud
        ("microsoft_ads", {"alg": "HS256"}, {}),  # the signature itself is not checked (TLS)
        ("oauth2", None, {"exp": NOW - 60}),  # within the clock skew
    ],
)
def test_an_id_token_for_this_app_is_accepted(
    world: World,
    fake_providers: FakeProviders,
    provider: str,
    header: dict[str, Any] | None,
    claims: dict[str, Any],
) -> None:
    # Given a platform issuing an id_token in an accepted form
    name = world.connection(provider)
    fake_providers.consent.override_id_token(provider, header, **claims)
    # When the owner consents, then the grant is stored
    visit = world.connect(world.link(name, provider))
    assert visit.page.status == 200, visit.text
    assert world.store.current_doc(name).access_token != "old-access-token-0000"


def test_oauth2_issuer_option_matching_is_accepted(world: World) -> None:
    # Given an oauth2 connection whose issuer option is the platform's iss, on the token URL's host
    options = world.options("oauth2") | {"issuer": world.fake.url("oauth2")}
    name = world.connection("oauth2", options=options)
    # When the owner consents, then the grant is stored
    assert world.connect(world.link(name, "oauth2")).page.status == 200


def _failure_detail(caplog: pytest.LogCaptureFixture) -> str:
    [failed] = [r for r in caplog.records if r.getMessage() == "connect failed"]
    return str(getattr(failed, "detail", ""))


def test_an_oauth2_issuer_on_another_host_than_the_token_url_is_refused(
    world: World, fake_providers: FakeProviders, caplog: pytest.LogCaptureFixture
) -> None:
    # Given an oauth2 connection whose issuer is not where the token endpoint is: TLS to the
    # token endpoint then vouches for nothing about that issuer's id_tokens
    issuer = "https://other-issuer.example.com"
    name = world.connection("oauth2", options=world.options("oauth2") | {"issuer": issuer})
    before = world.store.current_value(name) or ""
    # When its link is opened
    with caplog.at_level(logging.ERROR):
        visit = world.open(world.link(name, "oauth2"))
    # Then the configuration error page shows before any consent (no code is spent on an
    # id_token that would be refused), its log line names the mismatch, and nothing is written
    assert visit.page.status == 400, visit.text
    assert 'class="btn"' not in visit.page.html
    assert "token_url is not on options.issuer's host" in _failure_detail(caplog)
    assert fake_providers.requests("oauth2") == []
    assert world.store.current_value(name) == before


@pytest.mark.parametrize(
    ("issuer", "token_url", "refused"),
    [
        ("https://auth.example.com", "https://auth.example.com/oauth/token", False),
        ("https://auth.example.com/realms/a", "https://AUTH.example.com:443/t", False),
        ("https://auth.example.com", "https://auth.example.com.evil.com/token", True),
        ("https://auth.example.com", "http://auth.example.com/token", True),
        ("https://auth.example.com", "https://auth.example.com:8443/token", True),
    ],
)
def test_the_callbacks_issuer_check_compares_origins(
    issuer: str, token_url: str, refused: bool
) -> None:
    # Given an issuer and a token URL / When the callback's check runs / Then only another
    # scheme, host or port is refused (the path may differ: Keycloak realms, /oauth/token)
    if refused:
        with pytest.raises(ProviderError, match=re.escape("token_url is not on options.issuer")):
            require_issuer_origin(issuer, token_url, "oauth2")
    else:
        require_issuer_origin(issuer, token_url, "oauth2")


CONSENTING_TENANT = "72f988bf-0000-4000-8000-000000000001"  # the fake's signed-in account's tid


@pytest.mark.parametrize("tenant", [CONSENTING_TENANT, "common", "organizations", "contoso.com"])
def test_a_microsoft_id_token_of_the_configured_tenant_is_accepted(
    world: World, tenant: str
) -> None:
    # Given a connection for the consenting account's tenant, any tenant, any work tenant, or a
    # tenant named by its domain (whose token endpoint serves that tenant only)
    name = world.connection("microsoft_ads", options={"tenant": tenant})
    # When the owner consents / Then the grant is stored
    visit = world.connect(world.link(name, "microsoft_ads"))
    assert visit.page.status == 200, visit.text


@pytest.mark.parametrize("tenant", [OTHER_TENANT, "consumers"])
def test_a_microsoft_id_token_of_another_tenant_is_refused(
    world: World, caplog: pytest.LogCaptureFixture, tenant: str
) -> None:
    # Given a connection configured for another tenant (or personal accounts only), and an
    # id_token whose iss and tid agree with each other but name the work tenant that signed in
    name = world.connection("microsoft_ads", options={"tenant": tenant})
    before = world.store.current_value(name) or ""
    # When the owner consents
    with caplog.at_level(logging.ERROR):
        visit = world.connect(world.link(name, "microsoft_ads"))
    # Then the configuration error page shows, its log line names the tenant; nothing is written
    assert f"its tenant is not options.tenant ({tenant})" in _failure_detail(caplog)
    _refused_nothing_written(world, name, visit.page.status, before)


def _assert_one_config_alert(world: World, name: str, url: str) -> None:
    assert world.notifier.events() == ["token.config_invalid"]
    [alert] = world.notifier.alerts
    assert alert.secret_id == name
    body = json.dumps(alert.to_dict())
    assert signed_link(url) not in body
    assert "old-access-token-0000" not in body
    assert "old-refresh-token-0000" not in body
    assert alert.reconnect_url is None


def test_a_binding_refusal_at_the_landing_page_alerts_once(world: World) -> None:
    # Given a Google Ads connection naming the Meta app's credentials
    name = world.connection("google_ads", app_secret_id=world.app_secret("meta"))
    url = world.link(name, "google_ads")
    # When the owner opens its link
    visit = world.open(url)
    # Then the config error page shows and one token.config_invalid alert names the connection
    assert visit.page.status == 400
    _assert_one_config_alert(world, name, url)


def test_a_binding_refusal_at_the_callback_alerts_once_and_writes_nothing(
    world: World, fake_providers: FakeProviders
) -> None:
    # Given a link opened and consented while the app credentials were Google's
    name = world.connection("google_ads")
    url = world.link(name, "google_ads")
    before = world.store.current_value(name)
    landing = world.open(url)
    back = world.decide(world.consent_href(landing))
    # When the connection is switched to the Meta app's credentials before the callback runs
    doc = json.loads(before or "{}") | {"app_secret_id": world.app_secret("meta")}
    world.store.create(name, json.dumps(doc), tags=world.store.tags_of(name))
    before = world.store.current_value(name)
    visit = world.open(back, landing.cookie)
    # Then the config error page shows, nothing is written, and one alert names the connection
    assert visit.page.status == 400
    assert world.store.current_value(name) == before
    _assert_one_config_alert(world, name, url)
    assert not [r for r in fake_providers.requests("google_ads") if r.method == "POST"]

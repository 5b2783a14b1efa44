"""The connect handler in-process against LocalStack and the fake platforms: Function URL events
in, pages out; the rotation handler's alert carries a link that the connect handler accepts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.integration.conftest import INSTANCE, Aws, rotation_event, start_rotation
from tests.support import stack
from tests.support.fake_providers import FakeProviders
from tests.support.handlers import LambdaContext, load_handler
from token_refresher.errors import ErrorClass, ProviderError

pytestmark = pytest.mark.integration

CONNECT_URL = "https://abcdefghij.lambda-url.us-east-1.on.aws/"


@pytest.fixture
def key_secret(aws: Aws, handler_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"tr-int/connect-signing-key-{uuid.uuid4().hex[:8]}"
    value = json.dumps({"key": uuid.uuid4().hex * 2, "url": CONNECT_URL, "instance": INSTANCE})
    arn = aws.sm.create_secret(Name=name, SecretString=value)["ARN"]
    monkeypatch.setenv("CONNECT_KEY_SECRET_ID", name)
    yield name
    aws.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def url_event(url: str, cookie: str = "") -> dict[str, Any]:
    """The shipped Function URL sample event (events/), aimed at ``url`` with ``cookie``."""
    parts = urlsplit(url)
    event = json.loads(
        (stack.REPO_ROOT / "events" / "connect-function-url-callback.json").read_text()
    )
    path = parts.path or "/"
    event.pop("cookies")
    event["headers"] |= {"host": parts.netloc} | ({"cookie": cookie} if cookie else {})
    event["requestContext"]["http"]["path"] = path
    return event | {
        "rawPath": path,
        "rawQueryString": parts.query,
        "queryStringParameters": dict(parse_qsl(parts.query)),
    }


def test_a_reauth_alert_carries_a_link_the_connect_handler_completes(
    aws: Aws,
    key_secret: str,
    fake_providers: FakeProviders,
    secret_factory,
    app_secret,
    alert_inbox: stack.AlertInbox,
    noop_rotation_function: str,
) -> None:
    # Given a Google connection whose grant was revoked, rotated by the rotation handler
    app = app_secret("google", "g-int-client", "g-int-secret-0001", provider="google_ads")
    arn = secret_factory(
        {
            "schema": 1,
            "provider": "google_ads",
            "access_token": "ya29.int-old",
            "refresh_token": "1//0g-int-revoked",
            "app_secret_id": app,
        },
        **{"token-refresher:managed": "true", "token-refresher:provider": "google_ads"},
    )
    rotation = load_handler("rotation")
    version_id = start_rotation(aws, arn, noop_rotation_function)
    with pytest.raises(ProviderError, match="invalid_grant") as failed:
        rotation.lambda_handler(rotation_event("createSecret", arn, version_id), LambdaContext())
    assert failed.value.error_class is ErrorClass.REAUTH_REQUIRED
    [envelope] = alert_inbox.settled()  # published before the handler returned
    link = envelope["alert"]["reconnect_url"]
    assert link.startswith(CONNECT_URL + "?l=")
    # (the failed rotation left its empty version at AWSPENDING: the consent supersedes it)
    # When the connect handler serves the link, the fake consent is given, and the callback arrives
    connect = load_handler("connect")
    landing = connect.lambda_handler(url_event(link), LambdaContext())
    assert landing["statusCode"] == 200
    assert landing["headers"]["Cache-Control"] == "no-store"
    cookie = landing["headers"]["Set-Cookie"].split(";")[0]
    href = unescape(re.search(r'class="btn" href="([^"]+)"', landing["body"]).group(1))
    page = requests.get(href, timeout=10).text
    allow = unescape(re.search(r"id='allow' href='([^']+)'", page).group(1))
    back = requests.get(fake_providers.base_url + allow, allow_redirects=False, timeout=10)
    done = connect.lambda_handler(url_event(back.headers["Location"], cookie), LambdaContext())
    # Then the new grant is AWSCURRENT, the state is ok, and token.recovered is published
    assert done["statusCode"] == 200, done["body"]
    doc = stack.current_document(aws.sm, arn)
    assert fake_providers.is_valid(doc["refresh_token"], "refresh")
    assert stack.tags_of(aws.sm, arn)["token-refresher:status"] == "ok"
    events = [e["alert"]["event"] for e in alert_inbox.settled()]
    assert events == ["token.reauth_required", "token.recovered"]
    # And the same callback again is refused without writing
    versions = aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
    again = connect.lambda_handler(url_event(back.headers["Location"], cookie), LambdaContext())
    assert again["statusCode"] == 410
    assert aws.sm.describe_secret(SecretId=arn)["VersionIdsToStages"] == versions

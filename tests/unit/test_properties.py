"""Property tests: bad secret documents and bad events never crash, never write, and always come
back as config-class errors that name the field (1,000 generated examples each)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.fakes import TEST_INSTANCE, NetworkReached, NoNetwork
from tests.unit.conftest import APP_SECRET_ID, Harness
from token_refresher.credentials.binding import BindingError
from token_refresher.errors import ConfigError, ErrorClass, TokenRefresherError
from token_refresher.events import RotationRequest, Step
from token_refresher.model import PROVIDER_NAMES
from token_refresher.providers.base import ProviderContext
from token_refresher.sweep.request import SweepRequest

pytestmark = pytest.mark.unit

EXAMPLES = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.sampled_from(
    ["2027-01-01T00:00:00Z", "2027-01-01T00:00:00+02:00", "2027-13-40T00:00:00Z", "soon", ""]
)
field_values = {
    "schema": st.sampled_from([1, 2, 0, "1", True, None]) | json_values,
    "provider": st.sampled_from(["fake", "nope", "", None]) | json_values,  # no real network
    "kind": st.none() | st.text(max_size=10) | json_values,
    "access_token": st.sampled_from(["tok-access-value-1", "", None]) | json_values,
    "refresh_token": st.sampled_from(["tok-refresh-value-1", None]) | json_values,
    "expires_at": timestamps | json_values,
    "refresh_token_expires_at": timestamps | json_values,
    "data_access_expires_at": timestamps | json_values,
    "last_refreshed_at": timestamps | json_values,
    "app_secret_id": st.sampled_from(["token-refresher/apps/fake-app", "missing", None])
    | json_values,
    "options": st.dictionaries(st.text(max_size=8), json_values, max_size=3) | json_values,
    "notices": st.lists(st.dictionaries(st.text(max_size=5), json_scalars, max_size=2), max_size=2)
    | json_values,
}
documents = st.fixed_dictionaries({}, optional={k: v for k, v in field_values.items()}).flatmap(
    lambda known: st.dictionaries(st.text(max_size=12), json_values, max_size=3).map(
        lambda extra: {**extra, **known}
    )
)


@EXAMPLES
@given(document=documents | json_values)
def test_any_secret_document_either_rotates_or_fails_as_config_without_writing(document: Any):
    # Given a managed secret holding an arbitrary document (or arbitrary JSON)
    harness = Harness()
    name = harness.add_secret("conn/prop", _raw=json.dumps(document))
    harness.store.start_rotation(name, "t")
    harness.store.calls.clear()
    # When createSecret runs
    try:
        result = harness.step(Step.CREATE, name, "t")
    except ConfigError as err:
        # Then a rejected document is a config error naming a field, and nothing was written
        assert err.error_class is ErrorClass.CONFIG
        assert err.field
        assert str(err).startswith(f"{err.field}: ")
        assert harness.store.writes() == []
        assert harness.provider.refresh_calls == 0
        assert [a.event.value for a in harness.notifier.alerts] == ["token.config_invalid"]
    else:
        # Or it was a valid document for a known provider, and the refresh went through
        assert result.outcome in ("done", "not_refreshed_recent")


rotation_events = st.fixed_dictionaries(
    {},
    optional={
        "Step": st.sampled_from(["createSecret", "finish_secret", "rotate", "", None])
        | json_values,
        "SecretId": st.sampled_from(["conn/prop", "", "arn:aws:nope"]) | json_values,
        "ClientRequestToken": st.sampled_from(["t", ""]) | json_values,
    },
)


@EXAMPLES
@given(event=rotation_events | json_values)
def test_any_rotation_event_is_parsed_or_refused_by_field(event: Any):
    harness = Harness()
    try:
        request = RotationRequest.from_event(event)
    except ConfigError as err:
        assert err.field in ("event", "Step", "SecretId", "ClientRequestToken")
        return
    # A well-formed event for a secret that does not exist touches nothing
    with pytest.raises(ConfigError) as info:
        harness.engine.run(request)
    assert info.value.field in ("SecretId",)
    assert harness.store.writes() == []


sweep_details = st.fixed_dictionaries(
    {},
    optional={
        "secret_ids": st.lists(st.text(max_size=12), max_size=3) | json_values,
        "provider": st.sampled_from(["meta", "google_ads", "myspace"]) | json_values,
        "all": st.booleans() | json_values,
        "force": st.booleans() | json_values,
        "dry_run": st.booleans() | json_values,
        "reason": st.text(max_size=20) | json_values,
        "instance": st.sampled_from([TEST_INSTANCE, "other", "bad name!"]) | json_values,
        "adopt_untagged": st.booleans() | json_values,
        "surprise": json_values,
    },
)
sweep_events = sweep_details | st.fixed_dictionaries(
    {
        "source": st.sampled_from(["token-refresher", "aws.events", "evil"]),
        "detail-type": st.sampled_from(["Token Rotation Requested", "Scheduled Event", "x"]),
        "detail": sweep_details | json_values,
    }
)


@EXAMPLES
@given(event=sweep_events | json_values)
def test_any_sweep_event_is_parsed_or_refused_by_field_and_never_rotates_unmanaged(event: Any):
    harness = Harness()
    harness.store.create("someone/else", "{}")  # an unmanaged secret a request might name
    sweeper = harness.sweep_engine()
    try:
        request = SweepRequest.from_event(event)
    except ConfigError as err:
        assert err.field is not None
        assert err.field in ("event", "detail", "source", "detail-type") or err.field.startswith(
            "detail."
        )
        assert harness.store.calls == []
        return
    if not request.scheduled and request.instance != TEST_INSTANCE:
        # A request for another instance is refused as a whole, before anything is read
        with pytest.raises(ConfigError) as info:
            sweeper.run(request)
        assert info.value.field == "detail.instance"
        assert harness.store.calls == []
        return
    report = sweeper.run(request)
    # Valid requests over a store with no managed secrets start nothing and write nothing
    assert report.started == []
    assert harness.store.writes() == []
    assert not any(op in ("rotate", "tag") for op, _ in harness.store.calls)


provider_options = st.sampled_from(
    [
        {},
        {"token_url": "https://auth.example.com/token"},
        {"tenant": "common", "scope": "openid"},
        {"grant_type": "client_credentials", "token_url": "https://auth.example.com/token"},
        {"grant_type": "refresh_token", "token_url": "https://auth.example.com/token"},
        {"business_id": "1234567890", "system_user_id": "6100000000001"},
        {"advertiser_ids": ["7000000000001"]},
    ]
) | st.dictionaries(st.text(max_size=8), json_values, max_size=3)


DECLARED_APP = "token-refresher/apps/declared"


def provider_documents(provider: str) -> st.SearchStrategy[dict[str, Any]]:
    """Near-valid documents for one provider: a valid one with up to three fields dropped or
    replaced by any JSON value, so that each provider's own guards are reached."""
    valid: dict[str, st.SearchStrategy[Any]] = {
        "schema": st.just(1),
        "provider": st.just(provider),
        "kind": st.sampled_from(["long_lived", "system_user", "account", "advertiser"]),
        "access_token": st.just("tok-access-value-1"),
        "refresh_token": st.just("tok-refresh-value-1"),
        "expires_at": timestamps,
        "app_secret_id": st.sampled_from([APP_SECRET_ID, DECLARED_APP]),
        "options": provider_options,
    }
    keys = sorted(valid)
    return st.tuples(
        st.fixed_dictionaries(valid),
        st.sets(st.sampled_from(keys), max_size=3),
        st.dictionaries(
            st.sampled_from(keys), st.one_of(*field_values.values()) | json_values, max_size=2
        ),
    ).map(lambda drawn: {k: v for k, v in drawn[0].items() if k not in drawn[1]} | drawn[2])


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_every_provider_rejects_a_bad_document_as_config_naming_its_field(provider: str):
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(document=provider_documents(provider))
    def rotate(document: dict[str, Any]) -> None:
        # Given a managed secret of this provider holding a generated document, and no network
        harness = Harness()
        harness.store.create(
            DECLARED_APP,
            {
                "client_id": "declared-client-id",
                "client_secret": "declared-client-secret-value",
                "provider": provider,
                "allowed_url_prefixes": ["https://auth.example.com/"],
            },
        )
        harness.engine.ctx = ProviderContext(http=NoNetwork(), clock=harness.clock)  # type: ignore[arg-type]
        name = harness.add_secret("conn/prop", _raw=json.dumps(document))
        harness.store.start_rotation(name, "t")
        harness.store.calls.clear()
        # When createSecret runs
        try:
            harness.step(Step.CREATE, name, "t")
        except NetworkReached:
            pass  # Or the provider accepted the document and was about to call its platform
        except TokenRefresherError as err:
            if err.error_class is not ErrorClass.CONFIG:
                return  # Or the provider judged a well-formed document (LinkedIn: no refresh
                # token is a consent to renew, reauth_required)
            # Then a rejected document is a config error naming a field, and nothing was written
            assert isinstance(err, ConfigError), repr(err)
            assert err.field, repr(err)
            # (a binding refusal names both secrets in its message instead of the field)
            # (the redactor masks a drawn token that happens to spell part of the field's name)
            masked = any(
                isinstance(document.get(k), str) and document[k] and document[k] in err.field
                for k in ("access_token", "refresh_token")
            )
            assert isinstance(err, BindingError) or masked or str(err).startswith(f"{err.field}: ")
            assert harness.store.writes() == []

    base = {
        "schema": 1,
        "provider": provider,
        "access_token": "tok-access-value-1",
        "refresh_token": "tok-refresh-value-1",
        "expires_at": "2027-01-01T00:00:00Z",
        "app_secret_id": DECLARED_APP,
        "options": {"token_url": "https://auth.example.com/token"},
    }
    for dropped in base:  # every one-field-missing document, whatever the draw
        rotate = example(document={k: v for k, v in base.items() if k != dropped})(rotate)
    rotate()

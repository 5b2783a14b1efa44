"""The four rotation steps against the in-memory secret store and a scripted provider."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.fakes import client_error
from tests.unit.conftest import APP_CLIENT_SECRET, INITIAL_ACCESS, INITIAL_REFRESH, Harness
from token_refresher.adapters.errors import StoreThrottled
from token_refresher.adapters.secrets import AWSCURRENT, AWSPENDING
from token_refresher.errors import (
    ConfigError,
    ErrorClass,
    ProviderError,
    SecretFormatError,
)
from token_refresher.events import RotationRequest, Step
from token_refresher.providers.base import Notice, NoticeKind, RefreshResult, ValidationResult
from token_refresher.rotation.pending_write import PendingWriteLost
from token_refresher.state import AlertPolicy

pytestmark = pytest.mark.unit


def reauth_error() -> ProviderError:
    return ProviderError(
        ErrorClass.REAUTH_REQUIRED,
        "invalid_grant: Token has been expired or revoked.",
        provider="fake",
        provider_code="invalid_grant",
        remediation="The user must authorize again.",
    )


def transient_error() -> ProviderError:
    return ProviderError(ErrorClass.TRANSIENT, "provider answered HTTP 503", provider="fake")


class TestHappyPath:
    def test_full_rotation_promotes_new_token_and_keeps_unknown_fields(self, harness: Harness):
        # Given a managed token secret
        name = harness.add_secret()
        # When Secrets Manager runs the four steps
        harness.rotate(name, "version-1")
        # Then AWSCURRENT holds the refreshed token, the rotated refresh token and the user's field
        doc = harness.store.current_doc(name)
        assert doc.access_token == "fake-access-token-0001-xyz"
        assert doc.refresh_token == "fake-refresh-token-0001-xyz"
        assert doc.expires_at == harness.clock.now + timedelta(hours=1)
        assert doc.last_refreshed_at == harness.clock.now
        assert doc.extras == {"owner_team": "growth"}
        assert AWSCURRENT in harness.store.version_stages(name)["version-1"]
        # And the provider was called once to refresh and once to validate
        assert (harness.provider.refresh_calls, harness.provider.validate_calls) == (1, 1)
        # And the tags describe the new state
        tags = harness.store.tags_of(name)
        assert tags["token-refresher:status"] == "ok"
        assert tags["token-refresher:expires-at"] == str(
            int((harness.clock.now + timedelta(hours=1)).timestamp())
        )
        assert tags["token-refresher:provider"] == "fake"
        assert tags["token-refresher:last-rotated-at"] == str(int(harness.clock.now.timestamp()))
        # And nobody was alerted
        assert harness.notifier.alerts == []

    def test_old_refresh_token_kept_when_provider_returns_none(self, harness: Harness):
        # Given a provider that does not rotate refresh tokens
        harness.provider.rotate_refresh_token = False
        name = harness.add_secret()
        # When the secret is rotated
        harness.rotate(name, "version-1")
        # Then the stored refresh token is the original one
        assert harness.store.current_doc(name).refresh_token == INITIAL_REFRESH

    @pytest.mark.parametrize(
        "steps", [("create_secret", "set_secret", "test_secret", "finish_secret")]
    )
    def test_snake_case_step_names_are_accepted(self, harness: Harness, steps):
        # Given a secret, when the steps arrive spelt the other way
        name = harness.add_secret()
        harness.rotate(name, "version-1", steps)
        # Then the rotation completes
        assert harness.store.current_doc(name).access_token == "fake-access-token-0001-xyz"

    def test_steps_on_an_already_current_version_do_nothing(self, harness: Harness):
        # Given a completed rotation
        name = harness.add_secret()
        harness.rotate(name, "version-1")
        # When Secrets Manager retries createSecret and finishSecret for that token
        created = harness.step(Step.CREATE, name, "version-1")
        finished = harness.step(Step.FINISH, name, "version-1")
        # Then both are skipped and the provider is not called again
        assert (created.outcome, finished.outcome) == ("skipped", "skipped")
        assert harness.provider.refresh_calls == 1


class TestIdempotency:
    def test_create_twice_calls_provider_once(self, harness: Harness):
        # Given a rotation whose createSecret already ran
        name = harness.add_secret()
        harness.store.start_rotation(name, "version-1")
        harness.step(Step.CREATE, name, "version-1")
        # When Secrets Manager retries createSecret with the same token
        result = harness.step(Step.CREATE, name, "version-1")
        # Then the pending value is reused and the provider is not called again
        assert result.outcome == "reused"
        assert harness.provider.refresh_calls == 1
        assert [c for c in harness.store.calls if c[0] == "put_pending"] == [("put_pending", name)]

    def test_pending_written_before_a_crash_is_finished_without_provider(self, harness: Harness):
        # Given createSecret wrote AWSPENDING, then the process died before testSecret
        name = harness.add_secret()
        harness.store.start_rotation(name, "version-1")
        harness.step(Step.CREATE, name, "version-1")
        pending_refresh = harness.store.current_doc(name).refresh_token
        assert pending_refresh == INITIAL_REFRESH  # not promoted yet
        # When Secrets Manager retries the rotation with the same token
        harness.rotate(name, "version-1", start=False)
        # Then it completes with the refresh token the provider issued the first time
        assert harness.store.current_doc(name).refresh_token == "fake-refresh-token-0001-xyz"
        assert harness.provider.refresh_calls == 1

    def test_stuck_pending_from_an_earlier_token_is_adopted(self, harness: Harness):
        # Given an earlier rotation wrote a refreshed value at AWSPENDING and then failed
        name = harness.add_secret()
        harness.store.start_rotation(name, "token-old")
        harness.step(Step.CREATE, name, "token-old")
        # When a new rotation with another token starts (the store moves the empty label there,
        # while the old version keeps its value)
        harness.store.stage_version(name, "token-old", AWSPENDING)
        harness.store.stage_version(name, "token-new", AWSPENDING)
        harness.step(Step.CREATE, name, "token-new")
        harness.store.unstage_version(name, "token-old", AWSPENDING)
        harness.step(Step.TEST, name, "token-new")
        harness.step(Step.FINISH, name, "token-new")
        # Then the refreshed value is promoted and the provider was not called a second time
        assert harness.store.current_doc(name).refresh_token == "fake-refresh-token-0001-xyz"
        assert harness.provider.refresh_calls == 1


class TestPreconditions:
    def test_rotation_not_marked_enabled_still_rotates(self, harness: Harness):
        # Given a secret Secrets Manager reports as not enabled (LocalStack after a bare
        # RotateSecret), when Secrets Manager calls the steps anyway
        name = harness.add_secret()
        harness.store.set_rotation_enabled(name, False)
        harness.rotate(name, "t")
        # Then the rotation completes
        assert harness.store.current_doc(name).access_token == "fake-access-token-0001-xyz"

    @pytest.mark.parametrize("step", list(Step))
    def test_unknown_version_is_refused_quietly(self, harness: Harness, step: Step):
        # Given a managed secret, and its tags before anything runs
        name = harness.add_secret()
        tags_before = dict(harness.store.tags_of(name))
        # When a step is run by hand with a version id the secret does not have
        # (the placeholder of the shipped events/rotation-*.json files)
        result = harness.step(step, name, "00000000-0000-4000-8000-000000000001")
        # Then it is refused with the way to find the pending version id
        assert result.outcome == "refused"
        assert result.reason is not None
        assert "has no version 00000000-0000-4000-8000-000000000001 to rotate" in result.reason
        assert f"describe-secret --secret-id {name} --query VersionIdsToStages" in result.reason
        # And nothing was touched: no provider call, no write, no state tag, no alert
        assert (harness.provider.refresh_calls, harness.provider.validate_calls) == (0, 0)
        assert [
            c for c in harness.store.calls if c[0] in ("put_pending", "tag", "move_stage")
        ] == []
        assert harness.store.tags_of(name) == tags_before
        assert harness.notifier.alerts == []

    def test_version_not_pending_is_refused_quietly(self, harness: Harness):
        # Given a version that exists but is not AWSPENDING (e.g. AWSPREVIOUS)
        name = harness.add_secret()
        harness.rotate(name, "version-1")
        previous = next(
            v for v, s in harness.store.version_stages(name).items() if "AWSPREVIOUS" in s
        )
        tags_before = dict(harness.store.tags_of(name))
        # When createSecret is run by hand for it
        result = harness.step(Step.CREATE, name, previous)
        # Then it is refused, and the state and the alerts are untouched
        assert result.outcome == "refused"
        assert "not staged AWSPENDING" in (result.reason or "")
        assert harness.store.tags_of(name) == tags_before
        assert harness.notifier.alerts == []
        assert harness.provider.refresh_calls == 1  # the earlier rotation only

    def test_failing_connection_stays_failing_after_a_refused_step(self, harness: Harness):
        # Given a connection already marked failing
        name = harness.add_secret()
        harness.store.tag(name, {"token-refresher:status": "failing"})
        # When a step with a wrong id is run by hand
        harness.step(Step.TEST, name, "wrong-id")
        # Then its status and failure count are unchanged and nobody is reminded
        tags = harness.store.tags_of(name)
        assert tags["token-refresher:status"] == "failing"
        assert "token-refresher:consecutive-failures" not in tags
        assert harness.notifier.alerts == []

    def test_missing_secret_is_a_config_error(self, harness: Harness):
        with pytest.raises(ConfigError, match="SecretId: secret not found"):
            harness.step(Step.CREATE, "conn/missing", "t")
        assert harness.notifier.alerts == []

    @pytest.mark.parametrize(
        ("event", "field"),
        [
            ({"SecretId": "s", "ClientRequestToken": "t"}, "Step"),
            ({"Step": "rotate", "SecretId": "s", "ClientRequestToken": "t"}, "Step"),
            ({"Step": "createSecret", "ClientRequestToken": "t"}, "SecretId"),
            (
                {"Step": "createSecret", "SecretId": "s", "ClientRequestToken": 5},
                "ClientRequestToken",
            ),
            (["not", "an", "object"], "event"),
        ],
    )
    def test_bad_events_name_the_field(self, event, field):
        with pytest.raises(ConfigError) as info:
            RotationRequest.from_event(event)
        assert info.value.field == field
        assert info.value.error_class is ErrorClass.CONFIG


class TestFailures:
    def test_reauth_required_alerts_once_keeps_current_and_reraises(self, harness: Harness):
        # Given a provider that revoked the refresh token
        harness.provider.refresh_with = reauth_error()
        name = harness.add_secret()
        harness.store.start_rotation(name, "version-1")
        # When createSecret runs, then the error reaches Secrets Manager
        with pytest.raises(ProviderError, match="invalid_grant"):
            harness.step(Step.CREATE, name, "version-1")
        # And AWSCURRENT is untouched and nothing was written at AWSPENDING
        assert harness.store.current_doc(name).access_token == INITIAL_ACCESS
        assert harness.store.get_value(name, version_id="version-1") is None
        # And exactly one classified alert was published
        [alert] = harness.notifier.alerts
        assert alert.event.value == "token.reauth_required"
        assert alert.error_class == "reauth_required"
        assert alert.provider_code == "invalid_grant"
        assert alert.remediation == "The user must authorize again."
        assert alert.attributes() == {
            "event": "token.reauth_required",
            "provider": "fake",
            "severity": "critical",
        }
        assert harness.store.tags_of(name)["token-refresher:status"] == "reauth-required"
        # When it fails the same way again, then no second alert is sent (it is not a transition)
        harness.store.start_rotation(name, "version-2")
        with pytest.raises(ProviderError, match="invalid_grant"):
            harness.step(Step.CREATE, name, "version-2")
        assert len(harness.notifier.alerts) == 1

    def test_reauth_reminder_after_a_day(self, harness: Harness):
        # Given a secret that has been in reauth-required for over a day
        harness.provider.refresh_with = reauth_error()
        name = harness.add_secret()
        for n, advance in enumerate([timedelta(0), timedelta(hours=2), timedelta(hours=23)]):
            harness.clock.advance(advance)
            harness.store.start_rotation(name, f"t{n}")
            with pytest.raises(ProviderError, match="invalid_grant"):
                harness.step(Step.CREATE, name, f"t{n}")
        # Then the first failure alerted and the one 25 h later reminded; the 2 h one did not
        assert [(a.event.value, a.reminder) for a in harness.notifier.alerts] == [
            ("token.reauth_required", False),
            ("token.reauth_required", True),
        ]

    def test_transient_failures_alert_after_threshold_then_recover(self, harness: Harness):
        # Given a token far from expiry and a provider that keeps answering 503
        harness.with_policy(AlertPolicy(failure_threshold=3))
        name = harness.add_secret(expires_at="2026-12-29T12:00:00Z")
        harness.provider.refresh_with = transient_error()
        # When three rotations fail
        for n in range(3):
            harness.store.start_rotation(name, f"t{n}")
            with pytest.raises(ProviderError, match="HTTP 503"):
                harness.step(Step.CREATE, name, f"t{n}")
            if n < 2:
                assert harness.notifier.alerts == []  # blips stay quiet
        # Then exactly one refresh_failed alert carries the count
        [failed] = harness.notifier.alerts
        assert failed.event.value == "token.refresh_failed"
        assert failed.consecutive_failures == 3
        assert harness.store.tags_of(name)["token-refresher:status"] == "failing"
        # When the provider recovers and a rotation succeeds
        harness.provider.refresh_with = None
        harness.rotate(name, "t-ok")
        # Then token.recovered follows and the state is ok again
        assert harness.notifier.events() == ["token.refresh_failed", "token.recovered"]
        tags = harness.store.tags_of(name)
        assert (tags["token-refresher:status"], tags["token-refresher:consecutive-failures"]) == (
            "ok",
            "0",
        )

    def test_transient_failure_alerts_at_once_when_expiry_is_near(self, harness: Harness):
        # Given a token expiring in 20 minutes (less than two 15-minute sweeps away)
        name = harness.add_secret(expires_at="2026-11-29T12:20:00Z")
        harness.provider.refresh_with = transient_error()
        harness.store.start_rotation(name, "t")
        # When one transient failure happens
        with pytest.raises(ProviderError, match="HTTP 503"):
            harness.step(Step.CREATE, name, "t")
        # Then it is escalated at once
        assert harness.notifier.events() == ["token.refresh_failed"]

    def test_malformed_secret_alerts_config_invalid_and_writes_nothing(self, harness: Harness):
        # Given a secret whose expires_at is not a timestamp
        name = harness.add_secret(expires_at="next tuesday")
        harness.store.start_rotation(name, "t")
        # When createSecret runs
        with pytest.raises(SecretFormatError) as info:
            harness.step(Step.CREATE, name, "t")
        # Then the error names the field, nothing is written, the provider is not called
        assert info.value.field == "expires_at"
        assert harness.store.writes() == []
        assert harness.provider.refresh_calls == 0
        [alert] = harness.notifier.alerts
        assert alert.event.value == "token.config_invalid"
        assert "expires_at" in alert.message

    def test_missing_app_credentials_is_a_config_alert(self, harness: Harness):
        name = harness.add_secret(app_secret_id="token-refresher/apps/nope")
        harness.store.start_rotation(name, "t")
        with pytest.raises(ConfigError, match="not found or not readable"):
            harness.step(Step.CREATE, name, "t")
        assert harness.notifier.events() == ["token.config_invalid"]
        assert harness.provider.refresh_calls == 0

    def test_failed_validation_is_reauth_and_keeps_current(self, harness: Harness):
        # Given a provider whose new token fails its own check
        harness.provider.validate_with = ValidationResult(valid=False, detail="is_valid false")
        name = harness.add_secret()
        harness.store.start_rotation(name, "t")
        harness.step(Step.CREATE, name, "t")
        # When testSecret runs, then it fails and AWSCURRENT keeps the old token
        with pytest.raises(ProviderError, match="failed the provider's validation"):
            harness.step(Step.TEST, name, "t")
        assert harness.store.current_doc(name).access_token == INITIAL_ACCESS
        assert harness.notifier.events() == ["token.reauth_required"]

    def test_secrets_manager_error_is_reraised_and_classified_transient(self, harness: Harness):
        # Given PutSecretValue is throttled, a platform that keeps its refresh token, and an
        # invocation whose remaining time is unknown (so no retry beyond the client's own)
        harness.provider.rotate_refresh_token = False
        name = harness.add_secret(expires_at="2026-11-29T12:10:00Z")
        harness.store.fail_on["put_pending"] = [
            client_error("ThrottlingException", "PutSecretValue")
        ]
        harness.store.start_rotation(name, "t")
        # When createSecret runs, then the refreshed value is reported lost, caused by the store's
        # own throttling error
        with pytest.raises(PendingWriteLost, match="ThrottlingException") as raised:
            harness.step(Step.CREATE, name, "t")
        assert isinstance(raised.value.__cause__, StoreThrottled)
        assert raised.value.__cause__.code == "ThrottlingException"
        # And the alert (token close to expiry) says which AWS call failed
        [alert] = harness.notifier.alerts
        assert alert.error_class == "transient"
        assert "ThrottlingException" in alert.message

    def test_tagging_failure_does_not_mask_the_original_error(self, harness: Harness):
        harness.provider.refresh_with = reauth_error()
        name = harness.add_secret()
        harness.store.fail_on["tag"] = [client_error("ThrottlingException", "TagResource")]
        harness.store.start_rotation(name, "t")
        with pytest.raises(ProviderError, match="invalid_grant"):
            harness.step(Step.CREATE, name, "t")
        assert harness.notifier.events() == ["token.reauth_required"]


class TestNotices:
    def test_not_extended_expiry_warns_with_deadline(self, harness: Harness):
        # Given a provider that re-issues a token without extending its expiry
        deadline = harness.clock.now + timedelta(days=5)
        harness.provider.refresh_with = lambda doc: RefreshResult(
            access_token="same-expiry-token-zzzz",
            expires_at=deadline,
            notices=(Notice(NoticeKind.NOT_EXTENDED, "re-authorization needed", deadline),),
        )
        name = harness.add_secret(expires_at="2026-12-04T12:00:00Z")
        # When the rotation completes
        harness.rotate(name, "t")
        # Then a token.expiring alert names the deadline, and the tag records it
        [alert] = harness.notifier.alerts
        assert alert.event.value == "token.expiring"
        assert alert.expires_at == deadline
        assert harness.store.tags_of(name)["token-refresher:human-deadline"] == str(
            int(deadline.timestamp())
        )


class TestNoLeaks:
    def test_alerts_and_logs_carry_no_token_material(self, harness: Harness, capsys, alert_bodies):
        # Given a provider whose error text (wrongly) echoes the refresh token and app secret
        harness.provider.refresh_with = ProviderError(
            ErrorClass.REAUTH_REQUIRED,
            f"refresh_token {INITIAL_REFRESH} rejected for client {APP_CLIENT_SECRET}",
            provider="fake",
        )
        name = harness.add_secret()
        harness.store.start_rotation(name, "t")
        with pytest.raises(ProviderError) as info:
            harness.step(Step.CREATE, name, "t")
        # Then neither the alert, nor any log line, nor the re-raised exception contains them
        assert INITIAL_REFRESH not in str(info.value)
        assert APP_CLIENT_SECRET not in repr(info.value)
        captured = capsys.readouterr()
        haystack = "\n".join([*alert_bodies(), captured.out, captured.err])
        for secret in (INITIAL_REFRESH, INITIAL_ACCESS, APP_CLIENT_SECRET):
            assert secret not in haystack
        assert "***" in alert_bodies()[0]


class TestMinimumInterval:
    def test_second_rotation_within_ten_minutes_does_not_call_the_provider(self, harness):
        # Given a secret refreshed 4 minutes ago
        name = harness.add_secret()
        harness.rotate(name, "t1")
        harness.clock.advance(timedelta(minutes=4))
        # When another rotation runs (a race between triggers, or a second rotate-secret)
        harness.store.start_rotation(name, "t2")
        outcome = harness.step(Step.CREATE, name, "t2").outcome
        harness.rotate(name, "t2", start=False)
        # Then it completes with the current token and the provider was not called again
        assert outcome == "not_refreshed_recent"
        assert harness.provider.refresh_calls == 1
        assert harness.store.current_doc(name).access_token == "fake-access-token-0001-xyz"

    def test_forced_rotation_refreshes_within_the_interval(self, harness):
        # Given a secret refreshed 4 minutes ago and a forced manual request since
        name = harness.add_secret()
        harness.rotate(name, "t1")
        harness.clock.advance(timedelta(minutes=4))
        harness.store.set_tags(
            name, {"token-refresher:force-after": str(int(harness.clock.now.timestamp()))}
        )
        # When the rotation runs, then the provider is called
        harness.rotate(name, "t2")
        assert harness.provider.refresh_calls == 2
        assert harness.store.current_doc(name).access_token == "fake-access-token-0002-xyz"

    def test_after_ten_minutes_the_provider_is_called(self, harness):
        name = harness.add_secret()
        harness.rotate(name, "t1")
        harness.clock.advance(timedelta(minutes=10))
        harness.rotate(name, "t2")
        assert harness.provider.refresh_calls == 2


class TestNoticeAnnouncements:
    def _unextended(self, harness, deadline):
        harness.provider.refresh_with = lambda doc: RefreshResult(
            access_token="same-expiry-token-zzzz",
            expires_at=deadline,
            notices=(Notice(NoticeKind.NOT_EXTENDED, "not extended", deadline),),
        )

    def test_a_notice_is_announced_once_not_at_every_rotation(self, harness):
        # Given a provider that keeps refusing to extend the same deadline
        deadline = harness.clock.now + timedelta(days=5)
        self._unextended(harness, deadline)
        name = harness.add_secret(expires_at="2026-12-04T12:00:00Z")
        # When the secret is rotated on three days
        for n in range(3):
            harness.rotate(name, f"t{n}")
            harness.clock.advance(timedelta(days=1))
        # Then token.expiring was published once (the sweep's 30/7/1 warnings do the rest)
        assert harness.notifier.events() == ["token.expiring"]

    def test_api_version_ending_is_announced(self, harness):
        end = harness.clock.now + timedelta(days=60)
        harness.provider.refresh_with = lambda doc: RefreshResult(
            access_token="new-access-token-vvvv",
            expires_at=harness.clock.now + timedelta(days=60),
            notices=(Notice(NoticeKind.API_VERSION_ENDING, "v24.0 ends soon", end),),
        )
        name = harness.add_secret()
        harness.rotate(name, "t")
        [alert] = harness.notifier.alerts
        assert (alert.event.value, alert.expires_at) == ("token.expiring", end)
        assert "graph_version" in (alert.remediation or "")

"""The sweep: decisions from tags alone, manual requests, dry runs, deadline warnings."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.fakes import TEST_INSTANCE, client_error
from tests.unit.conftest import Harness
from token_refresher.errors import ConfigError
from token_refresher.events import RotationRequest
from token_refresher.state import RefreshAhead
from token_refresher.sweep.decision import decide
from token_refresher.sweep.engine import SweepEngine, SweepRequest

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
ROTATION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:rotation"


def epoch(harness: Harness, delta: timedelta) -> str:
    return str(int((harness.clock.now + delta).timestamp()))


@pytest.fixture
def sweeper(harness: Harness) -> SweepEngine:
    def run_steps(name: str, version_id: str) -> None:
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            event = {"Step": step, "SecretId": name, "ClientRequestToken": version_id}
            harness.engine.run(RotationRequest.from_event(event))

    harness.store.on_rotate = run_steps
    return harness.sweep_engine(rotation_lambda_arn=ROTATION_ARN, metrics=harness.metrics)


def managed(harness: Harness, name: str, **tags: str) -> str:
    harness.add_secret(name)
    harness.store.set_tags(
        name,
        {"token-refresher:provider": "fake"} | {f"token-refresher:{k}": v for k, v in tags.items()},
    )
    return name


class TestDecide:
    NOW_TAGS = RefreshAhead()

    @pytest.mark.parametrize(
        ("lifetime", "remaining", "due"),
        [
            (timedelta(hours=1), timedelta(minutes=41), False),
            (timedelta(hours=1), timedelta(minutes=40), True),  # two 15-min sweeps + a rotation
            (timedelta(days=1), timedelta(hours=6), True),  # 25 % of a day
            (timedelta(days=1), timedelta(hours=6, minutes=1), False),
            (timedelta(days=60), timedelta(days=8), False),
            (timedelta(days=60), timedelta(days=7), True),
            (timedelta(days=60), timedelta(seconds=-5), True),  # already expired
        ],
    )
    def test_refresh_ahead_windows(self, harness: Harness, lifetime, remaining, due):
        now = harness.clock.now
        tags = {
            "token-refresher:expires-at": str(int((now + remaining).timestamp())),
            "token-refresher:last-rotated-at": str(int((now + remaining - lifetime).timestamp())),
        }
        assert decide(tags, now, RefreshAhead(), last_rotated=None).due is due

    def test_never_expiring_tokens_are_validated_daily(self, harness: Harness):
        now = harness.clock.now
        tags = {"token-refresher:expires-at": "never"}
        recent = tags | {"token-refresher:last-rotated-at": str(int(now.timestamp()) - 3600)}
        old = tags | {"token-refresher:last-rotated-at": str(int(now.timestamp()) - 90000)}
        assert not decide(recent, now, RefreshAhead(), last_rotated=None).due
        assert decide(old, now, RefreshAhead(), last_rotated=None).due

    def test_unextendable_token_is_not_rotated_every_sweep(self, harness: Harness):
        # Given a Meta token whose expiry could not be extended (deadline == expiry, 5 days out)
        now = harness.clock.now
        exp = str(int((now + timedelta(days=5)).timestamp()))
        tags = {
            "token-refresher:expires-at": exp,
            "token-refresher:human-deadline": exp,
            "token-refresher:last-rotated-at": str(int(now.timestamp()) - 7200),
        }
        # Then it is only re-checked daily
        verdict = decide(tags, now, RefreshAhead(), last_rotated=None)
        assert not verdict.due
        assert "validated" in verdict.reason

    def test_secret_without_expiry_tag_is_due(self, harness: Harness):
        assert decide({}, harness.clock.now, RefreshAhead(), last_rotated=None).due


class TestScheduledSweep:
    def test_rotates_due_secrets_only_and_reads_no_values(self, harness, sweeper):
        # Given one secret 5 minutes from expiry and one far from it
        due = managed(harness, "conn/due", **{"expires-at": epoch(harness, timedelta(minutes=5))})
        fine = managed(harness, "conn/fine", **{"expires-at": epoch(harness, timedelta(days=30))})
        harness.store.calls.clear()
        harness.store.on_rotate = None  # observe the sweep alone
        # When the scheduled sweep runs
        report = sweeper.run(
            SweepRequest.from_event(json.loads((EVENTS / "sweep-scheduled.json").read_text()))
        )
        # Then only the due one is rotated, decided without reading any secret value
        assert [s.rsplit(":", 1)[-1] for s in report.started] == [f"{due}-AbCdEf"]
        assert (report.scanned, report.due) == (2, 1)
        assert not any(op == "get_value" for op, _ in harness.store.calls)
        assert ("rotate", harness.store.arn_of(fine)) not in harness.store.calls

    def test_recently_rotated_secret_is_not_rotated_again(self, harness, sweeper):
        # Given a secret close to expiry that was rotated 3 minutes ago
        name = managed(
            harness,
            "conn/recent",
            **{
                "expires-at": epoch(harness, timedelta(minutes=5)),
                "last-rotated-at": epoch(harness, -timedelta(minutes=3)),
            },
        )
        # When the scheduled sweep runs (and a manual one asks for it without force)
        report = sweeper.run(SweepRequest(scheduled=True))
        manual = sweeper.run(
            SweepRequest.from_event({"secret_ids": [name], "instance": TEST_INSTANCE})
        )
        # Then neither starts a rotation; the manual report says why, and nothing is an error
        assert (report.due, report.started, report.errors) == (0, [], [])
        assert manual.started == []
        assert manual.skipped == [
            {
                "secret_id": harness.store.arn_of(name),
                "reason": "rotated less than 10 minutes ago (use force to override)",
            }
        ]
        assert manual.errors == []
        assert not any(op == "rotate" for op, _ in harness.store.calls)

    def test_rotation_in_progress_is_a_skip_not_a_failure(self, harness, sweeper):
        # Given a secret with a rotation already under way
        name = managed(harness, "conn/busy", **{"expires-at": epoch(harness, timedelta(minutes=1))})
        harness.store.start_rotation(name, "someone-elses-token")
        # When the sweep runs, then it skips it quietly
        report = sweeper.run(SweepRequest(scheduled=True))
        assert report.started == []
        assert report.errors == []
        assert harness.notifier.alerts == []

    def test_one_refused_rotate_does_not_stop_the_others(self, harness, sweeper):
        for n in range(3):
            managed(harness, f"conn/{n}", **{"expires-at": epoch(harness, timedelta(minutes=1))})
        harness.store.fail_on["rotate"] = [client_error("ThrottlingException", "RotateSecret")]
        report = sweeper.run(SweepRequest(scheduled=True))
        assert len(report.started) == 2
        assert [e["error"] for e in report.errors] == ["ThrottlingException"]

    def test_due_secret_is_rotated_end_to_end(self, harness, sweeper):
        name = managed(harness, "conn/e2e", **{"expires-at": epoch(harness, timedelta(minutes=5))})
        sweeper.run(SweepRequest(scheduled=True))
        assert harness.store.current_doc(name).access_token == "fake-access-token-0001-xyz"
        assert harness.provider.refresh_calls == 1

    def test_deadline_warnings_at_30_7_1_days_once_each(self, harness, sweeper):
        # Given a LinkedIn-like human deadline 29 days away
        name = managed(
            harness,
            "conn/deadline",
            **{
                "expires-at": epoch(harness, timedelta(days=40)),
                "human-deadline": epoch(harness, timedelta(days=29)),
            },
        )
        harness.store.on_rotate = None  # warnings come from tags; rotations are not under test here
        sent = []
        for advance in (timedelta(0), timedelta(days=1), timedelta(days=22), timedelta(days=6)):
            harness.clock.advance(advance)
            sent.append(sweeper.run(SweepRequest(scheduled=True)).warnings_sent)
        # Then one warning at 30 days, none the next day, one at 7 and one at 1 day
        assert sent == [1, 0, 1, 1]
        assert harness.notifier.events() == ["token.expiring"] * 3
        warned = harness.store.tags_of(name)["token-refresher:deadline-warned"]
        assert warned == f"1@{epoch(harness, timedelta(0))}"

    def test_a_renewed_deadline_gets_its_own_30_7_1_day_warnings(self, harness, sweeper):
        # Given a connection warned down to its 1-day warning
        name = managed(
            harness,
            "conn/renewed",
            **{
                "expires-at": epoch(harness, timedelta(days=400)),
                "human-deadline": epoch(harness, timedelta(hours=12)),
                "deadline-warned": "1",
            },
        )
        harness.store.on_rotate = None
        # When a human renews the grant (re-consent: a new deadline a year out) and time passes
        renewed = {"token-refresher:human-deadline": epoch(harness, timedelta(days=365))}
        harness.store.set_tags(name, renewed)
        sent = []
        for advance in (timedelta(days=335, hours=1), timedelta(days=23), timedelta(days=6)):
            harness.clock.advance(advance)
            sent.append(sweeper.run(SweepRequest(scheduled=True)).warnings_sent)
        # Then the new deadline gets its 30-, 7- and 1-day warnings too
        assert sent == [1, 1, 1]
        assert harness.notifier.events() == ["token.expiring"] * 3

    def test_a_deadline_counting_down_again_is_not_a_new_one(self, harness, sweeper):
        # Given a 7-day warning sent for a deadline that refreshes restate a few seconds apart
        deadline = harness.clock.now + timedelta(days=6)
        name = managed(
            harness,
            "conn/jitter",
            **{
                "expires-at": epoch(harness, timedelta(days=40)),
                "human-deadline": epoch(harness, timedelta(days=6)),
            },
        )
        harness.store.on_rotate = None
        assert sweeper.run(SweepRequest(scheduled=True)).warnings_sent == 1
        # When a refresh restates the same deadline 3 seconds later (countdown rounding)
        later = str(int(deadline.timestamp()) + 3)
        harness.store.set_tags(name, {"token-refresher:human-deadline": later})
        harness.clock.advance(timedelta(hours=1))
        # Then no second warning is sent
        assert sweeper.run(SweepRequest(scheduled=True)).warnings_sent == 0


class TestManualRequests:
    def test_forced_manual_rotation_from_the_events_file(self, harness, sweeper):
        # Given the documented event naming one secret, rotated 2 minutes ago
        name = "token-refresher/connections/meta-demo"
        managed(harness, name, **{"last-rotated-at": epoch(harness, -timedelta(minutes=2))})
        event = json.loads((EVENTS / "manual-rotate-one-forced.json").read_text())
        # When it reaches the sweep, then force overrides the 10-minute guard
        report = sweeper.run(SweepRequest.from_event(event))
        assert len(report.started) == 1
        assert harness.store.current_doc(name).access_token == "fake-access-token-0001-xyz"

    def test_unforced_manual_rotation_respects_the_guard(self, harness, sweeper):
        name = managed(
            harness, "conn/x", **{"last-rotated-at": epoch(harness, -timedelta(minutes=2))}
        )
        report = sweeper.run(
            SweepRequest.from_event({"secret_ids": [name], "instance": TEST_INSTANCE})
        )
        assert report.started == []
        assert "10 minutes" in report.skipped[0]["reason"]

    def test_unmanaged_or_unknown_ids_are_refused_with_an_alert(self, harness, sweeper):
        # Given a secret that is not managed, and an id that does not exist
        harness.store.create("someone/else", "{}")
        report = sweeper.run(
            SweepRequest.from_event(
                {
                    "secret_ids": ["someone/else", "no/such"],
                    "force": True,
                    "instance": TEST_INSTANCE,
                }
            )
        )
        # Then nothing is rotated, both are reported, and each raised one config alert
        assert report.started == []
        assert [e["secret_id"] for e in report.errors] == ["someone/else", "no/such"]
        assert harness.notifier.events() == ["token.config_invalid"] * 2
        assert not any(op == "rotate" for op, _ in harness.store.calls)

    def test_a_dry_run_naming_unmanaged_or_unknown_ids_reports_them_and_sends_nothing(
        self, harness, sweeper
    ):
        # Given a secret that is not managed, and an id that does not exist
        harness.store.create("someone/else", "{}")
        # When a dry run names both
        report = sweeper.run(
            SweepRequest.from_event(
                {
                    "secret_ids": ["someone/else", "no/such"],
                    "dry_run": True,
                    "instance": TEST_INSTANCE,
                }
            )
        )
        # Then both are reported as refused, and no alert is published
        assert [e["secret_id"] for e in report.errors] == ["someone/else", "no/such"]
        assert harness.notifier.alerts == []

    def test_dry_run_changes_nothing(self, harness, sweeper):
        managed(harness, "conn/a", **{"expires-at": epoch(harness, timedelta(minutes=5))})
        managed(harness, "conn/b", **{"expires-at": epoch(harness, timedelta(days=50))})
        harness.store.calls.clear()
        event = json.loads((EVENTS / "manual-dry-run-all.json").read_text())
        report = sweeper.run(SweepRequest.from_event(event))
        assert {w["secret_id"].rsplit(":", 1)[-1] for w in report.would_rotate} == {
            "conn/a-AbCdEf",
            "conn/b-AbCdEf",
        }
        assert all(w["reason"].startswith("manual rotation") for w in report.would_rotate)
        assert {op for op, _ in harness.store.calls} <= {"list", "describe"}
        assert harness.notifier.alerts == []

    def test_dry_run_logs_one_verdict_line_per_secret(self, harness, sweeper, caplog):
        # Given a due secret, one rotated moments ago, and an id that is not managed
        due = managed(harness, "conn/a", **{"expires-at": epoch(harness, timedelta(minutes=5))})
        recent = managed(
            harness, "conn/b", **{"last-rotated-at": epoch(harness, timedelta(minutes=-2))}
        )
        harness.store.create("someone/else", "{}")
        # When the dry run arrives as the EventBridge event (no caller sees the returned report)
        [entry] = json.loads((EVENTS / "put-events-dry-run.json").read_text())
        detail = json.loads(entry["Detail"])
        detail.pop("provider")
        detail["secret_ids"] = [due, recent, "someone/else"]
        sweeper.run(
            SweepRequest.from_event(
                {"source": entry["Source"], "detail-type": entry["DetailType"], "detail": detail}
            )
        )
        # Then the log has one verdict line per secret, with its reason
        verdicts = {
            r.secret_id.rsplit(":", 1)[-1]: (r.verdict, r.reason)
            for r in caplog.records
            if r.getMessage() == "dry run verdict"
        }
        assert verdicts == {
            "conn/a-AbCdEf": ("would_rotate", "manual rotation: preview"),
            "conn/b-AbCdEf": (
                "would_skip",
                "rotated less than 10 minutes ago (use force to override)",
            ),
            "someone/else": (
                "refused",
                "not managed by token-refresher (tag token-refresher:managed=true missing)",
            ),
        }

    def test_a_real_run_logs_no_dry_run_verdicts(self, harness, sweeper, caplog):
        managed(harness, "conn/a", **{"expires-at": epoch(harness, timedelta(minutes=5))})
        report = sweeper.run(SweepRequest.from_event({"all": True, "instance": TEST_INSTANCE}))
        assert len(report.started) == 1
        assert [r for r in caplog.records if r.getMessage() == "dry run verdict"] == []

    def test_provider_selection(self, harness, sweeper):
        managed(harness, "conn/a")
        other = managed(harness, "conn/b")
        harness.store.set_tags(other, {"token-refresher:provider": "meta"})
        report = sweeper.run(
            SweepRequest.from_event(
                {"provider": "meta", "dry_run": True, "instance": TEST_INSTANCE}
            )
        )
        assert [w["secret_id"] for w in report.would_rotate] == [harness.store.arn_of(other)]


class TestRequestParsing:
    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("sweep-scheduled", SweepRequest(scheduled=True)),
            (
                "manual-rotate-one-forced",
                SweepRequest(
                    scheduled=False,
                    secret_ids=("token-refresher/connections/meta-demo",),
                    force=True,
                    reason="user re-authorized; rotate now",
                    instance=TEST_INSTANCE,
                ),
            ),
            (
                "manual-dry-run-all",
                SweepRequest(
                    scheduled=False,
                    all=True,
                    dry_run=True,
                    reason="preview what a manual rotation of everything would do",
                    instance=TEST_INSTANCE,
                ),
            ),
            (
                "put-events-rotate-one",
                SweepRequest(
                    scheduled=False,
                    secret_ids=("token-refresher/connections/meta-demo",),
                    force=True,
                    reason="manual rotation from the CLI",
                    instance=TEST_INSTANCE,
                ),
            ),
            (
                "put-events-dry-run",
                SweepRequest(
                    scheduled=False,
                    provider="meta",
                    dry_run=True,
                    reason="preview",
                    instance=TEST_INSTANCE,
                ),
            ),
            (
                "manual-adopt-untagged",
                SweepRequest(
                    scheduled=False,
                    reason="one deployment in this account and region: adopt the secrets made "
                    "before instances",
                    instance=TEST_INSTANCE,
                    adopt_untagged=True,
                ),
            ),
        ],
    )
    def test_every_events_file_for_the_sweep_means_what_its_name_says(self, name, expected):
        # Given an events/ file (a put-events entry is what EventBridge delivers for it)
        data = json.loads((EVENTS / f"{name}.json").read_text())
        if isinstance(data, list):
            [entry] = data
            data = {
                "source": entry["Source"],
                "detail-type": entry["DetailType"],
                "detail": json.loads(entry["Detail"]),
            }
        # When the sweep parses it, then it is exactly the request its name describes
        assert SweepRequest.from_event(data) == expected

    def test_every_sweep_events_file_is_covered(self):
        covered = {
            "sweep-scheduled",
            "manual-rotate-one-forced",
            "manual-dry-run-all",
            "put-events-rotate-one",
            "put-events-dry-run",
            "manual-adopt-untagged",
        }
        sweep_files = {
            p.stem
            for p in EVENTS.glob("*.json")
            if p.stem.startswith(("sweep-", "manual-", "put-events-"))
        }
        assert sweep_files == covered

    @pytest.mark.parametrize(
        ("event", "field"),
        [
            ({}, "detail"),
            ({"secret_ids": [], "force": True}, "detail.secret_ids"),
            ({"secret_ids": ["a"], "all": True}, "detail"),
            ({"all": "yes"}, "detail.all"),
            ({"all": True, "dry_run": 1}, "detail.dry_run"),
            ({"provider": "myspace"}, "detail.provider"),
            ({"all": True, "frce": True}, "detail"),
            (
                {"source": "someone", "detail-type": "Token Rotation Requested", "detail": {}},
                "source",
            ),
            ({"source": "token-refresher", "detail-type": "Other", "detail": {}}, "detail-type"),
            ("rotate everything", "event"),
        ],
    )
    def test_bad_requests_name_the_field(self, event, field):
        with pytest.raises(ConfigError) as info:
            SweepRequest.from_event(event)
        assert info.value.field == field


class TestRecheckBeforeRotating:
    def test_secret_rotated_by_another_run_since_listing_is_skipped(self, harness, sweeper):
        # Given a due secret that another sweep rotates right after this sweep listed it
        name = managed(harness, "conn/race", **{"expires-at": epoch(harness, timedelta(minutes=1))})
        listed = harness.store.list_by_tag

        def list_then_rotated_elsewhere(key, value):
            entries = list(listed(key, value))
            if key != "token-refresher:instance":  # the hourly look for unowned secrets
                yield from entries
                return
            harness.store.set_tags(
                name, {"token-refresher:last-rotated-at": epoch(harness, timedelta(0))}
            )
            yield from entries

        harness.store.list_by_tag = list_then_rotated_elsewhere
        # When this sweep gets to it
        report = sweeper.run(SweepRequest(scheduled=True))
        # Then it does not rotate it a second time
        assert report.started == []
        assert report.skipped == [
            {
                "secret_id": harness.store.arn_of(name),
                "reason": "rotated moments ago by another run",
            }
        ]
        assert harness.provider.refresh_calls == 0

    def test_stuck_pending_is_finished_with_its_refreshed_value(self, harness, sweeper):
        # Given a rotation that wrote a refreshed token at AWSPENDING 20 minutes ago, then died
        name = managed(
            harness, "conn/stuck", **{"expires-at": epoch(harness, timedelta(minutes=1))}
        )
        harness.store.start_rotation(name, "stuck-token")
        harness.engine.run(
            RotationRequest.from_event(
                {"Step": "createSecret", "SecretId": name, "ClientRequestToken": "stuck-token"}
            )
        )
        harness.store.created_at["stuck-token"] = harness.clock.now.timestamp() - 1200
        resumed = []

        class Resumer:
            def resume(self, secret_id, version_id):
                resumed.append(version_id)
                for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
                    harness.engine.run(
                        RotationRequest.from_event(
                            {"Step": step, "SecretId": name, "ClientRequestToken": version_id}
                        )
                    )

        sweeper.starter.resumer = Resumer()
        # When the sweep finds it
        report = sweeper.run(SweepRequest(scheduled=True))
        # Then the stuck version is finished: its token promoted, the provider not called again
        assert resumed == ["stuck-token"]
        assert len(report.started) == 1
        assert harness.store.current_doc(name).refresh_token == "fake-refresh-token-0001-xyz"
        assert harness.provider.refresh_calls == 1

    def test_a_stuck_forced_rotation_of_a_connection_not_due_is_finished_by_the_next_sweep(
        self, harness, sweeper
    ):
        # Given a connection far from due whose forced rotation wrote AWSPENDING 20 minutes ago,
        # then crashed
        name = managed(
            harness,
            "conn/forced-stuck",
            **{
                "expires-at": epoch(harness, timedelta(days=30)),
                "last-rotated-at": epoch(harness, -timedelta(days=2)),
            },
        )
        harness.store.start_rotation(name, "stuck-token")
        harness.store.created_at["stuck-token"] = harness.clock.now.timestamp() - 1200
        resumed = []

        class Resumer:
            def resume(self, secret_id, version_id):
                resumed.append(version_id)

        sweeper.starter.resumer = Resumer()
        # When the next scheduled sweep runs
        report = sweeper.run(SweepRequest(scheduled=True))
        # Then the stuck rotation is finished (not left until the connection is due)
        assert resumed == ["stuck-token"]
        assert report.started == [harness.store.arn_of(name)]

    def test_young_pending_is_left_alone(self, harness, sweeper):
        name = managed(
            harness, "conn/busy2", **{"expires-at": epoch(harness, timedelta(minutes=1))}
        )
        harness.store.start_rotation(name, "fresh-token")
        harness.store.created_at["fresh-token"] = harness.clock.now.timestamp() - 30
        sweeper.starter.resumer = None
        report = sweeper.run(SweepRequest(scheduled=True))
        assert report.skipped[0]["reason"] == "rotation already in progress"
        assert not any(op == "rotate" for op, _ in harness.store.calls)


def test_sweep_emits_per_provider_metrics(harness, sweeper):
    # Given one due and one healthy secret of the same provider
    managed(harness, "conn/m-due", **{"expires-at": epoch(harness, timedelta(minutes=5))})
    managed(harness, "conn/m-ok", **{"expires-at": epoch(harness, timedelta(days=30))})
    harness.store.on_rotate = None
    # When the scheduled sweep runs
    sweeper.run(SweepRequest(scheduled=True))
    # Then scanned/due/started/skipped/failures and the closest expiry are reported for "fake"
    points = {(name, provider): value for name, provider, _, value in harness.metrics.points}
    assert points[("SecretsScanned", "fake")] == 2
    assert points[("SecretsDue", "fake")] == 1
    assert points[("RotationsStarted", "fake")] == 1
    assert points[("RotationsSkipped", "fake")] == 0
    assert points[("RotationStartFailures", "fake")] == 0
    assert points[("MinHoursToExpiry", "fake")] == pytest.approx(5 / 60, abs=0.01)


def test_per_provider_refresh_ahead_policy(harness):
    # Given a Meta-like 60-day token with 9 days left, and a policy of 10 days for "fake" only
    managed(harness, "conn/ahead", **{"expires-at": epoch(harness, timedelta(days=9))})
    harness.store.on_rotate = None
    default = harness.sweep_engine()
    custom = harness.sweep_engine(
        policies={"fake": RefreshAhead(long_lived_ahead=timedelta(days=10))}
    )
    # Then the default (7 days) waits, the provider's own window (10 days) rotates it
    assert default.run(SweepRequest(scheduled=True, dry_run=True)).due == 0
    assert custom.run(SweepRequest(scheduled=True, dry_run=True)).due == 1

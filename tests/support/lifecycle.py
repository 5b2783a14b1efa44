"""A connection's whole life on a simulated clock: the handlers in-process against LocalStack and
the fake platforms, every alert recorded with its simulated time.

Per platform: onboard; scheduled sweeps (refreshes, daily liveness checks); the 30-, 7- and 1-day
warnings of the human deadline, each link opened at the connect handler; re-consent through the
1-day warning's link; the same on the second deadline; then a revocation in the middle of the
third cycle, sweeps every 15 minutes until it is alerted, and the reconnect through that alert's
link. The clock jumps between the moments that matter (thresholds, the revocation window) and is
never further than ``QUIET_STEP`` from the previous sweep, so no refresh-ahead window is skipped.

``render`` turns the recorded timelines into docs/alerts.md's tables (`make lifecycle`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests

from tests.support import stack
from tests.support.fake_providers import FakeProviders
from tests.support.handlers import LambdaContext, load_handler

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SWEEP = timedelta(minutes=15)
QUIET_STEP = timedelta(days=5)  # < the 7-day refresh-ahead window of long-lived tokens
WARN_DAYS = (30, 7, 1)
SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event"}
BEGIN, END = "<!-- lifecycle:begin -->", "<!-- lifecycle:end -->"


@dataclass(frozen=True)
class Plan:
    """One platform's connection: its document, and how its life goes."""

    platform: str
    document: Callable[[FakeProviders, str], dict[str, Any]]  # (fake, app secret) -> document
    cycles: int = 2  # human deadlines renewed through the link (0: none to renew)
    revoke: Callable[[FakeProviders, dict[str, Any]], None] = lambda f, d: None
    quiet_days: float = 3  # after the last re-consent (or the onboarding): until the revocation
    consent: bool = True  # a reconnect link exists (not for Meta system users)
    note: str = ""  # what the table cannot show


@dataclass
class Entry:
    at: datetime
    what: str
    detail: str = ""


@dataclass
class Life:
    platform: str
    remark: str = ""
    entries: list[Entry] = field(default_factory=list)
    sweeps: int = 0
    refreshes: int = 0
    checks: int = 0
    revoked_at: datetime | None = None
    alerted_at: datetime | None = None

    def note(self, at: datetime, what: str, detail: str = "") -> None:
        self.entries.append(Entry(at, what, detail))

    @property
    def revocation_to_alert(self) -> timedelta | None:
        if self.revoked_at is None or self.alerted_at is None:
            return None
        return self.alerted_at - self.revoked_at


class SimClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class Simulation:
    """Drives one connection at a time (the sweep sees only it: the others are deleted)."""

    def __init__(
        self,
        sm: Any,
        fake: FakeProviders,
        clock: SimClock,
        published: list[dict[str, Any]],
        secrets: stack.SecretFactory,
    ) -> None:
        self.sm = sm
        self.fake = fake
        self.clock = clock
        self.published = published  # alerts as the notifier published them (patched in)
        self.secrets = secrets
        self.sweep = load_handler("sweep").lambda_handler
        self.rotation = load_handler("rotation").lambda_handler
        self.connect = load_handler("connect").lambda_handler

    # --- one platform ----------------------------------------------------------------------
    def live(self, plan: Plan, app: str) -> Life:
        life = Life(plan.platform, plan.note)
        self.clock.now = START
        self.published.clear()
        arn = self.secrets.token(plan.document(self.fake, app))
        life.note(self.clock.now, "onboarded", "secret stored with a token from the platform")
        self.step(arn, life)
        for cycle in range(1, plan.cycles + 1):
            self.until_one_day_warning(arn, life, cycle)
        self.quiet(arn, life, timedelta(days=plan.quiet_days))
        self.until_validated(arn, life)
        self.clock.now += timedelta(minutes=1)  # the worst moment: just after a validation
        plan.revoke(self.fake, stack.current_document(self.sm, arn))
        life.revoked_at = self.clock.now
        life.note(
            self.clock.now,
            "grant revoked at the platform",
            "a minute after the platform last validated the token",
        )
        self.until_alerted(arn, life, plan)
        self.sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
        return life

    def until_one_day_warning(self, arn: str, life: Life, cycle: int) -> None:
        deadline = self.deadline(arn)
        assert deadline is not None, f"{life.platform}: no human deadline"
        left = _days(deadline - self.clock.now)
        first = [d for d in WARN_DAYS if d >= left][-1:]  # a deadline already inside a window
        expected = {d for d in WARN_DAYS if d < left} | set(first)
        seen: set[int] = set()
        self.clock.now = _next_sweep(self.clock.now)  # the sweep after the onboarding/renewal
        while self.clock.now < deadline:
            for alert in self.step(arn, life):
                warning = re.search(r"within (\d+) day", alert["message"])
                if alert["event"] != "token.expiring" or warning is None:
                    life.note(self.clock.now, alert["event"], alert["message"])
                    continue
                days = int(warning.group(1))
                seen.add(days)
                link = alert.get("reconnect_url")
                assert link, f"{life.platform}: the {days}-day warning has no link"
                self.open_link(link)
                life.note(
                    self.clock.now,
                    f"{days}-day warning (deadline {cycle})",
                    f"deadline {_when(deadline)}; link opens the consent page",
                )
                if days == 1:
                    assert seen == expected, f"{life.platform}: warnings {seen} != {expected}"
                    self.reconsent(link)
                    new = self.deadline(arn)
                    assert new is not None, f"{life.platform}: no deadline after the re-consent"
                    assert new > deadline, f"{life.platform}: the deadline was not renewed"
                    life.note(
                        self.clock.now, "re-consent through the link", f"new deadline {_when(new)}"
                    )
                    return
            self.clock.now = min(self.next_threshold(deadline), self.clock.now + QUIET_STEP)
        raise AssertionError(f"{life.platform}: no 1-day warning before deadline {cycle} ({seen})")

    def next_threshold(self, deadline: datetime) -> datetime:
        later = [deadline - timedelta(days=d) for d in WARN_DAYS]
        later = [t for t in later if t > self.clock.now]
        return (min(later) + timedelta(minutes=1)) if later else self.clock.now + SWEEP

    def quiet(self, arn: str, life: Life, span: timedelta) -> None:
        end = self.clock.now + span
        self.clock.now = _next_sweep(self.clock.now)
        while self.clock.now < end:
            for alert in self.step(arn, life):
                life.note(self.clock.now, alert["event"], alert["message"])
            self.clock.now = min(end, self.clock.now + QUIET_STEP)

    def until_validated(self, arn: str, life: Life) -> None:
        """Sweeps every 15 minutes until one has the platform validate the token (a rotation or
        a liveness check)."""
        validations, since = life.refreshes + life.checks, self.clock.now
        while life.refreshes + life.checks == validations:
            assert self.clock.now - since <= timedelta(hours=25), f"{life.platform}: unchecked"
            self.clock.now = _next_sweep(self.clock.now)
            for alert in self.step(arn, life):
                life.note(self.clock.now, alert["event"], alert["message"])

    def until_alerted(self, arn: str, life: Life, plan: Plan) -> None:
        assert life.revoked_at is not None
        while self.clock.now - life.revoked_at < timedelta(hours=26):
            self.clock.now = _next_sweep(self.clock.now)
            for alert in self.step(arn, life):
                if alert["event"] == "token.reauth_required":
                    life.alerted_at = self.clock.now
                    life.note(
                        self.clock.now,
                        "token.reauth_required",
                        f"{_hours(self.clock.now - life.revoked_at)} after the revocation",
                    )
                    if plan.consent:
                        assert alert.get("reconnect_url"), f"{life.platform}: no reconnect link"
                        self.reconsent(alert["reconnect_url"])
                        life.note(self.clock.now, "reconnected through the alert's link")
                    return
        raise AssertionError(f"{life.platform}: revocation not alerted within 26 h")

    # --- one sweep, as the deployed stack runs it ---------------------------------------------
    def step(self, arn: str, life: Life) -> list[dict[str, Any]]:
        """One scheduled sweep; the rotations it starts run their four steps here (RotateSecret
        went to the no-op function); its liveness requests reach the rotation handler through the
        patched requester. Returns the alerts published during it."""
        before = len(self.published)
        life.sweeps += 1
        report = self.sweep(SCHEDULED, LambdaContext())
        for secret in report["started"]:
            if self.rotate(secret):
                life.refreshes += 1
        life.checks += len(report["checks_requested"])
        return self.published[before:]

    def rotate(self, secret: str) -> bool:
        versions = self.sm.describe_secret(SecretId=secret)["VersionIdsToStages"]
        pending = next(v for v, stages in versions.items() if "AWSPENDING" in stages)
        for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
            event = {"Step": step, "SecretId": secret, "ClientRequestToken": pending}
            try:
                self.rotation(event, LambdaContext())
            except Exception:
                return False
        return True

    def deadline(self, arn: str) -> datetime | None:
        value = stack.tags_of(self.sm, arn).get("token-refresher:human-deadline", "never")
        return None if value == "never" else datetime.fromtimestamp(int(value), UTC)

    # --- the human ------------------------------------------------------------------------------
    def open_link(self, link: str) -> tuple[str, str]:
        """The landing page: 200 and a consent button; returns (button href, cookie)."""
        landing = self.connect(url_event(link), LambdaContext())
        assert landing["statusCode"] == 200, _text(landing["body"])
        href = re.search(r'class="btn" href="([^"]+)"', landing["body"])
        assert href, landing["body"][:300]
        return unescape(href.group(1)), landing["headers"]["Set-Cookie"].split(";")[0]

    def reconsent(self, link: str) -> None:
        href, cookie = self.open_link(link)
        page = requests.get(href, timeout=10).text
        allow = unescape(re.search(r"id='allow' href='([^']+)'", page).group(1))
        back = requests.get(self.fake.base_url + allow, allow_redirects=False, timeout=10)
        done = self.connect(url_event(back.headers["Location"], cookie), LambdaContext())
        assert done["statusCode"] == 200, _text(done["body"])


def url_event(url: str, cookie: str = "") -> dict[str, Any]:
    parts = urlsplit(url)
    return {
        "version": "2.0",
        "rawPath": parts.path or "/",
        "rawQueryString": parts.query,
        "queryStringParameters": dict(parse_qsl(parts.query)),
        "headers": {"host": parts.netloc, "x-forwarded-proto": "https"}
        | ({"cookie": cookie} if cookie else {}),
        "requestContext": {"http": {"method": "GET", "path": parts.path or "/"}},
    }


def _text(page: str) -> str:
    """A page's words (what a failure message shows)."""
    return " ".join(re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S).split())[:600]


def _next_sweep(now: datetime) -> datetime:
    """The next 15-minute boundary (rate(15 minutes) fires on them)."""
    base = now.replace(minute=0, second=0, microsecond=0)
    return base + SWEEP * (int((now - base) / SWEEP) + 1)


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


def _hours(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _when(at: datetime) -> str:
    """Simulated time as "day N hh:mm" from the onboarding (day 0)."""
    return f"day {(at.date() - START.date()).days} {at:%H:%M}"


# --- docs/alerts.md ----------------------------------------------------------------------------


def render(lives: list[Life]) -> str:
    out = [
        BEGIN,
        "Generated by `make lifecycle` (`tests/integration/test_lifecycle.py`: the sweep, rotation",
        "and connect handlers in-process against LocalStack and the fake platforms, on a simulated",
        "clock; day 0 09:00 is the onboarding). Sweeps are simulated 15 minutes after a renewal, a",
        "minute after each warning threshold, at most 5 days apart otherwise, and every 15 minutes",
        "(the default `SweepRateMinutes`) after the revocation; the rotations and liveness checks",
        "counted are those of the simulated sweeps (the deployed stack sweeps every 15 minutes, so",
        "hourly tokens rotate more often).",
        "",
        "| platform | revocation to alert | simulated sweeps | rotations | liveness checks |",
        "|---|---|---|---|---|",
    ]
    for life in lives:
        gap = _hours(life.revocation_to_alert) if life.revocation_to_alert else "-"
        out.append(
            f"| {life.platform} | {gap} | {life.sweeps} | {life.refreshes} | {life.checks} |"
        )
    for life in lives:
        out += ["", f"**{life.platform}**" + (f": {life.remark}" if life.remark else "")]
        out += ["", "| simulated time | what | detail |", "|---|---|---|"]
        out += [f"| {_when(e.at)} | {e.what} | {e.detail} |" for e in life.entries]
    out.append(END)
    return "\n".join(out)


def splice(doc: str, section: str) -> str:
    """``doc`` with its generated section replaced (appended when it has none)."""
    if BEGIN in doc:
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        return head + section + tail
    return doc.rstrip("\n") + "\n\n" + section + "\n"

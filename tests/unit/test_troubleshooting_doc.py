"""docs/troubleshooting.md: every entry names what to look for, and every alert and log line it
names is one the code sends, so an entry cannot point at a message that was renamed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from token_refresher.alerting.alarm_relay import ALARM_KINDS, OTHER, RESOLVED
from token_refresher.alerts import AlertEvent

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"
# The symptoms a reader arrives with (the headings must keep saying them).
SYMPTOMS = (
    "Every rotation of one app fails",
    "A connection never rotates",
    'The link says "This link is locked"',
    "The alert has no link",
    "Hourly tokens expire before they are refreshed",
)


def sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def log_messages() -> set[str]:
    """The first argument of every logger call of the library (its ``message``)."""
    found: set[str] = set()
    for path in (ROOT / "layers" / "core" / "python" / "token_refresher").rglob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r'logger\.\w+\(\s*"([^"]+)"', text))
    return found


def events() -> set[str]:
    alarms = {kind.event for kind in ALARM_KINDS.values()} | {OTHER.event, RESOLVED}
    return {e.value for e in AlertEvent} | alarms


def test_the_symptoms_asked_for_have_an_entry():
    assert set(SYMPTOMS) <= set(sections())


@pytest.mark.parametrize("title", list(sections()))
def test_every_entry_says_what_to_look_for_and_how_to_fix_it(title):
    body = sections()[title]
    assert "- **Look for:**" in body
    assert "fix" in body.lower()


def test_every_alert_and_log_line_named_is_one_the_code_sends():
    # Given every code span of the "Look for" paragraphs
    known_logs, known_events = log_messages(), events()
    problems, named = [], 0
    for title, body in sections().items():
        look = body.split("- **Look for:**", 1)[1].split("\n- **", 1)[0]
        before_span = re.split(r"`[^`]+`", look)
        for span, before in zip(re.findall(r"`([^`]+)`", look), before_span, strict=False):
            # Then an alert event exists, and a span after the word "log" is a logged message
            if re.fullmatch(r"(token|alarm)\.[a-z_]+", span):
                named += 1
                if span not in known_events:
                    problems.append(f"{title}: no alert event {span}")
            elif re.search(r"\blog\s*$", before) and span not in known_logs:
                problems.append(f"{title}: no log line {span!r}")
            elif re.search(r"\blog\s*$", before):
                named += 1
    assert not problems, problems
    assert named >= len(SYMPTOMS)


def test_the_test_notices_a_renamed_log_line():
    assert "connect link locked after failed callbacks" in log_messages()
    assert "connect link locked" not in log_messages()

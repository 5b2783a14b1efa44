"""The alarm notification shape and the on-call filter policy the docs recommend, for the unit
and e2e tests of the alarm relay."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
# The Lambda alarm-action payload (the shape the CloudWatch user guide documents).
ALARM_EVENT: dict[str, Any] = json.loads(
    (REPO_ROOT / "events" / "alarm-sweep-not-running.json").read_text()
)


def documented_oncall_filter() -> dict[str, Any]:
    """The first JSON block of docs/alerts.md's "Filter policies" section: the on-call policy."""
    text = (REPO_ROOT / "docs" / "alerts.md").read_text()
    section = text.split("## Filter policies", 1)[1]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block is not None, "docs/alerts.md: no JSON filter policy under 'Filter policies'"
    return dict(json.loads(block.group(1)))


def matches(policy: Mapping[str, Any], attributes: Mapping[str, str]) -> bool:
    """SNS attribute filtering for the rules the docs use: exact strings, prefix, exists, and
    ``$or`` (any one of its policies matches, besides the other keys)."""
    for key, rules in policy.items():
        if key == "$or":
            if not any(matches(branch, attributes) for branch in rules):
                return False
            continue
        value = attributes.get(key)
        if not any(_rule(rule, value) for rule in rules):
            return False
    return True


def _rule(rule: Any, value: str | None) -> bool:
    if isinstance(rule, str):
        return value == rule
    if "exists" in rule:
        return (value is not None) is bool(rule["exists"])
    if "prefix" in rule:
        return value is not None and value.startswith(rule["prefix"])
    raise AssertionError(f"filter rule not modelled here: {rule}")

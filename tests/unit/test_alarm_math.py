"""Each alarm of template.yaml, evaluated as CloudWatch would on injected datapoints: it fires on
its breach and stays quiet on a healthy run of the same length (the metric math included)."""

from __future__ import annotations

import operator
import re
from collections.abc import Mapping
from typing import Any

import pytest

from tests.support.template import load_template

pytestmark = pytest.mark.unit

COMPARE = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
}


def _eval(expression: str, values: Mapping[str, float]) -> float:
    """The metric-math subset the template uses: arithmetic, comparisons, IF and SUM."""
    text = re.sub(r"\bIF\(", "_if(", expression).replace("SUM(", "_sum(")
    names = {"_if": lambda c, a, b: a if c else b, "_sum": sum}
    return float(eval(text, {"__builtins__": {}}, names | dict(values)))  # noqa: S307


def evaluate(alarm: Mapping[str, Any], periods: list[Mapping[str, float]]) -> str:
    """ALARM or OK after ``periods`` (oldest first), each the value of every metric id (or of
    the alarm's single metric under its MetricName) in that period."""
    props = alarm["Properties"]
    n = props["EvaluationPeriods"]
    needed = props.get("DatapointsToAlarm", n)
    compare = COMPARE[props["ComparisonOperator"]]
    returned = next((m for m in props.get("Metrics", []) if m.get("ReturnData", True)), None)
    breaching = 0
    for values in periods[-n:]:
        if returned is None:
            value = values[props["MetricName"]]
        elif "Expression" in returned:
            value = _eval(returned["Expression"], values)
        else:
            value = values[returned["Id"]]
        breaching += compare(value, props["Threshold"])
    return "ALARM" if breaching >= needed else "OK"


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return dict(load_template()["Resources"])


# alarm resource: (healthy periods, breach periods), oldest first
CASES: dict[str, tuple[list[dict[str, float]], list[dict[str, float]]]] = {
    # 1.5 million rotations a day (~31,000 invocations per 30 min): a 0.01 % blip rate is healthy
    "RotationErrorsAlarm": (
        [{"errors": 3, "invocations": 31_000}] * 2,
        [{"errors": 900, "invocations": 31_000}] * 2,
    ),
    "SweepErrorsAlarm": ([{"errors": 1, "invocations": 4}], [{"errors": 2, "invocations": 4}]),
    "ValidationOverdueAlarm": (
        [{"MaxHoursSinceValidation": 23.7}],
        [{"MaxHoursSinceValidation": 30}],
    ),
    "SweepSlowAlarm": ([{"Duration": 290_000}], [{"Duration": 800_000}]),
    "ThrottlesAlarm": (
        [{"rt": 0, "st": 0, "rd": 0, "sd": 0}],
        [{"rt": 0, "st": 0, "rd": 2, "sd": 0}],
    ),
    "QueueAgeAlarm": (
        [{"ApproximateAgeOfOldestMessage": 120}],
        [{"ApproximateAgeOfOldestMessage": 2400}],
    ),
    "RelayFailuresAlarm": (
        [{"ApproximateNumberOfMessagesVisible": 0}],
        [{"ApproximateNumberOfMessagesVisible": 1}],
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_alarm_fires_on_its_breach_and_stays_quiet_when_healthy(
    resources: dict[str, Any], name: str
) -> None:
    healthy, breach = CASES[name]
    assert evaluate(resources[name], healthy) == "OK"
    assert evaluate(resources[name], breach) == "ALARM"


def test_a_burst_of_errors_in_a_quiet_hour_does_not_burn_the_budget(
    resources: dict[str, Any],
) -> None:
    # Given few rotations (below the 20-invocation floor), all failing
    periods = [{"errors": 5, "invocations": 5}] * 2
    # Then the ratio alarm stays quiet (the incident and token alerts speak for those)
    assert evaluate(resources["RotationErrorsAlarm"], periods) == "OK"
    # but a one-window spike alone does not page either: both windows must burn
    spike = [{"errors": 0, "invocations": 31_000}, {"errors": 900, "invocations": 31_000}]
    assert evaluate(resources["RotationErrorsAlarm"], spike) == "OK"

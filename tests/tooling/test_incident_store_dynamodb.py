"""The DynamoDB incident store (adapters/incidents.py) against moto's DynamoDB, which evaluates
its update, condition and key expressions: the LocalStack of these machines serves no DynamoDB
(it would install Java 21 and DynamoDB Local first), and moto comes with the LocalStack venv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.tooling

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv-localstack" / "bin" / "python"


def test_the_dynamodb_store_makes_each_transition_once() -> None:
    if not PYTHON.exists():
        pytest.skip("no .venv-localstack (tools/localstack.sh install makes it)")
    # Given 8 concurrent failures of one cause, then announcements, recoveries and a close
    env = os.environ | {"PYTHONPATH": f"{ROOT / 'layers/core/python'}:{ROOT}"}
    run = subprocess.run(
        [str(PYTHON), "-m", "tests.support.dynamodb_incident_check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    # Then they agreed on one incident and counted each connection once
    assert seen["distinct_ids"] == 1
    assert seen["affected_after_rejoin"] == 8
    assert seen["held"] == 8
    # and each transition happened exactly once
    assert seen["announce"] == [True, False]
    assert seen["announced_affected"] == 8
    assert seen["update"] == [True, False]
    assert seen["close"] == [True, None]
    # a member recovers once; a stranger does not
    assert (seen["recovered"], seen["recover_twice"], seen["recover_stranger"]) == (1, False, False)
    assert seen["held_alerts"] == 7
    assert seen["open"] == [seen["id"]]
    assert seen["open_after_close"] == 0
    # and a failure after the close opens a new incident
    assert seen["new_incident_after_close"] == "inc-next"

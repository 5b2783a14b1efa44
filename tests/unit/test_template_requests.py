"""template.yaml read as data: manual requests reach a stack only through its own request bus,
whose policy names who may send them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.template import load_template, resolve

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUS_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/"
    "${AWS::StackName}-requests"
}


def test_the_manual_rule_listens_on_the_stacks_own_bus_not_the_default_one():
    template = load_template()
    events = template["Resources"]["SweepFunction"]["Properties"]["Events"]
    rule = events["ManualRotation"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "RequestBus"}
    bus = template["Resources"]["RequestBus"]
    assert bus["Type"] == "AWS::Events::EventBus"
    assert bus["Properties"]["Name"] == {"Fn::Sub": "${AWS::StackName}-requests"}
    outputs = template["Outputs"]
    assert outputs["RequestBusName"]["Value"] == {"Ref": "RequestBus"}
    assert outputs["RequestBusArn"]["Value"] == {"Fn::GetAtt": ["RequestBus", "Arn"]}


def test_named_request_principals_are_the_only_ones_the_bus_accepts():
    # Given RequestPrincipals set (the operator role, say)
    template = load_template()
    props = resolve(
        template["Resources"]["RequestBus"]["Properties"], {"HasRequestPrincipals": True}
    )
    # Then every other principal is denied PutEvents on the bus, whatever its own IAM allows
    this_account, named = props["Policy"]["Statement"]
    for statement in (this_account, named):
        assert statement["Effect"] == "Deny"
        assert statement["Principal"] == "*"
        assert statement["Action"] == "events:PutEvents"
        assert statement["Resource"] == BUS_ARN
    assert named["Condition"] == {
        "StringNotLike": {"aws:PrincipalArn": {"Ref": "RequestPrincipals"}}
    }
    # And without them the bus still has a policy: only this account's principals whose own
    # policy names the bus may send (no one else's account)
    bare = resolve(
        template["Resources"]["RequestBus"]["Properties"], {"HasRequestPrincipals": False}
    )
    assert bare["Policy"]["Statement"] == [this_account]
    assert this_account["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    assert template["Parameters"]["RequestPrincipals"]["Type"] == "CommaDelimitedList"
    assert template["Conditions"]["HasRequestPrincipals"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "RequestPrincipals"}]}, ""]}]
    }


@pytest.mark.parametrize("name", ["put-events-rotate-one.json", "put-events-dry-run.json"])
def test_the_put_events_files_name_the_demo_stacks_request_bus(name):
    for entry in json.loads((EVENTS / name).read_text()):
        assert entry["EventBusName"] == "token-refresher-requests"
        assert json.loads(entry["Detail"])["instance"] == "token-refresher"

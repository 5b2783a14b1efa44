"""The incident store (alerting/incidents.py's IncidentStore) in a DynamoDB table: conditional
writes make each incident transition happen once, whichever concurrent rotation gets there first.

One table (template.yaml ``IncidentTable``), key ``pk`` + ``sk`` (strings), four item kinds:
- ``cause#<cause key>`` / ``current``: the id of the cause's latest incident;
- ``incident#<id>`` / ``incident``: the incident (cause, times, counters, flags);
- ``incident#<id>`` / ``member#<secret id>``: a member (``failing`` or ``recovered``) and the
  alert held for it (JSON, the alert's own body: no token material);
- ``open`` / ``<id>``: the index of open incidents the sweep's flush reads.
Items carry ``expires_at`` (epoch; the table's TTL attribute): 30 days after their last write.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from token_refresher.adapters.errors import AwsError, aws_errors
from token_refresher.alerts import Cause, CauseKind, Incident, Transition
from token_refresher.timeutil import from_epoch, to_epoch

KEEP = timedelta(days=30)
_CONDITION_FAILED = "ConditionalCheckFailedException"
_CLAIMS = {
    Transition.ANNOUNCE: (
        "SET announced_at = :now, announced_affected = affected",
        "attribute_not_exists(announced_at) AND closed = :no",
    ),
    Transition.UPDATE: (
        "SET updated = :yes",
        "attribute_exists(announced_at) AND updated = :no AND closed = :no",
    ),
    Transition.CLOSE: ("SET closed = :yes", "closed = :no"),
}


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": _s(pk), "sk": _s(sk)}


class DynamoIncidentStore:
    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self._table = table

    # --- IncidentStore ---------------------------------------------------------------------------

    def join(
        self, cause: Cause, secret_id: str, *, now: datetime, new_id: str, held: Mapping[str, Any]
    ) -> Incident:
        incident_id = self._current(cause, now, new_id)
        member = _key(f"incident#{incident_id}", f"member#{secret_id}")
        values: dict[str, Any] = {":f": _s("failing"), ":exp": _n(self._expiry(now))}
        update = "SET #st = :f, expires_at = :exp"
        if held:
            update += ", alert = :a"
            values[":a"] = _s(json.dumps(dict(held), sort_keys=True))
        with aws_errors():
            old = self._client.update_item(
                TableName=self._table,
                Key=member,
                UpdateExpression=update,
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=values,
                ReturnValues="ALL_OLD",
            ).get("Attributes")
        was_recovered = bool(old) and old["state"]["S"] == "recovered"
        had_alert = bool(old) and "alert" in old
        return self._update(
            incident_id,
            "SET last_failure_at = :now ADD affected :a, recovered :r, held :h",
            {
                ":now": _n(to_epoch(now)),
                ":a": _n(0 if old else 1),
                ":r": _n(-1 if was_recovered else 0),
                ":h": _n(1 if held and not had_alert else 0),
            },
        )

    def claim(self, incident_id: str, transition: Transition, *, now: datetime) -> Incident | None:
        update, condition = _CLAIMS[transition]
        try:
            inc = self._update(
                incident_id,
                update,
                {":now": _n(to_epoch(now)), ":no": {"BOOL": False}, ":yes": {"BOOL": True}},
                condition=condition,
            )
        except AwsError as exc:
            if exc.code == _CONDITION_FAILED:
                return None
            raise
        if transition is Transition.CLOSE:
            with aws_errors():
                self._client.delete_item(TableName=self._table, Key=_key("open", incident_id))
        return inc

    def recover(self, incident_id: str, secret_id: str, *, now: datetime) -> Incident | None:
        try:
            with aws_errors():
                old = self._client.update_item(
                    TableName=self._table,
                    Key=_key(f"incident#{incident_id}", f"member#{secret_id}"),
                    UpdateExpression="SET #st = :r REMOVE alert",
                    ConditionExpression="#st = :f",
                    ExpressionAttributeNames={"#st": "state"},
                    ExpressionAttributeValues={":r": _s("recovered"), ":f": _s("failing")},
                    ReturnValues="ALL_OLD",
                )["Attributes"]
            return self._update(
                incident_id,
                "ADD recovered :one, held :h",
                {":one": _n(1), ":h": _n(-1 if "alert" in old else 0), ":no": {"BOOL": False}},
                condition="closed = :no",
            )
        except AwsError as exc:
            if exc.code == _CONDITION_FAILED:
                return None
            raise

    def open_incidents(self) -> list[Incident]:
        ids = [item["sk"]["S"] for item in self._query("open")]
        found = (self._get(f"incident#{i}", "incident") for i in ids)
        return [_incident(item) for item in found if item and not item["closed"]["BOOL"]]

    def held_alerts(self, incident_id: str) -> list[Mapping[str, Any]]:
        members = self._query(f"incident#{incident_id}", sk_prefix="member#")
        return [
            json.loads(m["alert"]["S"])
            for m in members
            if m.get("state", {}).get("S") == "failing" and "alert" in m
        ]

    # --- items -----------------------------------------------------------------------------------

    def _current(self, cause: Cause, now: datetime, new_id: str) -> str:
        """The cause's open incident, else a new one (``new_id``) made current: conditionally,
        so two rotations opening at once agree on one."""
        pointer = self._get(f"cause#{cause.key}", "current")
        old_id = str(pointer["incident_id"]["S"]) if pointer else None
        if old_id:
            item = self._get(f"incident#{old_id}", "incident")
            if item is not None and not item["closed"]["BOOL"]:
                return old_id
        self._put(f"incident#{new_id}", "incident", _cause_item(cause, now, new_id))
        try:
            with aws_errors():
                self._client.update_item(
                    TableName=self._table,
                    Key=_key(f"cause#{cause.key}", "current"),
                    UpdateExpression="SET incident_id = :new, expires_at = :exp",
                    ConditionExpression="attribute_not_exists(incident_id) OR incident_id = :old",
                    ExpressionAttributeValues={
                        ":new": _s(new_id),
                        ":old": _s(old_id or "-"),
                        ":exp": _n(self._expiry(now)),
                    },
                )
        except AwsError as exc:
            if exc.code != _CONDITION_FAILED:
                raise
            with aws_errors():  # another rotation opened it first: join that one
                self._client.delete_item(
                    TableName=self._table, Key=_key(f"incident#{new_id}", "incident")
                )
            return self._current(cause, now, new_id + "x")
        self._put("open", new_id, {"expires_at": _n(self._expiry(now))})
        return new_id

    def _update(
        self,
        incident_id: str,
        update: str,
        values: Mapping[str, Any],
        *,
        condition: str | None = None,
    ) -> Incident:
        used = {k: v for k, v in values.items() if k in update or (condition and k in condition)}
        extra = {"ConditionExpression": condition} if condition else {}
        with aws_errors():
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(f"incident#{incident_id}", "incident"),
                UpdateExpression=update,
                ExpressionAttributeValues=used,
                ReturnValues="ALL_NEW",
                **extra,
            )
        return _incident(answer["Attributes"])

    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        with aws_errors():
            answer = self._client.get_item(
                TableName=self._table, Key=_key(pk, sk), ConsistentRead=True
            )
        item: dict[str, Any] | None = answer.get("Item")
        return item

    def _put(self, pk: str, sk: str, fields: Mapping[str, Any]) -> None:
        with aws_errors():
            self._client.put_item(TableName=self._table, Item=_key(pk, sk) | dict(fields))

    def _query(self, pk: str, *, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        condition = "pk = :pk" + (" AND begins_with(sk, :p)" if sk_prefix else "")
        values = {":pk": _s(pk)} | ({":p": _s(sk_prefix)} if sk_prefix else {})
        items: list[dict[str, Any]] = []
        start: dict[str, Any] | None = None
        while True:
            extra = {"ExclusiveStartKey": start} if start else {}
            with aws_errors():
                page = self._client.query(
                    TableName=self._table,
                    KeyConditionExpression=condition,
                    ExpressionAttributeValues=values,
                    ConsistentRead=True,
                    **extra,
                )
            items += page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                return items

    @staticmethod
    def _expiry(now: datetime) -> int:
        return to_epoch(now + KEEP)


def _cause_item(cause: Cause, now: datetime, incident_id: str) -> dict[str, Any]:
    return {
        "incident_id": _s(incident_id),
        "kind": _s(cause.kind.value),
        "provider": _s(cause.provider),
        "app": _s(cause.app or ""),
        "error_class": _s(cause.error_class),
        "code": _s(cause.code or ""),
        "opened_at": _n(to_epoch(now)),
        "last_failure_at": _n(to_epoch(now)),
        "affected": _n(0),
        "recovered": _n(0),
        "held": _n(0),
        "updated": {"BOOL": False},
        "closed": {"BOOL": False},
        "announced_affected": _n(0),
        "expires_at": _n(to_epoch(now + KEEP)),
    }


def _incident(item: Mapping[str, Any]) -> Incident:
    def num(name: str) -> int:
        return int(item[name]["N"]) if name in item else 0

    cause = Cause(
        CauseKind(item["kind"]["S"]),
        item["provider"]["S"],
        item["app"]["S"] or None,
        item["error_class"]["S"],
        item["code"]["S"] or None,
    )
    announced = item.get("announced_at")
    return Incident(
        incident_id=item["incident_id"]["S"],
        cause=cause,
        opened_at=from_epoch(num("opened_at")),
        last_failure_at=from_epoch(num("last_failure_at")),
        affected=num("affected"),
        recovered=num("recovered"),
        held=num("held"),
        announced_at=from_epoch(int(announced["N"])) if announced else None,
        updated=bool(item.get("updated", {}).get("BOOL")),
        announced_affected=num("announced_affected"),
        closed=bool(item.get("closed", {}).get("BOOL")),
    )

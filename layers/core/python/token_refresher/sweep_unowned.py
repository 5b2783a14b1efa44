"""The sweep's look for managed secrets of no instance (adoption.py does the adopting and the
alerting): when to look, whether this request may adopt, and what the report says."""

from __future__ import annotations

from datetime import datetime, timedelta

from token_refresher.adapters.errors import AwsError
from token_refresher.adoption import ADOPTION_OFF, UnownedSecrets, scan_due
from token_refresher.due import SweepReport
from token_refresher.sweep_request import SweepRequest

EVERY_UNOWNED = "*"  # the report's secret_id when looking for secrets of no instance failed


def sweep_unowned(  # noqa: PLR0913 - the request, its report, and the stack's three settings
    unowned: UnownedSecrets,
    request: SweepRequest,
    report: SweepReport,
    now: datetime,
    *,
    adopt_untagged: bool,
    adopt_on_request: bool,
    sweep_interval: timedelta,
) -> None:
    """Managed secrets of no instance: adopted when told to (a request only where the stack
    allows it: AdoptUntagged on-request or true), alerted otherwise."""
    refused = request.adopt_untagged and not adopt_on_request
    adopt = not refused and (request.adopt_untagged or (request.scheduled and adopt_untagged))
    if not (adopt or refused) and not (request.scheduled and scan_due(now, sweep_interval)):
        return
    try:  # a refused request only lists them
        outcome = unowned.handle(adopt=adopt, dry_run=request.dry_run or refused, now=now)
    except AwsError as exc:
        report.errors.append(
            {"secret_id": EVERY_UNOWNED, "error": exc.code, "error_class": "adopt"}
        )
        return
    report.adopted, report.unowned = outcome.adopted, outcome.unowned
    if refused and outcome.unowned:
        report.errors.append(
            {"secret_id": EVERY_UNOWNED, "error": ADOPTION_OFF, "error_class": "adopt"}
        )

"""Managed secrets that belong to no instance (made before instances existed).

A sweep looks for them now and then (``scan_due``: the first scheduled sweep of each hour, every
scheduled sweep when AdoptUntagged is on, and every manual request with ``adopt_untagged``). It
adopts them into its own instance only when told to: by every scheduled sweep with
AdoptUntagged=true, by a request only with AdoptUntagged=on-request or true (a request elsewhere
only lists them, with ADOPTION_OFF as its error); otherwise each one gets a
``token.config_invalid`` alert (repeated at most daily, remembered in a tag), so that no secret is
left unmanaged in silence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from token_refresher.adapters.errors import AwsError
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.instances import list_unowned
from token_refresher.observability import logger
from token_refresher.state import TAG_INSTANCE, TAG_PROVIDER, TAG_UNOWNED_ALERTED, epoch_tag
from token_refresher.sweep.report import SweepReport
from token_refresher.sweep.request import SweepRequest
from token_refresher.timeutil import to_epoch

if TYPE_CHECKING:
    from token_refresher.adapters.secrets import SecretSummary

REMIND_EVERY = timedelta(hours=24)
# A request (event, `token-refresher adopt`) to adopt, refused by a stack that does not allow it.
ADOPTION_OFF = (
    "adoption by request is off for this deployment (AdoptUntagged=false); deploy it with "
    "AdoptUntagged=on-request (the one deployment of its account and region) to adopt"
)


class _Store(Protocol):
    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]: ...

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None: ...


def scan_due(now: datetime, sweep_interval: timedelta) -> bool:
    """True for the first scheduled sweep of each clock hour (every sweep if they run hourly or
    less often): listing every managed secret of the account is not worth doing every time."""
    into_hour = now - now.replace(minute=0, second=0, microsecond=0)
    return sweep_interval >= timedelta(hours=1) or into_hour < sweep_interval


@dataclass
class UnownedOutcome:
    adopted: list[str] = field(default_factory=list)
    unowned: list[str] = field(default_factory=list)  # left unowned (alerted, or alerted lately)


class UnownedSecrets:
    """AWS errors propagate (the sweep reports them); ``publish`` must not raise."""

    def __init__(self, store: _Store, publish: Callable[[Alert], None], instance: str) -> None:
        self.store = store
        self.publish = publish
        self.instance = instance

    def handle(self, *, adopt: bool, dry_run: bool, now: datetime) -> UnownedOutcome:
        out = UnownedOutcome()
        for entry in list_unowned(self.store):
            arn, tags = entry.arn, entry.tags
            if adopt:
                if not dry_run:
                    self.store.tag(arn, {TAG_INSTANCE: self.instance})
                    logger.info("adopted", extra={"secret_id": arn, "instance": self.instance})
                out.adopted.append(arn)
                continue
            out.unowned.append(arn)
            last = epoch_tag(tags, TAG_UNOWNED_ALERTED)
            if dry_run or (last is not None and now - last < REMIND_EVERY):
                continue
            self._alert(arn, tags.get(TAG_PROVIDER), now, reminder=last is not None)
        return out

    def _alert(self, arn: str, provider: str | None, now: datetime, *, reminder: bool) -> None:
        self.publish(
            Alert(
                AlertEvent.CONFIG_INVALID,
                secret_id=arn,
                provider=provider,
                message="managed by token-refresher but belongs to no instance "
                f"(no {TAG_INSTANCE} tag): no deployment rotates it",
                remediation=f"Tag it {TAG_INSTANCE}=<InstanceName of the deployment that "
                f"should manage it> (this one: {self.instance}). In an account with one "
                "deployment, deploy it with AdoptUntagged=on-request and run "
                "`token-refresher adopt` (or with AdoptUntagged=true) to adopt every such secret.",
                occurred_at=now,
                error_class="config",
                reminder=reminder,
            )
        )
        self.store.tag(arn, {TAG_UNOWNED_ALERTED: str(to_epoch(now))})


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

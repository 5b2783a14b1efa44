"""The fleet simulation's models: a simulated clock, Secrets Manager with its regional quotas, and
the ad platforms. Every figure below is an assumption of the model, named and documented in
docs/fleet.md ("Model"), except the quotas (AWS "Secrets Manager quotas" page, DESIGN.md).

- ``QuotaStore`` is the in-memory Secrets Manager of the unit tests (tests/support/fakes.py: its
  version and staging-label semantics are what the unit tests hold the engines to) with, per
  quota group, a one-second window: a call beyond the quota raises the project's own
  ``StoreThrottled``, as the adapter does for AWS's ThrottlingException. Each call advances the
  clock of the timeline it runs on by the modelled latency. Versions no label points to are
  dropped (AWS keeps up to 100, removing older ones after 24 h; the model counts PutSecretValue per
  secret per day instead). Tag limits: 50 tags per secret (user tags included), checked.
- ``Platform`` stands for a provider: the token lifetime of the real one, refresh-token rotation
  that revokes the old token where the platform rotates, a log-normal latency with a slow tail,
  and incidents (5xx for an hour, a rotated client secret, a mass revocation).
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.support.fakes import FixedClock, InMemorySecretStore

from token_refresher.adapters.errors import StoreThrottled
from token_refresher.adapters.secrets import AWSCURRENT, AWSPENDING, SecretSummary
from token_refresher.errors import ErrorClass, ProviderError
from token_refresher.model import TokenDocument
from token_refresher.providers.base import (
    AppCredentials,
    ProviderContext,
    RefreshResult,
    ValidationResult,
)

# Requests per second per region, none adjustable. ListSecrets: the quotas page lists no figure of
# its own (to verify); the model gives it the DescribeSecret/GetSecretValue budget's order of
# magnitude and reports its use, so the reader can compare with any figure AWS publishes.
QUOTAS = {
    "Get+Describe": 10_000,
    "List": 100,
    "Put+UpdateStage": 50,
    "RotateSecret": 50,
    "TagResource": 50,
}
GROUP = {
    "get_value": "Get+Describe",
    "describe": "Get+Describe",
    "list_versions": "Get+Describe",
    "list": "List",
    "put_pending": "Put+UpdateStage",
    "move_stage": "Put+UpdateStage",
    "rotate": "RotateSecret",
    "tag": "TagResource",
}
LATENCY_S = {  # one call as seen from Lambda in the same region (model assumption)
    "Get+Describe": 0.015,
    "List": 0.150,  # one page of 100 secrets with their tags
    "Put+UpdateStage": 0.025,
    "RotateSecret": 0.040,
    "TagResource": 0.025,
}
PAGE = 100
MAX_TAGS = 50


class SimClock(FixedClock):
    """The simulated time; ``share`` divides call latencies (the sweep's parallel threads)."""

    def __init__(self, now: datetime) -> None:
        super().__init__(now)
        self.share = 1.0

    def spend(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds / self.share)


@dataclass
class Usage:
    """Calls per quota group per simulated second; throttled calls; writes per secret per day."""

    per_second: dict[str, Counter[int]] = field(
        default_factory=lambda: {g: Counter() for g in QUOTAS}
    )
    offered: dict[str, Counter[int]] = field(
        default_factory=lambda: {g: Counter() for g in QUOTAS}
    )  # attempts, throttled ones included
    throttled: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    puts_per_secret_day: Counter[tuple[str, int]] = field(default_factory=Counter)

    def peak(self, group: str) -> int:
        return max(self.per_second[group].values(), default=0)

    def peak_offered(self, group: str) -> int:
        return max(self.offered[group].values(), default=0)

    def mean(self, group: str, seconds: float) -> float:
        return sum(self.per_second[group].values()) / max(seconds, 1.0)


class QuotaStore(InMemorySecretStore):
    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self.clock = clock
        self.usage = Usage()
        self.enforce = True

    def _take(self, op: str) -> None:
        group = GROUP[op]
        second = int(self.clock.now.timestamp())
        window = self.usage.per_second[group]
        self.usage.offered[group][second] += 1
        if group == "List":  # pages follow each other (NextToken): not shared by the threads
            self.clock.advance(timedelta(seconds=LATENCY_S[group]))
        else:
            self.clock.spend(LATENCY_S[group])
        if self.enforce and window[second] >= QUOTAS[group]:
            self.usage.throttled[group] += 1
            raise StoreThrottled(f"{op}: Rate exceeded (model)", code="ThrottlingException")
        window[second] += 1
        self.usage.calls[op] += 1

    def _call(self, op: str, secret_id: str):  # type: ignore[no-untyped-def]
        secret_id = self._name(secret_id)  # the fake finds an ARN by scanning every secret
        self._take(op)
        self.calls.clear()  # the fake's own log would grow for ever; Usage counts instead
        if op == "put_pending":
            self.usage.puts_per_secret_day[
                (secret_id, int(self.clock.now.timestamp()) // 86400)
            ] += 1
        return super()._call(op, secret_id)

    def start_rotation(self, name: str, version_id: str) -> None:
        super().start_rotation(name, version_id)
        self.created_at[version_id] = self.clock.now.timestamp()  # ListSecretVersionIds' date

    def list_by_tag(self, key: str, value: str) -> Iterator[SecretSummary]:
        for n, summary in enumerate(super().list_by_tag(key, value)):
            if n % PAGE == 0:
                self._take("list")
            yield summary
        self.calls.clear()

    def tag(self, secret_id: str, tags: Mapping[str, str]) -> None:
        super().tag(secret_id, tags)
        if len(self._secrets[self._name(secret_id)].tags) > MAX_TAGS:
            raise AssertionError(f"{secret_id}: more than {MAX_TAGS} tags")

    def move_stage(
        self, secret_id: str, stage: str, *, to_version: str | None, from_version: str | None
    ) -> None:
        super().move_stage(secret_id, stage, to_version=to_version, from_version=from_version)
        secret = self._secrets[self._name(secret_id)]
        for version in [v for v, labels in secret.stages.items() if not labels]:
            secret.stages.pop(version)
            secret.values.pop(version, None)

    def _name(self, secret_id: str) -> str:
        return (
            secret_id
            if secret_id in self._secrets
            else secret_id.rsplit(":secret:", maxsplit=1)[-1][:-7]
        )

    def name_of(self, secret_id: str) -> str:
        return self._name(secret_id)

    def current(self, name: str) -> TokenDocument:
        secret = self._secrets[name]
        version = next(v for v, s in secret.stages.items() if AWSCURRENT in s)
        return TokenDocument.from_json(secret.values[version] or "{}")

    def names(self) -> list[str]:
        return list(self._secrets)

    def is_pending(self, name: str) -> bool:
        stages = self._secrets[name].stages.values()
        return any(AWSPENDING in s and AWSCURRENT not in s for s in stages)


@dataclass(frozen=True)
class PlatformSpec:
    lifetime: timedelta
    rotates_refresh_token: bool
    latency_median_s: float = 0.25
    latency_sigma: float = 0.8  # log-normal: p99 about 6x the median (the slow tail)
    calls_per_day_limit: int | None = None  # per app, where the platform publishes one


SPECS = {
    "meta": PlatformSpec(timedelta(days=60), rotates_refresh_token=False),
    "linkedin": PlatformSpec(timedelta(days=60), rotates_refresh_token=False),
    "google_ads": PlatformSpec(timedelta(hours=1), rotates_refresh_token=False),
    "microsoft_ads": PlatformSpec(timedelta(hours=1), rotates_refresh_token=True),
    "amazon_ads": PlatformSpec(timedelta(hours=1), rotates_refresh_token=False),
    "tiktok": PlatformSpec(timedelta(hours=24), rotates_refresh_token=True),
}


@dataclass
class Incident:
    kind: str  # "5xx", "client-secret", "revocation"
    start: datetime
    end: datetime
    fraction: float = 1.0  # of the platform's connections (revocation)


class Platform:
    """One provider's behaviour for the engines (the Provider interface)."""

    requires_app_credentials = True

    def __init__(self, name: str, clock: SimClock, rng: random.Random) -> None:
        self.name = name
        self.spec = SPECS[name]
        self.clock, self.rng = clock, rng
        self.live: dict[str, str] = {}  # connection -> its live refresh token
        self.revoked_at: dict[str, datetime] = {}  # connection -> when its grant was revoked
        self.incidents: list[Incident] = []
        self.calls: Counter[int] = Counter()  # per day
        self.expired_s = 0.0
        self.late: list[datetime] = []  # when a refresh of an already expired token succeeded
        self._n = 0

    def onboard(self, conn: str) -> str:
        self._n += 1
        self.live[conn] = f"{self.name}-r-{self._n}"
        return self.live[conn]

    def _spend(self) -> datetime:
        median = math.log(self.spec.latency_median_s)
        self.clock.spend(self.rng.lognormvariate(median, self.spec.latency_sigma))
        now = self.clock.now
        self.calls[int(now.timestamp()) // 86400] += 1
        return now

    def _fault(self, conn: str, now: datetime) -> ProviderError | None:
        for inc in self.incidents:
            if inc.start <= now < inc.end and inc.kind == "5xx":
                return ProviderError(ErrorClass.TRANSIENT, "HTTP 503 (model)", provider=self.name)
            if inc.start <= now < inc.end and inc.kind == "client-secret":
                return ProviderError(
                    ErrorClass.CONFIG, "invalid_client (model)", provider=self.name
                )
        if conn in self.revoked_at and self.revoked_at[conn] <= now:
            return ProviderError(
                ErrorClass.REAUTH_REQUIRED, "invalid_grant (model)", provider=self.name
            )
        return None

    def refresh(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> RefreshResult:
        now = self._spend()
        conn = str(doc.options.get("conn"))
        fault = self._fault(conn, now)
        if fault is None and doc.refresh_token != self.live.get(conn):
            fault = ProviderError(
                ErrorClass.REAUTH_REQUIRED, "refresh token revoked (model)", provider=self.name
            )
        if fault is not None:
            raise fault
        if doc.expires_at is not None and doc.expires_at < now:
            self.expired_s += (now - doc.expires_at).total_seconds()
            self.late.append(now)
        new_refresh = None
        if self.spec.rotates_refresh_token:
            new_refresh = self.onboard(conn)  # the old one is revoked: only the newest is live
        return RefreshResult(
            access_token=f"{self.name}-a-{self._n}",
            expires_at=now + self.spec.lifetime,
            refresh_token=new_refresh,
        )

    def validate(
        self, doc: TokenDocument, app: AppCredentials | None, ctx: ProviderContext
    ) -> ValidationResult:
        now = self._spend()
        fault = self._fault(str(doc.options.get("conn")), now)
        if fault is not None and fault.error_class is not ErrorClass.REAUTH_REQUIRED:
            raise fault
        return ValidationResult(valid=fault is None, expires_at=doc.expires_at)

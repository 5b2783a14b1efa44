"""Which secrets a sweep looks at: this instance's managed secrets (ListSecrets, tags only), one
provider's, or the ones a manual request names (each described, and refused with an alert when it
is missing or not this instance's)."""

from __future__ import annotations

from token_refresher.adapters.secrets import SecretNotFound, SecretStore
from token_refresher.alerting.failures import FailureReporter
from token_refresher.instances import list_own, refusal
from token_refresher.state import TAG_PROVIDER
from token_refresher.sweep.candidate import Candidate, candidate_from_listing
from token_refresher.sweep.report import SweepReport
from token_refresher.sweep.request import SweepRequest
from token_refresher.timeutil import from_epoch


class Selector:
    def __init__(self, store: SecretStore, instance: str, failures: FailureReporter) -> None:
        self.store = store
        self.instance = instance
        self.failures = failures

    def select(self, request: SweepRequest, report: SweepReport) -> list[Candidate]:
        """The request's candidates; refusals of named secrets go to ``report.errors``."""
        if not request.selects:
            return []
        if request.secret_ids:
            named = (self._named(i, report, request.dry_run) for i in request.secret_ids)
            return [c for c in named if c]
        out = []
        for entry in list_own(self.store, self.instance):
            cand = candidate_from_listing(entry)
            if request.provider is None or cand.provider == request.provider:
                out.append(cand)
        return out

    def _named(self, secret_id: str, report: SweepReport, dry_run: bool) -> Candidate | None:
        try:
            desc = self.store.describe(secret_id)
        except SecretNotFound:
            report.errors.append(
                self.failures.refused(secret_id, "secret not found", alert=not dry_run)
            )
            return None
        why = refusal(desc.tags, self.instance)
        if why is not None:  # a dry run sends nothing: reported only
            report.errors.append(self.failures.refused(secret_id, why, alert=not dry_run))
            return None
        return Candidate(
            secret_id=desc.arn,
            name=desc.name,
            provider=desc.tags.get(TAG_PROVIDER, "unknown"),
            tags=desc.tags,
            rotation_enabled=desc.rotation_enabled,
            last_rotated=from_epoch(desc.last_rotated_at) if desc.last_rotated_at else None,
        )

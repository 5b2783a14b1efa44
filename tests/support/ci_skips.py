"""A skip in CI is a failure: when ``CI`` is set, a skipped test is reported failed (a skipped
module fails the session) unless its node id matches an entry of the allow-list,
``tests/ci_skips.txt``, where every entry says why it may be skipped. Outside CI a skip stays a
skip. Strict xfails are not skips and are left alone. tests/conftest.py registers
:class:`CiSkips`; tests/unit/test_ci_skips.py runs it on a tiny test file in a subprocess."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ALLOWLIST = Path(__file__).resolve().parents[1] / "ci_skips.txt"
ALLOWLIST_ENV = "TR_CI_SKIP_ALLOWLIST"  # another allow-list file (the mechanism's own test)


@dataclass(frozen=True)
class Allowed:
    pattern: str  # a node id, or an fnmatch pattern of node ids
    reason: str


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """CI is set to anything but empty, 0 or false (CI services set it to true or 1)."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false")


def read_allowlist(path: Path) -> list[Allowed]:
    """Entries ``<node id or pattern> | <reason>``; ``#`` starts a comment line. An entry without
    a reason is an error: the list is short because each line must be argued."""
    entries = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, _, reason = (part.strip() for part in line.partition("|"))
        if not pattern or not reason:
            raise pytest.UsageError(f"{path}:{number}: an entry is '<node id> | <reason>'")
        entries.append(Allowed(pattern, reason))
    return entries


class CiSkips:
    """The pytest plugin: turns an unlisted skip into a failure that says what to do."""

    def __init__(self, allowed: list[Allowed], source: Path) -> None:
        self.allowed = allowed
        self.source = source
        self.skipped_modules: list[str] = []

    def is_allowed(self, nodeid: str) -> bool:
        return any(fnmatch.fnmatchcase(nodeid, entry.pattern) for entry in self.allowed)

    def _fail(self, report: Any) -> None:
        if not report.skipped or hasattr(report, "wasxfail") or self.is_allowed(report.nodeid):
            return
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(reason).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (
            f"skipped in CI ({reason}): a skip in CI is a failure; make the test run, or add "
            f"'{report.nodeid} | <why>' to {self.source}"
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self) -> Generator[None, Any, Any]:
        report = yield
        self._fail(report)
        return report

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A skipped module stays a skip (failing its collection would stop the whole run); it
        fails the session at its end instead, named in the summary."""
        if report.skipped and not self.is_allowed(report.nodeid):
            self.skipped_modules.append(report.nodeid)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.skipped_modules and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.skipped_modules:
            terminalreporter.section("skips in CI")
            for nodeid in self.skipped_modules:
                terminalreporter.write_line(
                    f"FAILED: {nodeid} was skipped whole in CI and is not in {self.source}",
                    red=True,
                )


def register(config: pytest.Config) -> None:
    """Install the plugin when CI is set (the allow-list is read once, here)."""
    if not in_ci():
        return
    source = Path(os.environ.get(ALLOWLIST_ENV) or ALLOWLIST)
    config.pluginmanager.register(CiSkips(read_allowlist(source), source), "ci-skips")

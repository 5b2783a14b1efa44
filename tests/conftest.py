"""Fixtures shared by every test layer. Anything that needs LocalStack goes through
``localstack_endpoint``, which starts it when no healthy one answers and stops it afterwards."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import authz, ci_skips, reliability
from tests.support.fake_providers import FakeProviders
from tests.support.leaks import (
    SCANNER,
    RecordingHandler,
    fake_provider_secrets,
    watch_fake_server,
)
from tests.support.localstack import ensure_localstack, stop_localstack
from token_refresher.adapters.notifier import SnsNotifier
from token_refresher.rotation.engine import RotationEngine
from token_refresher.sweep.engine import SweepEngine


@pytest.fixture(scope="session")
def localstack_endpoint() -> Iterator[str]:
    """A healthy LocalStack; stopped at the end of the session only if this session started it."""
    url, started = ensure_localstack()
    _AUTHZ["log_offset"] = authz.call_log_size()  # the functions' calls of this session only
    authz.install_recorder()
    yield url
    if started:
        stop_localstack()


@pytest.fixture(scope="session")
def fake_providers_server() -> Iterator[FakeProviders]:
    """One fake provider server on 127.0.0.1 for the whole session (real sockets)."""
    with FakeProviders() as server:
        SCANNER.add_source(fake_provider_secrets(server))
        watch_fake_server(server)  # its app secrets may go to its own provider paths only
        yield server


@pytest.fixture
def foreign_server() -> Iterator[FakeProviders]:
    """A second fake server on another 127.0.0.1 port: a host no app secret belongs to."""
    with FakeProviders() as server:
        SCANNER.add_source(fake_provider_secrets(server))
        unwatch = watch_fake_server(server)
        yield server
        unwatch()


@pytest.fixture
def fake_providers(fake_providers_server: FakeProviders) -> Iterator[FakeProviders]:
    """The session's fake providers, reset to a clean state for this test, and after it: a
    module fixture that seeds the session's server without this fixture (tests/e2e's two-stack
    world) must not meet an app this test registered (the fake then refuses every other)."""
    SCANNER.add_secrets(*fake_provider_secrets(fake_providers_server)())  # keep them scanned
    fake_providers_server.reset()
    yield fake_providers_server
    SCANNER.add_secrets(*fake_provider_secrets(fake_providers_server)())
    fake_providers_server.reset()


_LAYERS = ("unit", "tooling", "integration", "e2e")


def pytest_configure(config: pytest.Config) -> None:
    """When CI is set, a skip not on tests/ci_skips.txt is a failure (tests/support/ci_skips.py)."""
    ci_skips.register(config)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test carries the marker of its layer (its top folder under tests/)."""
    for item in items:
        parts = item.path.parts
        layer = next((p for p in _LAYERS if p in parts[parts.index("tests") + 1 :][:1]), None)
        if layer and not item.get_closest_marker(layer):
            item.add_marker(getattr(pytest.mark, layer))


# --- authorization evaluation (tests/support/authz.py, docs/aws-parity.md) ---

_AUTHZ: dict[str, Any] = {"log_offset": 0, "ran": set(), "report": None, "error": None}
# Tests that make product calls: handlers in-process (integration), the deployed stack (e2e).
_PRODUCT_FIXTURES = {"integration": "handler_env", "e2e": "deployed"}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and not report.skipped:
        for layer in _AUTHZ.get("layers", {}).get(report.nodeid, ()):
            _AUTHZ["ran"].add(layer)


def pytest_collection_finish(session: pytest.Session) -> None:
    layers: dict[str, tuple[str, ...]] = {}
    for item in session.items:
        names = getattr(item, "fixturenames", ())
        if item.get_closest_marker("no_product_calls"):
            continue
        used = tuple(layer for layer, f in _PRODUCT_FIXTURES.items() if f in names)
        if used:
            layers[item.nodeid] = used
    _AUTHZ["layers"] = layers


def _evaluate_authorization() -> None:
    ran = _AUTHZ["ran"]
    if not ran:
        return
    in_process = list(authz.RECORDS)
    report = authz.evaluate(in_process + authz.read_call_log(_AUTHZ["log_offset"]))
    _AUTHZ["report"] = report
    if "integration" in ran and not in_process:
        _AUTHZ["error"] = (
            "no AWS call of an in-process handler was recorded although integration tests ran: "
            "the recorder is not working (tests/support/aws_calls.py)"
        )
    elif "e2e" in ran and report.from_functions == 0:
        _AUTHZ["error"] = "no call of a deployed function was recorded although e2e tests ran: " + (
            "the recorder in the functions' processes wrote nothing (tests/support/aws_calls.py)"
            if authz.recorder_in_localstack()
            else "LocalStack was started without the recorder (restart it: tools/localstack.sh "
            "stop; the tests start it again)"
        )
    elif report.unattributed:
        _AUTHZ["error"] = (
            f"{report.unattributed} recorded call(s) could not be attributed to a role, so they "
            "were not evaluated: a function of a stack not deployed in this session (delete "
            "leftover stacks from this LocalStack) or a principal the evaluation does not know: "
            + ", ".join(sorted(report.unattributed_by)[:8])
        )
    elif report.denied:
        _AUTHZ["error"] = "the deployed policies deny calls the product makes:\n  " + "\n  ".join(
            report.denied
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reliability.write_if_requested()
    try:
        _evaluate_authorization()
    except Exception as exc:  # the evaluation must fail loudly, never be skipped
        _AUTHZ["error"] = f"authorization evaluation failed: {exc}"
    if _AUTHZ["error"] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    report, error = _AUTHZ["report"], _AUTHZ["error"]
    if report is None and error is None:
        return
    terminalreporter.section("authorization")
    if report is not None:
        terminalreporter.write_line(report.line())
        if terminalreporter.config.getoption("verbose") > 0:
            for label, action in sorted(report.pairs):
                terminalreporter.write_line(f"  {label}: {action}")
    if error:
        terminalreporter.write_line(f"FAILED: {error}", red=True)


# --- leak scan (every test) ---


def _recording(where: str, method: Any) -> Any:
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BaseException as exc:
            SCANNER.record(f"{where} raised", f"{exc!s} {exc!r}")
            raise

    return wrapped


@pytest.fixture(autouse=True)
def leak_scan(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Capture what leaves the code (log records, alerts, escaping exceptions); the report hook
    below adds the test's captured stdout/stderr (metric lines) and fails the test on a leak."""
    SCANNER.reset()
    handler = RecordingHandler(level=logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    real_publish = SnsNotifier.publish

    def publish(self: SnsNotifier, alert: Any) -> None:
        SCANNER.record("sns alert", {"subject": alert.subject(), "body": alert.to_dict()})
        real_publish(self, alert)

    monkeypatch.setattr(SnsNotifier, "publish", publish)
    monkeypatch.setattr(RotationEngine, "run", _recording("RotationEngine.run", RotationEngine.run))
    monkeypatch.setattr(SweepEngine, "run", _recording("SweepEngine.run", SweepEngine.run))
    yield
    root.removeHandler(handler)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when in ("call", "teardown") and report.passed:
        findings = SCANNER.findings(extra=report.sections)
        if findings:
            report.outcome = "failed"
            report.longrepr = "token material leaked:\n  " + "\n  ".join(findings)
    return report


# --- unit tests never leave the machine ---


@pytest.fixture(autouse=True)
def _loopback_only(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests may open sockets to 127.0.0.1 (the fake providers) and nothing else."""
    if request.node.get_closest_marker("unit") is None:
        return
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"unit tests must not reach the network (tried {host})")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)

"""Run the operator CLI in this process, as a user would, with captured output."""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from tests.support import authz, aws_calls
from token_refresher_cli.app import main
from token_refresher_cli.aws import Aws
from token_refresher_cli.console import Console
from token_refresher_cli.context import Context


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def run_cli(argv: list[str], *, stdin: str = "", env: Mapping[str, str] | None = None) -> CliRun:
    """``token-refresher ARGV`` with ``stdin``; AWS access comes from the process environment."""
    out, err = io.StringIO(), io.StringIO()
    ctx = Context(
        console=Console(out, err), stdin=io.StringIO(stdin), env=dict(env or {}), aws=Aws()
    )
    with aws_calls.acting_as(authz.cli_principal(argv, env or {})):  # a documented human role
        code = main(argv, ctx)
    return CliRun(code, out.getvalue(), err.getvalue())


def assert_no_secrets(runs: Iterable[CliRun], secrets: Iterable[str | None]) -> None:
    """No token or app secret (verbatim) in anything the CLI printed."""
    text = "\n".join(r.text for r in runs)
    for secret in secrets:
        if secret:
            assert secret not in text, "a secret value reached the CLI's output"

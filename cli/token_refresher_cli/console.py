"""Terminal output: results on stdout, progress and diagnostics on stderr, secrets masked on both.

Every line the CLI writes passes through one :class:`~token_refresher.redact.Redactor` that knows
each token, refresh token and app secret the command has handled, so a provider message that
echoes one cannot put it on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TextIO

from token_refresher.redact import Redactor

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_ATTENTION = 2  # `status`: something needs a human
EXIT_USAGE = 64  # bad command line (sysexits EX_USAGE), distinct from EXIT_ATTENTION
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

# What each exit code means, in the order `--help` and the README list them.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "ok"),
    (EXIT_ERROR, "error"),
    (EXIT_ATTENTION, "a connection needs a human (status)"),
    (EXIT_USAGE, "bad usage"),
    (EXIT_INTERRUPTED, "interrupted"),
)


class CliError(Exception):
    """A failure to report to the operator: ``message`` says what, ``hint`` what to do."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = EXIT_ERROR):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


class Console:
    def __init__(self, out: TextIO, err: TextIO, redactor: Redactor | None = None) -> None:
        self.out = out
        self.err = err
        self.redactor = redactor or Redactor()

    def print(self, text: str = "") -> None:
        self.out.write(self.redactor(text) + "\n")
        self.out.flush()

    def note(self, text: str) -> None:
        self.err.write(self.redactor(text) + "\n")
        self.err.flush()

    def warn(self, text: str) -> None:
        self.note(f"warning: {text}")

    def error(self, message: str, hint: str | None = None) -> None:
        self.note(f"error: {message}")
        if hint:
            self.note(f"  -> {hint}")

    def progress(self, verb: str, total: int | None = None) -> Progress:
        return Progress(self, verb, total)


class Progress:
    """ "checked 150/1200" on stderr: rewritten in place on a terminal, else one line per step.

    Small jobs (fewer than ``min_total`` items) stay silent; the command prints its summary anyway.
    """

    def __init__(  # noqa: PLR0913 - console, verb and total; the pacing keyword-only
        self,
        console: Console,
        verb: str,
        total: int | None,
        *,
        min_total: int = 20,
        interval_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console
        self.verb = verb
        self.total = total
        self.done = 0
        self._tty = bool(getattr(console.err, "isatty", lambda: False)())
        self._quiet = total is not None and total < min_total
        self._interval = interval_s
        self._clock = clock
        self._last = clock()
        self._step = max(1, (total or 1000) // 10)
        self._shown = False

    def _text(self) -> str:
        return f"{self.verb} {self.done}/{self.total}" if self.total else f"{self.verb} {self.done}"

    def advance(self, n: int = 1) -> None:
        before = self.done
        self.done += n
        if self._quiet:
            return
        if self._tty:
            now = self._clock()
            if now - self._last >= self._interval:
                self._last = now
                self.console.err.write("\r" + self._text())
                self.console.err.flush()
                self._shown = True
        elif before // self._step != self.done // self._step:
            self.console.note(self._text())

    def finish(self) -> None:
        """The final count, if any progress was shown (a summary follows from the command)."""
        if self._quiet:
            return
        if self._tty:
            if self._shown:
                self.console.err.write("\r" + self._text() + "\n")
                self.console.err.flush()
        elif self.done > self._step and self.done % self._step:
            self.console.note(self._text())

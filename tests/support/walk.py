"""docs/getting-started-aws.md as steps: its fenced bash blocks in order, each either run by
tests/e2e/test_getting_started_aws_e2e.py or marked not run, with the reason, by the HTML comment
on the line before it (``<!-- walk: not run (...) -->``). A console-only step that is prose, not
a block, carries ``<!-- walk: console (not run): ... -->``: the e2e test stands in for it where it
can (the account owner's consent)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "getting-started-aws.md"
MARKER = re.compile(r"^<!-- walk: (.+?) -->$")


@dataclass(frozen=True)
class Step:
    line: int  # where the block starts in the doc
    script: str  # the block's text, as written
    run: bool
    reason: str  # why it is not run ("" when it is)


def steps(doc: Path = DOC) -> list[Step]:
    lines = doc.read_text().splitlines()
    out: list[Step] = []
    index = 0
    while index < len(lines):
        if lines[index].strip() != "```bash":
            index += 1
            continue
        end = lines.index("```", index + 1)
        marker = MARKER.match(lines[index - 1]) if index else None
        reason = marker.group(1) if marker else ""
        out.append(Step(index + 1, "\n".join(lines[index + 1 : end]), not reason, reason))
        index = end + 1
    return out


def console_markers(doc: Path = DOC) -> list[str]:
    """The console-only steps written as prose (their marker not before a block)."""
    lines = doc.read_text().splitlines()
    return [
        m.group(1)
        for i, line in enumerate(lines)
        if (m := MARKER.match(line)) and not (i + 1 < len(lines) and lines[i + 1] == "```bash")
    ]


def placeholders(script: str) -> set[str]:
    return set(re.findall(r"<[^<>\n]+>", script))

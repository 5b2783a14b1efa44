"""README.md and docs/ name only things that exist: the docs test.

Every check parses names out of the markdown (inline code spans, fenced code blocks, links) and
looks them up in the code, so a renamed target, flag, parameter, tag or field fails here with the
document and the name. What is extracted, precisely:

- ``make <target>`` in code (spans and fenced blocks): a target of the Makefile;
- repository paths in code spans (first segment a top-level folder or ``token_refresher``; bare
  ``*.py``/``*.md``/``*.sh`` names; ``<placeholder>`` segments match anything; ``file::test``
  node ids name a test that exists) and relative markdown links: they exist;
- ``token-refresher ...`` commands: the CLI's own parser accepts them; bare ``--flags``: an option
  of the CLI;
- CamelCase names: ``X=value`` and names next to the word "parameter" are template Parameters,
  names next to "output(s)" are Outputs; any other CamelCase name exists in template.yaml, in the
  AWS APIs the project calls (botocore's models), or in the code;
- ``token-refresher:<tag>`` (and the tag lists of README and architecture.md): a tag the code or
  template writes or reads; ``token.<event>``: an alert event; the alert body fields, message
  attributes and severities listed in README and alerts.md: what ``alerts.py`` produces;
- ``UPPER_CASE`` variables: read somewhere in the repository (or a standard ``AWS_`` one).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import botocore.session
import pytest
import yaml

from token_refresher.alerts import SEVERITY, Alert, AlertEvent
from token_refresher.state import Status
from token_refresher_cli.app import build_parser

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIP_DIRS = {".git", ".venv", ".venv-sam", ".venv-sec", ".venv-py311", ".venv-localstack"}
SKIP_DIRS |= {".venv-lambda-runtime", ".aws-sam", ".localstack", ".bench", "node_modules"}
# Paths a reader's own run creates (build output, logs): named in docs, absent from a clone.
GENERATED = (".localstack/", "dist/", ".aws-sam/", ".venv", ".bench/")
CODE_DIRS = ("layers/core/python", "cli", "functions", "tools", "bench", "tests")
AWS_SERVICES = (
    "secretsmanager",
    "sns",
    "sqs",
    "lambda",
    "events",
    "logs",
    "cloudwatch",
    "kms",
    "cloudformation",
    "iam",
    "sts",
)


@dataclass(frozen=True)
class Span:
    doc: Path
    line: int
    text: str
    before: str  # the text of the line before the span
    after: str  # the text of the line after the span

    def where(self) -> str:
        return f"{self.doc.relative_to(ROOT)}:{self.line}: `{self.text}`"


def _spans(doc: Path) -> Iterator[Span]:
    in_fence = False
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        for match in re.finditer(r"`([^`]+)`", line):
            yield Span(doc, number, match.group(1), line[: match.start()], line[match.end() :])


def _fenced_lines(doc: Path) -> Iterator[Span]:
    """Logical lines of fenced code blocks (backslash continuations joined)."""
    in_fence, pending, first = False, "", 0
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            continue
        if not in_fence:
            continue
        first = first or number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        yield Span(doc, first, (pending + line).strip(), "", "")
        pending, first = "", 0


SPANS = [s for doc in DOCS for s in _spans(doc)]
FENCED = [s for doc in DOCS for s in _fenced_lines(doc)]
CODE = SPANS + FENCED


def report(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} {what}:\n  " + "\n  ".join(problems)


# --- what exists ----------------------------------------------------------------------------------


@cache
def repo_files() -> tuple[str, ...]:
    """Every file and folder of the working tree (``folder/`` with a slash), venvs left out."""
    out = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        rel = Path(folder).relative_to(ROOT).as_posix()
        prefix = "" if rel == "." else rel + "/"
        out += [prefix + d + "/" for d in dirs] + [prefix + f for f in files]
    return tuple(out)


@cache
def code_text() -> str:
    texts = [(ROOT / name).read_text() for name in ("Makefile", "template.yaml", "pyproject.toml")]
    for folder in CODE_DIRS:
        for path in (ROOT / folder).rglob("*"):
            readable = path.suffix in (".py", ".sh", ".toml", ".txt") or path.name == "Makefile"
            skipped = set(path.relative_to(ROOT).parts) & SKIP_DIRS or path == Path(__file__)
            if readable and not skipped:
                texts.append(path.read_text(errors="replace"))
    texts += [p.read_text() for p in (ROOT / "tools").iterdir() if p.is_file()]
    return "\n".join(texts)


@cache
def make_targets() -> frozenset[str]:
    text = (ROOT / "Makefile").read_text()
    names = re.findall(r"^([A-Za-z0-9_.-]+(?:\s+[A-Za-z0-9_.-]+)*)\s*:(?!=)", text, re.M)
    return frozenset(n for group in names for n in group.split())


@cache
def template() -> dict[str, object]:
    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader: yaml.Loader, suffix: str, node: yaml.Node) -> object:
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node)
        return loader.construct_mapping(node)  # type: ignore[arg-type]

    Loader.add_multi_constructor("!", tagged)
    return dict(yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader))  # noqa: S506  # nosec B506 # SafeLoader subclass


def parameters() -> set[str]:
    return set(template()["Parameters"])  # type: ignore[arg-type]


def outputs() -> set[str]:
    return set(template()["Outputs"])  # type: ignore[arg-type]


@cache
def aws_names() -> frozenset[str]:
    session = botocore.session.get_session()
    names: set[str] = set()
    for service in AWS_SERVICES:
        model = session.get_service_model(service)
        names |= set(model.operation_names) | set(model.shape_names)
        for shape_name in model.shape_names:
            shape = model.shape_for(shape_name)
            names |= set(getattr(shape, "members", {}) or {})
    return frozenset(names)


@cache
def product_text() -> str:
    """What ships: the library, the CLI, the handlers and the template (not the tests)."""
    texts = [(ROOT / "template.yaml").read_text()]
    for folder in ("layers/core/python", "cli", "functions"):
        texts += [p.read_text() for p in (ROOT / folder).rglob("*.py")]
    return "\n".join(texts)


@cache
def tag_names() -> frozenset[str]:
    text = product_text()
    found = set(re.findall(r'TAG_PREFIX \+ "([a-z][a-z-]*)"', text))
    found |= set(re.findall(r"token-refresher:([a-z][a-z-]*)", text))
    return frozenset(found)


def _sample_alert() -> Alert:
    return Alert(
        AlertEvent.RECOVERED,
        secret_id="s",
        provider="p",
        message="m",
        occurred_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def alert_fields() -> set[str]:
    return set(_sample_alert().to_dict())


def alert_attributes() -> set[str]:
    return set(_sample_alert().attributes())


def cli_options() -> set[str]:
    parser = build_parser()
    options = {o for a in parser._actions for o in a.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= {o for a in sub._actions for o in a.option_strings}
    return options


# --- make targets ---------------------------------------------------------------------------------


def test_make_targets_named_in_the_docs_exist():
    problems = []
    for span in CODE:
        for match in re.finditer(
            r"(?<![\w/.-])make((?:\s+[A-Z0-9_]+=\S+)*)\s+([a-z][\w-]*)", span.text
        ):
            if match.group(2) not in make_targets():
                problems.append(f"{span.where()}: no target {match.group(2)!r} in the Makefile")
    report(problems, "make targets that do not exist")


# --- paths ----------------------------------------------------------------------------------------


def _path_candidates(span: Span) -> list[str]:
    text = span.text
    found = re.findall(r"fileb?://([\w./<>*-]+)", text)
    if " " in text or "://" in text or text.startswith(("/", "~", "-")) or "=" in text:
        return found
    top = {p.split("/", 1)[0] for p in repo_files() if "/" in p}
    first = text.split("/", 1)[0].split("::", 1)[0]
    if "/" in text and (first in top or first == "token_refresher"):
        return [*found, text]
    if "/" not in text and re.fullmatch(r"[\w.-]+\.(py|md|sh)", text):
        return [*found, text]
    if re.fullmatch(r"[a-z_]+/", text) and text not in ("token-refresher/",):
        return [*found, text]  # a folder of the library: adapters/, providers/
    return found


def _exists(doc: Path, path: str) -> bool:
    if path.startswith(GENERATED):
        return True
    pattern = re.escape(path).replace(r"\*", "[^/]*")
    pattern = re.sub(r"<[^>]*>", "[^/]+", pattern.replace(r"\<", "<").replace(r"\>", ">"))
    regex = re.compile(rf"(^|.*/){pattern}/?$")
    relative_doc = doc.parent.relative_to(ROOT).as_posix()
    prefix = "" if relative_doc == "." else relative_doc + "/"
    return any(regex.match(f) for f in repo_files()) or any(
        re.fullmatch(prefix + pattern + "/?", f) for f in repo_files()
    )


def _node_id_exists(node: str) -> bool:
    file, *names = node.split("::")
    path = ROOT / file
    if not path.is_file():
        return False
    text = path.read_text()
    return all(
        re.search(rf"^\s*(def|class) {re.escape(n.split('[', 1)[0])}\b", text, re.M) for n in names
    )


def test_repository_paths_named_in_the_docs_exist():
    problems = []
    for span in SPANS:
        for path in _path_candidates(span):
            ok = _node_id_exists(path) if "::" in path else _exists(span.doc, path)
            if not ok:
                problems.append(f"{span.where()}: {path} is not in the repository")
    report(problems, "paths that do not exist")


def test_relative_links_resolve():
    problems = []
    for doc in DOCS:
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"[a-z]+:|#", target):
                    continue
                if not (doc.parent / target.split("#", 1)[0]).exists():
                    problems.append(f"{doc.relative_to(ROOT)}:{number}: link {target}")
    report(problems, "broken relative links")


# --- the CLI --------------------------------------------------------------------------------------


def _cli_commands(text: str) -> Iterator[list[str]]:
    """The argument lists of every `token-refresher` command in a shell line."""
    for raw in re.split(r"\s(?:\||&&|;)\s", text):
        segment = re.sub(r"\[(--[^\]]*)\]", r"\1", raw)  # synopsis: [--json] -> --json
        segment = re.sub(r"<[^>]+>", "x", segment)  # placeholders
        segment = re.sub(r"\s[<>]\s*\S+", "", segment)  # redirections
        try:
            argv = shlex.split(segment, comments=True)
        except ValueError:
            continue
        while argv and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", argv[0]):
            argv = argv[1:]  # VAR=value before the command
        if argv and argv[0].rsplit("/", 1)[-1] == "token-refresher":
            yield argv[1:]


def test_cli_commands_in_the_docs_parse():
    subcommands = {
        name
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    }
    problems = []
    for span in CODE:
        if "..." in span.text:
            continue
        for argv in _cli_commands(span.text):
            if not argv or (len(argv) == 1 and argv[0] in subcommands):
                continue  # the command named in prose, `token-refresher onboard`
            err = io.StringIO()
            try:
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    build_parser().parse_args(argv)
            except SystemExit as exc:
                message = (err.getvalue().strip().splitlines() or [""])[-1]
                # --help / --version exit 0; "arguments are required": a command named in prose
                if exc.code not in (0, None) and "arguments are required" not in message:
                    problems.append(f"{span.where()}: {message}")
    report(problems, "CLI commands the parser refuses")


def test_bare_cli_flags_in_the_docs_exist():
    known = cli_options()
    problems = [
        f"{span.where()}: no such token-refresher option"
        for span in SPANS
        if re.fullmatch(r"--[a-z][a-z0-9-]*", span.text) and span.text not in known
    ]
    report(problems, "options the CLI does not have")


# --- template, AWS and code names ----------------------------------------------------------------


CAMEL = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+")  # two humps at least: AlertEmail


def _kind(span: Span, name: str) -> str | None:
    """ "parameter" or "output" when the sentence says which the name is."""
    before, after = span.before.lower(), span.after.lower()
    if span.text.startswith(name + "="):
        return "parameter"
    if re.match(r"\s*(\(|,)?\s*parameters?\b", after) or re.search(r"\bparameters?\s*$", before):
        return "parameter"
    if re.match(r"\s*outputs?\b", after) or re.search(
        r"\boutputs?\s*(`\w+`\s*(,|and|or)\s*)*$", before
    ):
        return "output"
    return None


def _parameters_paragraph() -> list[Span]:
    """README's 'Parameters: `A` (...), `B`...' paragraph: every CamelCase name is a parameter."""
    readme = ROOT / "README.md"
    lines = readme.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Parameters: `"))
    end = next(i for i in range(start, len(lines)) if not lines[i].strip())
    return [s for s in SPANS if s.doc == readme and start < s.line <= end]


def test_template_parameters_and_outputs_named_in_the_docs_exist():
    problems = []
    in_paragraph = {(s.line, s.text) for s in _parameters_paragraph()}
    assert in_paragraph, "README's Parameters paragraph was not found"
    for span in SPANS:
        name = span.text.split("=", 1)[0]
        if not re.fullmatch(CAMEL, name):
            continue
        kind = (
            "parameter"
            if (span.line, span.text) in in_paragraph and span.doc.name == "README.md"
            else _kind(span, name)
        )
        if kind == "parameter" and name not in parameters():
            problems.append(f"{span.where()}: no parameter {name} in template.yaml")
        if kind == "output" and name not in outputs():
            problems.append(f"{span.where()}: no output {name} in template.yaml")
    report(problems, "template parameters/outputs that do not exist")


def test_every_camel_case_name_exists_somewhere():
    template_text = (ROOT / "template.yaml").read_text()
    # the documented human roles' statement ids (docs/policies/*.json, docs/security.md)
    template_text += "".join(
        p.read_text() for p in sorted((ROOT / "docs" / "policies").glob("*.json"))
    )
    code = code_text()
    problems = []
    for span in SPANS:
        name = span.text.split("=", 1)[0]
        if not re.fullmatch(CAMEL, name):
            continue
        if re.search(rf"\b{name}\b", template_text) or name in aws_names():
            continue
        if re.search(rf"\b{name}\b", code):
            continue
        problems.append(
            f"{span.where()}: {name} is in neither template.yaml, the AWS APIs nor the code"
        )
    report(problems, "names that exist nowhere")


# --- tags, alerts, variables ----------------------------------------------------------------------


def _tag_list_spans() -> list[Span]:
    """README's '- Tags:' bullet and architecture.md's 'State kept in tags' section."""
    out = []
    for doc, start, stop in (
        (ROOT / "README.md", r"^- Tags: ", r"^(- |$)"),
        (ROOT / "docs" / "architecture.md", r"^## State kept in tags", r"^## "),
    ):
        lines = doc.read_text().splitlines()
        first = next(i for i, line in enumerate(lines) if re.match(start, line))
        last = next(
            (i for i in range(first + 1, len(lines)) if re.match(stop, lines[i])), len(lines)
        )
        out += [s for s in SPANS if s.doc == doc and first < s.line <= last]
    return out


def test_tag_names_in_the_docs_exist():
    tags = tag_names()
    statuses = {s.value for s in Status}
    problems = [
        f"{span.where()}: no tag token-refresher:{tag} in the library, CLI, handlers or template"
        for span in SPANS
        for tag in re.findall(r"token-refresher:([a-z][a-z-]*)", span.text)
        if tag not in tags
    ]
    listed = _tag_list_spans()
    assert listed, "the tag lists were not found"
    problems += [
        f"{span.where()}: neither a tag nor a status"
        for span in listed
        if re.fullmatch(r"[a-z][a-z-]*", span.text) and span.text not in tags | statuses
    ]
    report(problems, "tags that do not exist")


def test_alert_events_fields_attributes_and_severities_exist():
    events = {e.value for e in AlertEvent}
    problems = [
        f"{span.where()}: no such alert event"
        for span in SPANS
        if re.fullmatch(r"token\.[a-z_]+", span.text) and span.text not in events
    ]
    fields, attributes = alert_fields(), alert_attributes()
    readme = (ROOT / "README.md").read_text()
    body = re.search(r"SNS message body \(JSON\):(.*?)Message attributes(.*?)for", readme, re.S)
    assert body, "README's alert body paragraph was not found"
    problems += [
        f"README.md: body field `{f}` not in Alert.to_dict()"
        for f in re.findall(r"`(\w+)`", body.group(1))
        if f not in fields
    ]
    problems += [
        f"README.md: message attribute `{a}` not sent"
        for a in re.findall(r"`(\w+)`", body.group(2))
        if a not in attributes
    ]
    alerts_md = (ROOT / "docs" / "alerts.md").read_text()
    table = re.search(r"\| field \| meaning \|\n\|[-| ]+\|\n((?:\|.*\n)+)", alerts_md)
    assert table, "alerts.md's field table was not found"
    for row in table.group(1).splitlines():
        for field in re.findall(r"`(\w+)`", row.split("|")[1]):
            if field not in fields:
                problems.append(f"docs/alerts.md: body field `{field}` not in Alert.to_dict()")
    attrs = re.search(r"Message attributes(.*?)\(strings\)", alerts_md, re.S)
    assert attrs, "alerts.md's message attributes sentence was not found"
    problems += [
        f"docs/alerts.md: message attribute `{a}` not sent"
        for a in re.findall(r"`(\w+)`", attrs.group(1))
        if a not in attributes
    ]
    for row in re.findall(r"^\| `(token\.[a-z_]+)` \| (\w+) \|", alerts_md, re.M):
        if SEVERITY.get(AlertEvent(row[0])) != row[1]:
            problems.append(f"docs/alerts.md: {row[0]} is not severity {row[1]} in alerts.py")
    report(problems, "alert names that do not match alerts.py")


def test_environment_variables_named_in_the_docs_are_read_somewhere():
    code = code_text()
    problems = []
    for span in CODE:
        for name in re.findall(r"(?<![\w$])([A-Z][A-Z0-9]*_[A-Z0-9_]+)(?==|\b)", span.text):
            if name.startswith(("AWS_", "POWERTOOLS_")) or name in code:
                continue
            problems.append(f"{span.where()}: {name} is read nowhere in the repository")
    report(problems, "variables nothing reads")


def test_tiktok_reauthorization_codes_in_the_docs_are_the_codes_the_provider_maps() -> None:
    # 40100 is TikTok's rate limit, not a re-authorization: no "4010x" shorthand
    from token_refresher.providers.tiktok import REAUTH_CODES

    listed = "/".join(str(code) for code in sorted(REAUTH_CODES))
    for path in ("docs/alerts.md", "docs/providers/README.md", "docs/providers/tiktok.md"):
        text = (ROOT / path).read_text()
        assert "4010x" not in text, path
        assert listed in text, path


TRACKER_REFERENCE = re.compile(r"\b(?:issues?|items?) #?\d+", re.IGNORECASE)


def test_code_and_docs_say_what_they_mean_without_tracker_numbers() -> None:
    # Given the docs and every file of the code (a tracker's "issue 19, item 4" tells a reader
    # outside the tracker nothing: say what the item was)
    texts = {doc.relative_to(ROOT).as_posix(): doc.read_text() for doc in DOCS}
    texts["code"] = code_text()
    # Then none refers to an issue by number
    report(
        [
            f"{name}: {m.group(0)}"
            for name, text in texts.items()
            for m in TRACKER_REFERENCE.finditer(text)
        ],
        "tracker references",
    )


# --- commands a reader copies ---------------------------------------------------------------------


def _create_secret_commands() -> list[Span]:
    return [s for s in CODE if "secretsmanager create-secret" in s.text and "--name" in s.text]


def test_every_documented_app_secret_is_tagged_so_the_default_deploy_accepts_it() -> None:
    # Given every `create-secret` of an app secret or a connection in the docs (followed
    # literally, on a stack deployed with the default AppSecretInstanceBinding=required)
    commands = _create_secret_commands()
    apps = [s for s in commands if "/apps/" in s.text.split("--name", 1)[1].split()[0]]
    connections = [s for s in commands if "/connections/" in s.text.split("--name", 1)[1]]
    # Then each app secret names its instances and provider, and each connection is managed by one
    # instance: without these tags, rotation fails with token.config_invalid
    required = {
        "app": ("Key=token-refresher:app-instances,Value=", "Key=token-refresher:app-for,Value="),
        "connection": ("Key=token-refresher:managed,Value=true", "Key=token-refresher:instance,"),
    }
    problems = [
        f"{span.where()}: no {tag}"
        for kind, spans in (("app", apps), ("connection", connections))
        for span in spans
        for tag in required[kind]
        if tag not in span.text
    ]
    report(problems, "create-secret commands the default deploy refuses")
    # And every platform page stores its app that way
    pages = {s.doc.stem for s in apps if s.doc.parent.name == "providers"}
    expected = {p.stem for p in (ROOT / "docs" / "providers").glob("*.md")} - {"README"}
    assert pages == expected


def test_the_sweep_summary_keys_in_the_readme_are_the_ones_the_sweep_returns() -> None:
    from token_refresher.sweep.report import SweepReport

    readme = (ROOT / "README.md").read_text()
    listed = re.search(r"The sweep returns a summary:(.*?)\.\n", readme, re.S)
    assert listed, "README's sweep summary sentence was not found"
    assert set(re.findall(r"`(\w+)`", listed.group(1))) == set(
        SweepReport(scheduled=True, dry_run=False).to_dict()
    )

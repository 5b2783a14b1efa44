"""The CLI in a shell: --version, one example per command in --help, exit codes as documented.

Runs on Python 3.13 with the unit layer and on Python 3.11 against the installed wheel
(`make test-cli-py311`).
"""

from __future__ import annotations

import platform
import re
import shlex
from importlib import metadata

import pytest

from tests.support import stack
from token_refresher_cli import __version__
from token_refresher_cli.app import EXAMPLES, build_parser, main
from token_refresher_cli.console import EXIT_CODES

README = stack.REPO_ROOT / "README.md"


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    return capsys.readouterr().out


def _commands() -> list[str]:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert subparsers.choices is not None
    return list(subparsers.choices)


def test_version_names_the_installed_package_and_the_running_python(capsys):
    # When the version is asked for
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    # Then it exits 0 and names the package version (as installed) and the Python running it
    assert exc.value.code == 0
    assert capsys.readouterr().out == (
        f"token-refresher {__version__} (Python {platform.python_version()})\n"
    )
    assert metadata.version("token-refresher") == __version__


@pytest.mark.parametrize("command", _commands())
def test_help_shows_a_parseable_example_for_every_command(command, capsys):
    # Given the command's example (a command added without one fails here)
    assert command in EXAMPLES, f"add an example for {command!r} to EXAMPLES in app.py"
    line, what = EXAMPLES[command]
    # When the main help and the command's help are shown
    main_help = _help([], capsys)
    command_help = _help([command], capsys)
    # Then both show it with what it does
    for text in (main_help, command_help):
        assert f"  {line}\n      {what}\n" in text
    # And it is a valid command line for that command
    argv = shlex.split(line)
    assert argv[0] == "token-refresher"
    assert build_parser().parse_args(argv[1:]).command == command


def _codes_in_help(text: str) -> dict[int, str]:
    block = text.split("exit codes:\n", 1)[1]
    return {int(m[1]): m[2] for m in re.finditer(r"^  (\d+) +(.+)$", block, re.MULTILINE)}


def test_help_lists_the_exit_codes_the_readme_documents(capsys):
    # When the main help and a command's help are shown
    main_help = _help([], capsys)
    status_help = _help(["status"], capsys)
    # Then both list every exit code the CLI returns, with its meaning
    expected = dict(EXIT_CODES)
    assert _codes_in_help(main_help) == expected
    assert _codes_in_help(status_help) == expected
    assert expected[2] == "a connection needs a human (status)"
    # And the README's CLI section documents the same codes
    cli_section = README.read_text(encoding="utf-8").split("\n## CLI\n", 1)[1].split("\n## ")[0]
    sentence = re.search(r"Exit codes[^:]*:(.+?)\.", cli_section, re.DOTALL)
    assert sentence, "the README's CLI section lost its 'Exit codes:' sentence"
    assert [int(c) for c in re.findall(r"\b(\d+) ", sentence[1])] == list(expected)


def test_bad_usage_exits_with_the_documented_usage_code(capsys):
    # When an option is misspelt
    with pytest.raises(SystemExit) as exc:
        main(["status", "--jsn"])
    # Then the exit code is the one --help lists for bad usage
    assert exc.value.code == next(c for c, meaning in EXIT_CODES if meaning == "bad usage")
    assert "unrecognized arguments: --jsn" in capsys.readouterr().err

"""The library's shape: AWS access only through adapters, no engine importing botocore."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LIBRARY = Path(__file__).resolve().parents[2] / "layers" / "core" / "python" / "token_refresher"
AWS_SDK = ("botocore", "boto3")


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (TYPE_CHECKING blocks and functions too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def engine_files() -> list[Path]:
    return sorted(
        p for p in LIBRARY.rglob("*.py") if "adapters" not in p.relative_to(LIBRARY).parts
    )


def test_the_scan_sees_the_library_and_an_adapter_import():
    # Given the scan over the library, then it finds the engines and would catch an import
    names = {p.relative_to(LIBRARY).as_posix() for p in engine_files()}
    assert {
        "rotation/engine.py",
        "sweep/engine.py",
        "sweep/dispatch.py",
        "sweep/starter.py",
        "alerting/failures.py",
    } <= names
    assert "botocore.exceptions" in imported_modules(LIBRARY / "adapters" / "errors.py")


def test_no_engine_imports_the_aws_sdk():
    # Given every library module outside adapters/, when their imports are read
    offenders = {
        path.relative_to(LIBRARY).as_posix(): sorted(
            m for m in imported_modules(path) if m.split(".")[0] in AWS_SDK
        )
        for path in engine_files()
    }
    # Then none imports botocore or boto3: AWS errors reach them translated (adapters.errors)
    assert {name: mods for name, mods in offenders.items() if mods} == {}


# `.response["Error"]` (what the formatter writes), `.response['Error']`, `.response.get("Error"`
READS_ERROR = re.compile(r"""\.response\s*(?:\[\s*|\.get\(\s*)["']Error["']""")


@pytest.mark.parametrize(
    "line",
    [
        'code = exc.response["Error"]["Code"]',
        "code = exc.response['Error']['Code']",
        'code = exc.response.get("Error", {}).get("Code")',
        "code = exc.response.get( 'Error' )",
    ],
)
def test_the_client_error_scan_sees_every_spelling(line):
    # Given a line reading a ClientError's code in any spelling, then the scan sees it
    assert READS_ERROR.search(line)


def test_only_adapters_errors_reads_a_client_error_code():
    # Given the whole library and the CLI, then `.response["Error"]` is read in one place only
    cli = LIBRARY.parents[3] / "cli" / "token_refresher_cli"
    readers = sorted(
        p.relative_to(LIBRARY.parents[3]).as_posix()
        for p in [*LIBRARY.rglob("*.py"), *cli.rglob("*.py")]
        if READS_ERROR.search(p.read_text())
    )
    assert readers == ["layers/core/python/token_refresher/adapters/errors.py"]


# Secrets Manager's response field names: only the adapters read them (they hand out typed values)
AWS_FIELDS = {
    "ARN",
    "Name",
    "Tags",
    "LastRotatedDate",
    "RotationEnabled",
    "RotationLambdaARN",
    "SecretVersionsToStages",
    "VersionIdsToStages",
    "SecretList",
    "SecretString",
}


def aws_field_names(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and node.value in AWS_FIELDS
    }


def test_no_engine_reads_an_aws_response_field():
    # Given every library module outside adapters/, when their string constants are read
    readers = {
        path.relative_to(LIBRARY).as_posix(): sorted(aws_field_names(path))
        for path in engine_files()
    }
    # Then none names a Secrets Manager response field: the store hands out typed summaries
    assert {name: fields for name, fields in readers.items() if fields} == {}
    assert aws_field_names(LIBRARY / "adapters" / "secrets.py") >= {"ARN", "Tags"}

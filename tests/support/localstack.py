"""Shared access to the LocalStack test bed: reuse a running one, else start it.

Starting goes through tools/localstack.sh (which installs LocalStack on first use).
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "tools" / "localstack.sh"
START_TIMEOUT_SECONDS = 900  # a first start installs LocalStack (about a minute here)


def endpoint_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('LOCALSTACK_PORT', '4566')}"


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def ensure_localstack() -> tuple[str, bool]:
    """The endpoint of a healthy LocalStack, and whether this call started it."""
    url = endpoint_url()
    if is_healthy(url):
        return url, False
    result = subprocess.run(
        [str(SCRIPT), "start"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        check=False,
    )
    if result.returncode != 0 or not is_healthy(url):
        raise RuntimeError(
            f"tools/localstack.sh start failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return url, True


def stop_localstack() -> None:
    subprocess.run(
        [str(SCRIPT), "stop"], cwd=REPO_ROOT, capture_output=True, timeout=60, check=False
    )

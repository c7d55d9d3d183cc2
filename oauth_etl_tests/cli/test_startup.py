"""Start-up: `--help` and the token commands load neither Dagster nor an Azure SDK, and a
development command names the install it needs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oauth_etl_dev.local_services import PROJECT_ROOT

HEAVY = ("dagster", "azure", "starlette", "uvicorn", "rich")
PROBE = """
import atexit, sys
atexit.register(lambda: print("loaded:", sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
sys.modules.update({name: None for name in %r})  # as if not installed
from oauth_etl.cli import main
main()
"""


def probe(
    env: dict[str, str], *args: str, blocked: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY, blocked), *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "args",
    [("--help",), ("token", "status"), ("token", "--help"), ("doctor", "--help")],
)
def test_help_and_token_commands_import_neither_dagster_nor_azure(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    env = {"XERO_CLIENT_ID": "cid", "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 't.json'}"}
    result = probe(env, *args)
    assert "Traceback" not in result.stderr, result.stderr
    assert "loaded: []" in result.stdout, result.stdout


def test_development_commands_name_the_install_they_need() -> None:
    # A runtime install has no sandbox server: the command says so instead of a traceback.
    result = probe({}, "sandbox", "--help", blocked=("starlette",))
    assert result.returncode == 1
    assert "development install" in result.stderr and "Traceback" not in result.stderr
    listed = probe({}, "--help", blocked=("starlette",))
    assert listed.returncode == 0 and "sandbox" in listed.stdout

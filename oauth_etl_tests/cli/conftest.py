"""`oauth-etl` as a user runs it: a child process on the environment contract, pointed at
the sandbox (over HTTP) and Azurite, with a file token store and a Dagster home of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import PROJECT_ROOT, Azurite
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle


def cli(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oauth_etl.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def store_of(env: dict[str, str]) -> FileTokenStore:
    return FileTokenStore(env["OAUTH_ETL_TOKEN_STORE"].removeprefix("file:"))


def secrets_in(env: dict[str, str]) -> list[str]:
    """Every secret the environment and the stored token set hold."""
    tokens = store_of(env).load()
    values = [env["XERO_CLIENT_SECRET"]]
    if "AccountKey=" in env.get("AZURE_STORAGE_CONNECTION_STRING", ""):
        values.append(env["AZURE_STORAGE_CONNECTION_STRING"].split("AccountKey=")[1].split(";")[0])
    if tokens is not None:
        values += [t for t in (tokens.access_token, tokens.refresh_token) if t]
    return [v for v in values if v]


@pytest.fixture
def small_sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    return sandbox_factory("--tenants", "2", "--records", "12", "--no-limits")


@pytest.fixture
def env(small_sandbox: SandboxHandle, azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # no banner
    return {
        **local_environment(small_sandbox.sandbox, azurite, tmp_path),
        "DAGSTER_HOME": str(home),
    }


@pytest.fixture
def authorized(env: dict[str, str]) -> dict[str, str]:
    done = cli(env, "authorize", "--unattended")
    assert done.returncode == 0, done.stderr
    return env

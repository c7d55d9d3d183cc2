"""Settings are refused where they are built (`oauth_etl.app.settings`), so the Dagster
resources, the command line and doctor refuse a malformed one the same way, before any
network call, naming the variable and what it takes, never a secret's value."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from oauth_etl import doctor
from oauth_etl.app import contract
from oauth_etl.app.contract import SettingsError
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.tables.resources import build_table_resources
from oauth_etl.defs.webhooks.resources import build_webhook_resources
from oauth_etl.doctor.run import stream_environment
from oauth_etl_dev.local_services import AZURITE_KEY, PROJECT_ROOT, azurite_connection_string
from oauth_etl_tests import canary
from oauth_etl_tests.test_doctor_down import clean, dead

# (variable, value, what the refusal says); the connection strings' values are secret.
CASES: list[tuple[str, str, str]] = [
    ("XERO_TIMEOUT_SECONDS", "abc", "XERO_TIMEOUT_SECONDS must be a whole number"),
    ("XERO_MAX_ATTEMPTS", "-1", "XERO_MAX_ATTEMPTS is -1: it takes a whole number of at least 1"),
    ("XERO_PAGE_SIZE", "0", "XERO_PAGE_SIZE is 0: it takes a whole number from 1 to 1000"),
    ("XERO_PAGE_SIZE", "1001", "XERO_PAGE_SIZE is 1001: it takes a whole number from 1 to 1000"),
    ("OAUTH_ETL_TOKEN_TIMEOUT_SECONDS", "0", "OAUTH_ETL_TOKEN_TIMEOUT_SECONDS is 0"),
    ("OAUTH_ETL_LOCK_WAIT_SECONDS", "-5", "OAUTH_ETL_LOCK_WAIT_SECONDS is -5"),
    (
        "OAUTH_ETL_LEASE_SECONDS",
        "10",
        "OAUTH_ETL_LEASE_SECONDS is 10: it takes a whole number from 15 to 60",
    ),
    ("OAUTH_ETL_REFRESH_SKEW_SECONDS", "-1", "OAUTH_ETL_REFRESH_SKEW_SECONDS is -1"),
    ("OAUTH_ETL_TABLES_RETENTION_DAYS", "-1", "OAUTH_ETL_TABLES_RETENTION_DAYS is -1"),
    ("AZURE_STORAGE_CONNECTION_STRING", "AccountName=x", "holds no credential"),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        "AccountName=x;AccountKey=notbase64!!",
        "AZURE_STORAGE_CONNECTION_STRING's AccountKey is not base64",
    ),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        f"DefaultEndpointsProtocol=ftp;AccountName=x;AccountKey={AZURITE_KEY}",
        "DefaultEndpointsProtocol is neither http nor https",
    ),
    (
        "AZURE_STORAGE_CONNECTION_STRING",
        "BlobEndpoint=nowhere;SharedAccessSignature=sv=2024&sig=abc",
        "AZURE_STORAGE_CONNECTION_STRING's BlobEndpoint is not a URL",
    ),
    ("AZURE_STORAGE_ACCOUNT_URL", "https://", "AZURE_STORAGE_ACCOUNT_URL is not a URL"),
    ("OAUTH_ETL_TABLES_ROOT", "garbage://x/y", "OAUTH_ETL_TABLES_ROOT has a scheme the tables"),
    ("OAUTH_ETL_TABLES_ENDPOINT_URL", "not-a-url", "OAUTH_ETL_TABLES_ENDPOINT_URL is not a URL"),
    ("OAUTH_ETL_CONNECTIONS", "acme,acme", "'acme' is listed twice"),
    ("OAUTH_ETL_CONNECTIONS", "acme,Bad!", "'Bad!' is not a valid token set name"),
    ("XERO_API_URL", "ftp://api", "XERO_API_URL is not a URL"),
    ("XERO_GRANT_TYPE", "password", "XERO_GRANT_TYPE is 'password'"),
    ("OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES", "abc", "OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES must be a whole"),
    ("OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL", "not-a-url", "WEBHOOK_QUEUE_ACCOUNT_URL is not a URL"),
    ("OAUTH_ETL_WEBHOOK_QUEUE", "Bad_Name", "OAUTH_ETL_WEBHOOK_QUEUE 'Bad_Name' is not a queue"),
    (
        "OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL",
        "http://127.0.0.1:10001/devstoreaccount1",
        "an Azure identity is only sent over https",
    ),
    (
        "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING",
        "AccountName=x;AccountKey=c2VjcmV0",
        "",  # valid: the queue's own connection string may name only an account
    ),
]
SECRET = {"AZURE_STORAGE_CONNECTION_STRING", "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING"}
REFUSED = [case for case in CASES if case[2]]


def base(tmp_path: Path) -> dict[str, str]:
    return {
        "XERO_CLIENT_ID": "cid",
        "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
        "XERO_LOGIN_URL": dead(),
        "XERO_IDENTITY_URL": dead(),
        "XERO_API_URL": dead(),
        "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'token.json'}",
        "AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(int(dead().rsplit(":")[-1])),
    }


def with_case(tmp_path: Path, variable: str, value: str) -> dict[str, str]:
    env = {**base(tmp_path), variable: value}
    if variable == "AZURE_STORAGE_ACCOUNT_URL":
        env.pop("AZURE_STORAGE_CONNECTION_STRING")
    return env


def assert_no_secret(text: str, variable: str, value: str) -> None:
    assert canary.found_in([text]) == []
    if variable in SECRET:
        for part in value.split(";"):
            shown = part.partition("=")[2]
            assert len(shown) < 6 or shown not in text, f"a value of {variable} was shown"


def every_resource_setting(env: dict[str, str]) -> None:
    """What the code location builds from `env`, each resource's settings read."""
    resources = build_resources(env, env_vars=False)
    for name in ("storage", "oauth", "xero"):
        resources[name].settings()
    build_table_resources(resources["storage"], env, env_vars=False)["tables"].settings()
    build_webhook_resources(env, env_vars=False)["webhooks"].settings()


@pytest.mark.parametrize(("variable", "value", "says"), REFUSED)
def test_the_settings_refuse_it_naming_the_variable(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = with_case(tmp_path, variable, value)
    section = contract.BY_NAME[variable].section
    with pytest.raises(SettingsError) as refused:
        contract.settings(contract.SECTIONS[section], env)
    (problem,) = refused.value.problems
    assert problem.variable == variable and says in problem.detail, problem
    assert variable in problem.fix
    assert_no_secret(str(refused.value), variable, value)
    # The Dagster resources refuse it the same way.
    with pytest.raises(SettingsError, match=variable):
        every_resource_setting(env)


@pytest.mark.parametrize(("variable", "value", "says"), REFUSED)
def test_doctor_fails_the_settings_check_and_probes_nothing(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    env = with_case(tmp_path, variable, value)
    started = time.monotonic()
    results = list(stream_environment(env))
    text = doctor.render_text(results)
    clean(text)
    assert_no_secret(text, variable, value)
    first, *rest = results
    assert first.name == "settings" and first.status == "fail", first
    assert says in first.detail and variable in first.fix
    assert text.count(says) == 1  # one root cause, reported once
    assert {r.status for r in rest} == {"skip"}, text  # nothing probed with it
    assert all("needs settings" in r.detail for r in rest), text
    assert time.monotonic() - started < 3


def test_a_queue_connection_string_naming_only_an_account_is_accepted(tmp_path: Path) -> None:
    variable, value, _ = CASES[-1]
    every_resource_setting(with_case(tmp_path, variable, value))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    env = {
        **base(tmp_path),
        "XERO_PAGE_SIZE": "0",
        "OAUTH_ETL_CONNECTIONS": "acme,acme",
        "OAUTH_ETL_TABLES_ROOT": "s3://bucket/x",
    }
    result = doctor.check_settings(env)
    assert result.status == "fail"
    for variable in ("XERO_PAGE_SIZE", "OAUTH_ETL_CONNECTIONS", "OAUTH_ETL_TABLES_ROOT"):
        assert variable in result.detail and variable in result.fix


def test_good_table_roots_are_accepted(tmp_path: Path) -> None:
    for root in ("az://lake/xero", "abfss://lake@acct.dfs.core.windows.net/xero", "file:///x", "x"):
        contract.settings(contract.TablesSettings, {"OAUTH_ETL_TABLES_ROOT": root})


@pytest.mark.parametrize(
    ("variable", "value"), [("XERO_MAX_ATTEMPTS", "-1"), ("XERO_TIMEOUT_SECONDS", "abc")]
)
def test_the_command_line_refuses_it_in_one_line(tmp_path: Path, variable: str, value: str) -> None:
    env: dict[str, Any] = {**os.environ, **with_case(tmp_path, variable, value)}
    done = subprocess.run(
        [sys.executable, "-m", "oauth_etl.cli", "list", "tenants"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done
    assert done.stderr.startswith(f"error: {variable} "), done.stderr
    assert f"set {variable} to a whole number" in done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1

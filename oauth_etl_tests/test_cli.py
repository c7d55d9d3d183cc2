"""`oauth-etl` as a user runs it: real processes against the sandbox, a file token store."""

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI
from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.demo import local_environment, run_demo
from oauth_etl_dev.local_services import PROJECT_ROOT, Azurite
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oauth_etl.cli", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def store_of(env: dict[str, str]) -> FileTokenStore:
    return FileTokenStore(env["OAUTH_ETL_TOKEN_STORE"].removeprefix("file:"))


def secrets_in(env: dict[str, str]) -> list[str]:
    tokens = store_of(env).load()
    values = [env["XERO_CLIENT_SECRET"]]
    if tokens is not None:
        values += [t for t in (tokens.access_token, tokens.refresh_token) if t]
    return values


def grants(sandbox: SandboxHandle) -> tuple[int, int]:
    stats = sandbox.stats()
    return int(stats["grants"]["refresh_token"]), int(stats["invalid_grant"])  # type: ignore[index]


@pytest.fixture
def strict_sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    return sandbox_factory("--strict", "--tenants", "2", "--records", "10", "--no-limits")


@pytest.fixture
def env(strict_sandbox: SandboxHandle, azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return local_environment(strict_sandbox.sandbox, azurite, tmp_path)


def test_authorize_then_look_after_the_token_set(
    env: dict[str, str], strict_sandbox: SandboxHandle
) -> None:
    authorized = cli(env, "authorize", "--unattended")
    assert authorized.returncode == 0, authorized.stderr
    assert authorized.stdout.count("ORGANISATION") == 2  # the tenants it can reach

    status = cli(env, "token", "status")
    assert status.returncode == 0, status.stderr
    assert "access token: valid" in status.stdout
    assert "60 unused" in status.stdout

    ensured = cli(env, "token", "ensure")
    assert ensured.returncode == 0 and grants(strict_sandbox) == (0, 0)  # still valid

    refreshed = cli(env, "token", "refresh")
    assert refreshed.returncode == 0 and grants(strict_sandbox) == (1, 0)

    outputs = authorized.stdout + status.stdout + ensured.stdout + refreshed.stdout
    outputs += authorized.stderr + status.stderr + ensured.stderr + refreshed.stderr
    for secret in secrets_in(env):
        assert secret not in outputs

    revoked = cli(env, "token", "revoke", "--yes")
    assert revoked.returncode == 0, revoked.stderr
    after = cli(env, "token", "ensure")
    assert after.returncode == 1
    assert "oauth-etl authorize" in after.stderr


def test_token_import_reads_stdin_and_refuses_a_bad_token(
    env: dict[str, str], strict_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    # A token set obtained elsewhere: its refresh token is what a user would paste.
    other = {**env, "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'other.json'}"}
    assert cli(other, "authorize", "--unattended").returncode == 0
    moved = store_of(other).load()
    assert moved is not None and moved.refresh_token

    bad = cli(env, "token", "import", stdin="not-a-refresh-token\n")
    assert bad.returncode == 1 and "oauth-etl authorize" in bad.stderr
    assert store_of(env).load() is None  # nothing was written

    imported = cli(env, "token", "import", stdin=moved.refresh_token + "\n")
    assert imported.returncode == 0, imported.stderr
    assert moved.refresh_token not in imported.stdout + imported.stderr
    assert cli(env, "token", "ensure").returncode == 0


def test_token_restore_puts_a_rescued_set_back(
    env: dict[str, str], strict_sandbox: SandboxHandle, tmp_path: Path
) -> None:
    assert cli(env, "authorize", "--unattended").returncode == 0
    current = store_of(env).load()
    assert current is not None
    rescue = tmp_path / "rescue.json"
    rescue.write_bytes(replace(current, obtained_at=current.obtained_at + 1).to_json())
    rescue.chmod(0o600)
    restored = cli(env, "token", "restore", str(rescue))
    assert restored.returncode == 0, restored.stderr
    loaded = store_of(env).load()
    assert loaded == TokenSet.from_json(rescue.read_bytes())


def test_authorize_asks_for_what_a_new_app_gets_and_opts_in_to_journals(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    new_app = sandbox_factory("--scopes", "new-app", "--tenants", "1", "--no-limits")
    env = local_environment(new_app.sandbox, azurite, tmp_path)
    # Asking for Journals fails the whole consent, as Xero does for an app without it.
    refused = cli(env, "authorize", "--unattended", "--with-journals")
    assert refused.returncode == 1 and "scope" in refused.stderr
    assert store_of(env).load() is None
    authorized = cli(env, "authorize", "--unattended")
    assert authorized.returncode == 0, authorized.stderr
    assert "not asked for (opt-in): expense_claims, journals, receipts" in authorized.stdout
    tokens = store_of(env).load()
    assert tokens is not None
    granted = set(tokens.scope.split())
    assert {"offline_access", "accounting.invoices.read"} <= granted
    assert not granted & {"accounting.journals.read", "accounting.classicexpenses.read"}


def test_authorize_sends_the_redirect_uri_registered_on_the_app(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    registered = "http://localhost:9412/oauth/callback"
    app = sandbox_factory("--redirect-uri", registered, "--tenants", "1", "--no-limits")
    env = local_environment(app.sandbox, azurite, tmp_path)
    unregistered = cli(env, "authorize", "--unattended")
    assert unregistered.returncode == 1 and "--redirect-uri" in unregistered.stderr
    given = cli(env, "authorize", "--unattended", "--redirect-uri", registered)
    assert given.returncode == 0, given.stderr
    configured = cli({**env, "XERO_REDIRECT_URI": registered}, "authorize", "--unattended")
    assert configured.returncode == 0, configured.stderr


def test_authorize_help_names_the_default_redirect_uri() -> None:
    result = cli({}, "authorize", "--help")
    assert DEFAULT_REDIRECT_URI in result.stdout and "random" not in result.stdout
    assert "--with-journals" in result.stdout and "--with-classic-expenses" in result.stdout


def test_doctor_fails_before_authorize_and_passes_after(env: dict[str, str]) -> None:
    before = cli(env, "doctor")
    assert before.returncode == 1
    assert "✘ token set: no token set" in before.stdout
    assert "fix: run `oauth-etl authorize`" in before.stdout
    assert "✔ settings" in before.stdout and "✔ landing container" in before.stdout

    assert cli(env, "authorize", "--unattended").returncode == 0
    after = cli(env, "doctor")
    assert after.returncode == 0, after.stdout
    assert after.stdout.count("✔") == 9 and "✘" not in after.stdout
    assert "tenants: 2:" in after.stdout
    as_json = cli(env, "doctor", "--json")
    assert as_json.returncode == 0
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is True and len(payload["checks"]) == 9

    # Journals asked for by the check, not granted: the scopes check names the fix.
    journals = cli(env, "doctor", "--with-journals")
    assert journals.returncode == 1 and "--with-journals" in journals.stdout

    outputs = before.stdout + before.stderr + after.stdout + after.stderr + as_json.stdout
    outputs += journals.stdout + journals.stderr
    account_key = env["AZURE_STORAGE_CONNECTION_STRING"].split("AccountKey=")[1].split(";")[0]
    for secret in [*secrets_in(env), account_key]:
        assert secret not in outputs


def test_missing_client_id_is_a_clear_error(env: dict[str, str]) -> None:
    result = cli({**env, "XERO_CLIENT_ID": ""}, "token", "ensure")
    assert result.returncode == 1
    assert "XERO_CLIENT_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_sandbox_command_is_mounted() -> None:
    result = cli({}, "sandbox", "--help")
    assert result.returncode == 0 and "--time-scale" in result.stdout


def test_demo_lands_every_endpoint_and_prints_its_summary(tmp_path: Path) -> None:
    # The catalog against the sandbox is test_pipeline's: this is the demo command's own run.
    lines: list[str] = []
    saved = dict(os.environ)
    try:
        code = run_demo(tenants=1, records=20, echo=lines.append, home=tmp_path)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert code == 0, "\n".join(lines)
    assert "every landed count equals the sandbox's" in lines
    # Then an invoice saved in the sandbox lands through a webhook (oauth_etl_dev/demo_webhooks.py).
    assert "in xero_tables/invoices: True" in lines[-1]
    rows = [line for line in lines if "/xero/" in line]
    assert len(rows) == 24  # one tenant: the catalog's 27 less the opt-in three (new-app sandbox)
    assert not any(row.split()[1] in ("journals", "expense_claims", "receipts") for row in rows)
    invoices = [row.split() for row in rows if row.split()[1] == "invoices"]
    assert [int(row[2]) for row in invoices] == [20]
    # Its Delta table beside it: one row per invoice, and the line items below it.
    assert [int(row[3]) for row in invoices] == [20]
    (line_items,) = [line.split() for line in lines if line.split()[:1] == ["invoice_line_items"]]
    assert int(line_items[1]) > 0
    assert "every table check passed" in lines
    assert json.dumps(lines).count("demo-secret") == 0


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

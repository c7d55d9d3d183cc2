"""`oauth-etl token ...`, `doctor` and the development commands as a user runs them: real
processes against the sandbox, a file token store."""

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.demo import local_environment, run_demo
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.cli.conftest import cli, secrets_in, store_of
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle


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
    (as_json,) = json.loads(cli(env, "token", "status", "--json").stdout)
    stored = store_of(env).load()
    assert stored is not None and as_json["fingerprint"] == stored.fingerprint()
    assert as_json["token_set"] == "default" and as_json["access_valid"] is True

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


def test_doctor_fails_before_authorize_and_passes_after(env: dict[str, str]) -> None:
    before = cli(env, "doctor")
    assert before.returncode == 1
    assert "✘ token set: no token set" in before.stdout
    assert "fix: run `oauth-etl authorize`" in before.stdout
    assert "✔ settings" in before.stdout and "✔ landing container" in before.stdout

    assert cli(env, "authorize", "--unattended").returncode == 0
    after = cli(env, "doctor")
    assert after.returncode == 0, after.stdout
    assert after.stdout.count("✔") == 12 and "✘" not in after.stdout
    assert "tenants: 2:" in after.stdout
    as_json = cli(env, "doctor", "--json")
    assert as_json.returncode == 0
    payload = json.loads(as_json.stdout)
    assert payload["ok"] is True and len(payload["checks"]) == 12

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

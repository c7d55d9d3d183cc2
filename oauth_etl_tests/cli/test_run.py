"""`oauth-etl list ...` and `oauth-etl run` over the sandbox, Azurite and a Dagster home:
the cursors the command shows are the materializations', and --full-refresh resets them."""

from __future__ import annotations

import json
from pathlib import Path

from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.cli.conftest import cli, secrets_in
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle


def test_list_endpoints_says_what_the_granted_scopes_allow(authorized: dict[str, str]) -> None:
    listed = cli(authorized, "list", "endpoints", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["endpoint"]: row for row in json.loads(listed.stdout)}
    assert len(rows) == 27
    invoices = rows["invoices"]
    assert invoices["scope"] == "accounting.invoices.read" and invoices["allowed"] is True
    assert invoices["incremental_field"] == "UpdatedDateUTC" and invoices["daily"] is True
    assert rows["journals"]["daily"] is False
    text = cli(authorized, "list", "endpoints")
    assert text.returncode == 0 and "invoices" in text.stdout and "opt-in" in text.stdout


def test_list_tenants_of_every_token_set(authorized: dict[str, str]) -> None:
    listed = cli(authorized, "list", "tenants", "--json")
    assert listed.returncode == 0, listed.stderr
    payload = json.loads(listed.stdout)
    assert [row["token_set"] for row in payload["tenants"]] == ["default", "default"]
    assert payload["failed"] == {}


def test_run_then_cursors_then_a_full_refresh(
    authorized: dict[str, str], small_sandbox: SandboxHandle
) -> None:
    tenants = [
        r["tenant_id"]
        for r in json.loads(cli(authorized, "list", "tenants", "--json").stdout)["tenants"]
    ]
    first = cli(authorized, "run", "--select", "invoices,xero/contacts", "--tenant", tenants[0])
    assert first.returncode == 0, first.stdout + first.stderr
    # Not a terminal: plain lines, one per change, the budget left after each endpoint.
    landed = [x for x in first.stdout.splitlines() if x.startswith("✔") and " xero/" in x]
    assert len(landed) == 2, first.stdout
    assert all("calls left:" in line and "this minute" in line for line in landed)
    assert "\x1b[" not in first.stdout

    cursors = json.loads(
        cli(authorized, "list", "cursors", "--json", "--select", "invoices").stdout
    )
    by_tenant = {row["tenant_id"]: row for row in cursors}
    assert by_tenant[tenants[0]]["cursor"]  # from the materialization just made
    assert by_tenant[tenants[1]]["cursor"] is None  # never extracted

    again = cli(authorized, "run", "--select", "invoices", "--tenant", tenants[0], "--json")
    assert again.returncode == 0, again.stderr
    (run,) = json.loads(again.stdout)
    assert run["endpoints"][0]["records"] == 0  # nothing changed since the cursor

    full = cli(
        authorized,
        "run",
        "--select",
        "invoices",
        "--tenant",
        tenants[0],
        "--full-refresh",
        "--json",
    )
    assert full.returncode == 0, full.stderr
    (run,) = json.loads(full.stdout)
    assert run["endpoints"][0]["records"] == 12  # read again from scratch
    for secret in secrets_in(authorized):
        assert secret not in first.stdout + first.stderr + again.stdout + full.stdout


def test_a_failing_endpoint_says_why_and_fails_the_command(authorized: dict[str, str]) -> None:
    # Journals is opt-in: the default authorization did not ask for its scope.
    tenants = json.loads(cli(authorized, "list", "tenants", "--json").stdout)["tenants"]
    one = tenants[0]["tenant_id"]
    failed = cli(authorized, "run", "--select", "journals,tax_rates", "--tenant", one)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    (line,) = [x for x in failed.stdout.splitlines() if "xero/journals" in x and "✘" in x]
    assert "journals needs the scope accounting.journals.read" in line
    assert "--with-journals" in line
    assert any(x.startswith("✔") and "xero/tax_rates" in x for x in failed.stdout.splitlines())
    assert failed.stderr.startswith("error: not landed: xero/journals")
    assert failed.stdout.count("journals needs the scope") == 1  # said once
    assert "Traceback" not in failed.stdout + failed.stderr


def test_run_without_dagster_home_says_so_before_any_call(authorized: dict[str, str]) -> None:
    homeless = {k: v for k, v in authorized.items() if k != "DAGSTER_HOME"}
    refused = cli({**homeless, "XERO_API_URL": "http://127.0.0.1:1"}, "run")
    assert refused.returncode == 1 and "DAGSTER_HOME is not set" in refused.stderr


def test_run_refuses_unknown_endpoints_and_tenants(authorized: dict[str, str]) -> None:
    typo = cli(authorized, "run", "--select", "invoice")
    assert typo.returncode == 1 and "did you mean invoices" in typo.stderr
    stranger = cli(authorized, "run", "--select", "invoices", "--tenant", "nope")
    assert stranger.returncode == 1 and "not known" in stranger.stderr
    both = cli(authorized, "run", "--no-tables", "--submit", "http://127.0.0.1:1")
    assert both.returncode == 1 and "--no-tables is for a run in this process" in both.stderr
    assert "Traceback" not in typo.stderr + stranger.stderr + both.stderr


def test_a_run_longer_than_its_timeout_ends_the_command(
    sandbox_factory: SandboxFactory, azurite: Azurite, tmp_path: Path
) -> None:
    slow = sandbox_factory(
        "--tenants", "1", "--records", "5", "--no-limits", "--latency-ms", "4000"
    )
    home = tmp_path / "home"
    home.mkdir()
    env = {**local_environment(slow.sandbox, azurite, tmp_path), "DAGSTER_HOME": str(home)}
    assert cli(env, "authorize", "--unattended").returncode == 0
    late = cli(env, "run", "--select", "invoices", "--timeout", "2")
    assert late.returncode == 1, late.stdout + late.stderr
    assert "after 2 s" in late.stderr and "--timeout SECONDS" in late.stderr
    assert "Traceback" not in late.stderr

"""`oauth-etl run` in this process merges what it landed into the endpoints' Delta tables
(for the same tenant), as a deployment's sensor does; `--no-tables` only lands; a merge
that fails says so in one line, exits 1 and keeps the landed batches for the next run."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from oauth_etl_tests.cli.conftest import cli, secrets_in
from oauth_etl_tests.conftest import SandboxHandle


@pytest.fixture
def landing(authorized: dict[str, str]) -> dict[str, str]:
    """The landing environment on a prefix of its own: Azurite's container is shared by
    the tests, and the tables live under the prefix (`<prefix>tables/xero`)."""
    return {**authorized, "OAUTH_ETL_PREFIX": f"run-{uuid.uuid4().hex[:12]}/"}


def _tenants(env: dict[str, str]) -> list[str]:
    listed = json.loads(cli(env, "list", "tenants", "--json").stdout)["tenants"]
    return [row["tenant_id"] for row in listed]


def _rows(env: dict[str, str], table: str, tenant_id: str) -> tuple[int, int]:
    """(version, the tenant's rows) of a table, as `table show` reads them."""
    shown = cli(env, "table", "show", table, "--tenant", tenant_id)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    found = re.search(r"version (\d+), (\d+) row\(s\) for tenant", shown.stdout)
    assert found is not None, shown.stdout
    return int(found[1]), int(found[2])


def test_a_run_merges_the_tables_of_what_it_landed(
    landing: dict[str, str], small_sandbox: SandboxHandle
) -> None:
    one, other = _tenants(landing)
    done = cli(landing, "run", "--select", "invoices,contacts", "--tenant", one)
    assert done.returncode == 0, done.stdout + done.stderr
    records = small_sandbox.stats()["records"][one]  # type: ignore[index]
    lines = done.stdout.splitlines()
    for table, sandbox_name in (("invoices", "Invoices"), ("contacts", "Contacts")):
        version, rows = _rows(landing, table, one)
        assert rows == records[sandbox_name] > 0
        # One line per table merged: the tenant's rows and the table's version, once.
        (line,) = [x for x in lines if f"xero_tables/{table}:" in x]
        assert line.startswith("✔") and f": {rows} rows, version {version}" in line, line
    assert any(x.startswith("✔") and "xero_tables/invoice_line_items:" in x for x in lines)
    assert "table(s) merged" in lines[-1], done.stdout
    # The same tenant only: the other one is not in the table, and `table show` says so.
    absent = cli(landing, "table", "show", "invoices", "--tenant", other)
    assert (
        absent.returncode == 1 and f"no tenant '{other}' in xero_tables/invoices" in absent.stderr
    )
    assert f"give one of the tenants it has: {one}" in absent.stderr

    # --json: the merge of each run, beside its endpoints.
    again = cli(landing, "run", "--select", "invoices", "--tenant", one, "--json")
    assert again.returncode == 0, again.stderr
    (run,) = json.loads(again.stdout)
    assert run["endpoints"][0]["records"] == 0  # nothing new since the cursor
    merged = {t["table"]: t for t in run["merge"]["tables"]}
    assert run["merge"]["status"] == "SUCCESS" and run["merge"]["run_id"] != run["run_id"]
    assert merged["invoices"]["state"] == "merged"
    # The table's check ran too, as in the deployment's xero_tables job.
    assert merged["invoices"]["ids_match_landed"] is True
    assert merged["invoices"]["rows"] == records["Invoices"]
    assert merged["invoices"]["version"] == _rows(landing, "invoices", one)[0]
    for secret in secrets_in(landing):
        assert secret not in done.stdout + done.stderr + again.stdout


def test_no_tables_then_a_failed_merge_keep_the_batches_for_the_next_run(
    landing: dict[str, str], small_sandbox: SandboxHandle
) -> None:
    one = _tenants(landing)[0]
    landed_only = cli(landing, "run", "--select", "invoices", "--tenant", one, "--no-tables")
    assert landed_only.returncode == 0, landed_only.stdout + landed_only.stderr
    assert "xero_tables/" not in landed_only.stdout and "merged" not in landed_only.stdout
    unmerged = cli(landing, "table", "show", "invoices")
    assert unmerged.returncode == 1 and "not merged yet" in unmerged.stderr, unmerged.stderr

    # The tables' root unreachable: the extraction lands, the merge fails in one line.
    lost = {**landing, "OAUTH_ETL_TABLES_ROOT": "az://no-such-container/tables/xero"}
    failed = cli(lost, "run", "--select", "contacts", "--tenant", one)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    (line,) = [x for x in failed.stdout.splitlines() if "xero_tables/" in x]
    assert line.startswith("✘") and "xero_tables/contacts: merge failed: " in line, line
    assert "404 Not Found, ContainerNotFound: The specified container" in line, line
    assert any(x.startswith("✔") and " xero/contacts:" in x for x in failed.stdout.splitlines())
    (error,) = failed.stderr.splitlines()
    assert error.startswith(f"error: not merged: xero_tables/contacts ({one})"), error
    assert "the landed batches are kept" in error
    assert "Traceback" not in failed.stdout + failed.stderr

    # The next run lands nothing new and merges every batch kept: the sandbox's records.
    records = small_sandbox.stats()["records"][one]  # type: ignore[index]
    fixed = cli(landing, "run", "--select", "invoices,contacts", "--tenant", one, "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    (run,) = json.loads(fixed.stdout)
    assert [e["records"] for e in run["endpoints"]] == [0, 0]
    assert _rows(landing, "invoices", one)[1] == records["Invoices"]
    assert _rows(landing, "contacts", one)[1] == records["Contacts"]
    for secret in secrets_in(landing):
        assert secret not in failed.stdout + failed.stderr

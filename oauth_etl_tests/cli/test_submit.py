"""`oauth-etl run --submit URL`: the runs are queued through a running deployment's
webserver (its GraphQL API), executed by its launcher, and followed from its DAGSTER_HOME
until each endpoint landed; without DAGSTER_HOME the command prints the run ids."""

from __future__ import annotations

import json
from pathlib import Path

from oauth_etl_tests.cli.conftest import cli, secrets_in
from oauth_etl_tests.ui.webserver import running_webserver, wait_for_run, write_dagster_home

JOB_QUERY = "query($runId: ID!) { runOrError(runId: $runId) { ... on Run { jobName } } }"


def test_runs_submitted_to_a_deployment_are_followed_to_the_end(
    authorized: dict[str, str], tmp_path: Path
) -> None:
    home = write_dagster_home(Path(authorized["DAGSTER_HOME"]))
    env = {**authorized, "DAGSTER_HOME": str(home)}
    tenants = [
        r["tenant_id"] for r in json.loads(cli(env, "list", "tenants", "--json").stdout)["tenants"]
    ]
    # The deployment knows its tenants (xero/tenants or the sensor registers them; here a
    # first run in process does).
    first = cli(env, "run", "--select", "contacts", "--tenant", tenants[0])
    assert first.returncode == 0, first.stdout + first.stderr
    with running_webserver(env, home, timeout=90.0) as server:
        submitted = cli(
            env, "run", "--select", "invoices", "--tenant", tenants[0], "--submit", server.url
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        assert "queued run " in submitted.stdout
        landed = [line for line in submitted.stdout.splitlines() if line.startswith("✔")]
        assert len(landed) == 1 and "xero/invoices: 12 records" in landed[0], submitted.stdout

        # Without the deployment's DAGSTER_HOME: queued, its id printed, not followed.
        blind = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
        queued = cli(
            blind, "run", "--select", "contacts", "--tenant", tenants[0], "--submit", server.url
        )
        assert queued.returncode == 0, queued.stderr
        run_id = queued.stdout.split("queued run ")[1].split()[0]
        assert wait_for_run(server, run_id, timeout=120.0) == "SUCCESS"
        # A daily endpoint goes as xero_extract: the job whose successful runs the
        # deployment's xero_tables_after_extract sensor follows with the tables' merge.
        job = server.graphql(JOB_QUERY, {"runId": run_id})["runOrError"]["jobName"]
        assert job == "xero_extract"

    dead = cli(env, "run", "--select", "invoices", "--tenant", tenants[0], "--submit", server.url)
    assert dead.returncode == 1 and "cannot reach the Dagster webserver" in dead.stderr
    assert "connection refused" in dead.stderr and len(dead.stderr.splitlines()) == 1
    for secret in secrets_in(env):
        assert secret not in submitted.stdout + submitted.stderr + queued.stdout + dead.stderr

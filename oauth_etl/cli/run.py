"""`oauth-etl run`: extract chosen endpoints for chosen tenants through Dagster (like
`dagster asset materialize --select ... --partition ...`), one run per tenant, with live
progress: pages, records, and the tenant's calls left in the minute and the day.

In this process by default (the materializations, so the cursors, go to DAGSTER_HOME),
each tenant's run followed by a second one merging what landed into the endpoints' Delta
tables (`--no-tables`: land only); or `--submit URL`: queued on a running deployment
through its webserver, whose sensor merges the tables, and followed from DAGSTER_HOME when
it is the deployment's. On a terminal the progress redraws in place;
otherwise (a pipe, a log) each change is one plain line.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import click

from oauth_etl.cli.base import connected, echo_json, fail, json_option
from oauth_etl.cli.choose import endpoints as chosen_endpoints
from oauth_etl.cli.choose import select_option
from oauth_etl.cli.choose import tenants as chosen_tenants
from oauth_etl.cli.engine import commands

_MARK = {"queued": " ", "running": "…", "landed": "✔", "merged": "✔", "failed": "✘"}


def describe(shown: Any) -> str:
    """One endpoint's line: its state, then its latest figures."""
    head = f"{_MARK.get(shown.state, ' ')} {shown.tenant_id[:8]} xero/{shown.endpoint}"
    if shown.state == "landed":
        budget = ""
        if shown.minute_left is not None or shown.day_left is not None:
            minute = "?" if shown.minute_left is None else shown.minute_left
            day = "?" if shown.day_left is None else shown.day_left
            budget = f"; calls left: {minute} this minute, {day} today"
        return (
            f"{head}: {shown.records} records, {shown.pages} pages, {shown.api_calls} calls"
            + budget
        )
    if shown.state == "failed":
        return f"{head}: failed: {shown.message}"
    if shown.message:
        return f"{head}: {shown.message.split(': ', 1)[-1]}"
    return f"{head}: {shown.state}"


def describe_table(shown: Any) -> str:
    """One table's line after a merge: the tenant's rows in it, and its Delta version."""
    head = f"{_MARK.get(shown.state, ' ')} {shown.tenant_id[:8]} xero_tables/{shown.table}"
    if shown.state == "merged":
        batches = "" if shown.batches is None else f", {shown.batches} batch(es) merged"
        return f"{head}: {shown.rows} rows, version {shown.version}{batches}"
    if shown.state == "failed" and shown.rows is not None:  # merged, then its check failed
        return f"{head}: {shown.rows} rows, version {shown.version}; {shown.message}"
    if shown.state == "failed":
        return f"{head}: merge failed: {shown.message}"
    return f"{head}: {'merging' if shown.state == 'running' else shown.state}"


def _lines(progress: Any) -> list[tuple[str, str, str]]:
    """(name, state, line) of every endpoint, then every table, of a run."""
    return [
        *((s.endpoint, s.state, describe(s)) for s in progress.endpoints.values()),
        *((f"table:{s.table}", s.state, describe_table(s)) for s in progress.tables.values()),
    ]


class Live:
    """Progress on a terminal (redrawn in place) or as plain lines (each change once)."""

    def __init__(self, terminal: bool, quiet: bool = False) -> None:
        self.terminal = terminal
        self.quiet = quiet
        self._drawn = 0
        self._said: dict[tuple[str, str], str] = {}

    def __call__(self, progress: Any) -> None:
        if self.quiet:
            return
        shown = _lines(progress)
        if self.terminal:
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            click.echo(up + "".join(f"\x1b[2K{x}\n" for _, _, x in shown), nl=False, color=True)
            self._drawn = len(shown)
            return
        for name, state, line in shown:
            key = (progress.run_id, name)
            quiet = ("queued", "running") if name.startswith("table:") else ("queued",)
            if state not in quiet and self._said.get(key) != line:  # a table: when merged
                self._said[key] = line
                click.echo(line)

    def finish(self) -> None:
        self._drawn = 0


@contextlib.contextmanager
def _bounded() -> Iterator[None]:
    """A run that outlives --timeout ends the command with what to do."""
    try:
        yield
    except TimeoutError as exc:
        fail(str(exc), "give it more time (--timeout SECONDS), or follow it in the Dagster UI")


@click.command("run")
@select_option
@click.option(
    "--tenant",
    "tenant_ids",
    multiple=True,
    metavar="ID",
    help="A tenant to extract (repeat; default: every organisation the token sets reach).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="This run ignores the stored cursors of the selected endpoints: the incremental "
    "ones read every record again (Journals from the first journal; the others are read "
    "whole every run anyway). The cursor it commits replaces the old one: the one way to "
    "reset a cursor (a run that fails commits none, the old one stays). It deletes nothing "
    "landed or merged: its batch is merged like any other.",
)
@click.option(
    "--no-tables",
    is_flag=True,
    help="Only land the batches: do not merge them into the Delta tables afterwards (the "
    "next run that merges picks them up).",
)
@click.option(
    "--submit",
    "webserver",
    default=None,
    metavar="URL",
    help="Queue the runs on a running deployment (its webserver, e.g. http://127.0.0.1:3000) "
    "instead of running here. The tables are then the deployment's: daily endpoints go as "
    "`xero_extract` runs, which its sensor xero_tables_after_extract follows with the merge "
    "(when its daemon runs); opt-in ones (Journals...) go as asset runs, their tables "
    "materialized on demand. Not with --no-tables.",
)
@click.option("--location", default=None, help="With --submit: the code location's name.")
@click.option(
    "--timeout",
    type=click.IntRange(1, 86_400),
    default=3600,
    show_default=True,
    help="Longest wait for one run, in seconds (a run in this process stops with the command).",
)
@json_option
def run_command(
    select: tuple[str, ...],
    tenant_ids: tuple[str, ...],
    full_refresh: bool,
    no_tables: bool,
    webserver: str | None,
    location: str | None,
    timeout: int,
    as_json: bool,
) -> None:
    """Extract the chosen endpoints for the chosen tenants through Dagster, one run per
    tenant, then merge what landed into the endpoints' Delta tables (`xero_tables/...`)
    for that tenant, one run more, as a deployment's sensor does; exit status 0 only when
    every endpoint landed and every table merged. A failed merge keeps the landed batches:
    the next run merges them."""
    wanted = chosen_endpoints(select)
    _check_submit(webserver, location)
    if webserver and no_tables:
        fail(
            "--no-tables is for a run in this process: with --submit the deployment merges",
            "drop --no-tables (its sensor xero_tables_after_extract merges after the runs)",
        )
    side = commands()
    if webserver:
        _submit(side, wanted, tenant_ids, full_refresh, webserver, location, timeout, as_json)
        return
    live = Live(sys.stdout.isatty(), quiet=as_json)
    outcomes = []
    with _bounded(), side.instance() as instance:  # DAGSTER_HOME before any network call
        with connected() as (_, api):
            organisations = side.organisation_ids(api.connections())
        tenants = chosen_tenants(tenant_ids, organisations, "to the token sets")
        side.register_tenants(instance, organisations)
        for tenant_id in tenants:
            if not as_json:
                click.echo(
                    f"tenant {tenant_id}: {len(wanted)} endpoint(s)"
                    + (" from scratch (--full-refresh)" if full_refresh else "")
                )
            run = side.run_in_process(
                instance,
                wanted,
                tenant_id,
                full_refresh=full_refresh,
                on_change=live,
                timeout=float(timeout),
            )
            live.finish()
            merge = None
            landed = [e for e in wanted if run.endpoints[e.name].state == "landed"]
            if landed and not no_tables:
                if not as_json:
                    click.echo(f"tenant {tenant_id}: merging into the Delta tables")
                merge = side.merge_in_process(
                    instance, landed, tenant_id, on_change=live, timeout=float(timeout)
                )
                live.finish()
            outcomes.append((run, merge))
    _conclude(outcomes, as_json)


def _check_submit(webserver: str | None, location: str | None) -> None:
    """`--submit ''` would run here instead, `--location` alone would be ignored: refused."""
    if webserver is not None and not webserver.strip():
        fail(
            "--submit is empty",
            "give the deployment's webserver URL (e.g. http://127.0.0.1:3000), or leave "
            "--submit out to run in this process",
        )
    if location is not None and not webserver:
        fail(
            "--location only applies with --submit (the deployment's code location)",
            "add --submit URL, or drop --location to run in this process",
        )
    if location is not None and not location.strip():
        fail("--location is empty", "give the code location's name, or leave --location out")


def _submit(
    side: Any,
    wanted: Any,
    tenant_ids: tuple[str, ...],
    full_refresh: bool,
    webserver: str,
    location: str | None,
    timeout: int,
    as_json: bool,
) -> None:
    side.webserver_url(webserver)  # a malformed URL is told first
    if not tenant_ids and not os.environ.get(side.HOME_VAR):
        fail(
            "--submit needs the tenants: give --tenant ID",
            f"or set {side.HOME_VAR} to the deployment's Dagster home to run every tenant",
        )
    home = bool(os.environ.get(side.HOME_VAR))
    if home:
        with side.instance() as instance:
            tenants = chosen_tenants(tenant_ids, side.tenants_of(instance), "to the deployment")
    else:
        tenants = list(dict.fromkeys(tenant_ids))
    runs = [
        (t, side.submit(webserver, wanted, t, full_refresh=full_refresh, location=location))
        for t in tenants
    ]
    if not home:
        for tenant_id, run_id in runs:
            click.echo(f"queued run {run_id} for tenant {tenant_id}: {webserver}/runs/{run_id}")
        if as_json:
            echo_json([{"tenant_id": t, "run_id": r, "status": "QUEUED"} for t, r in runs])
        return
    live = Live(sys.stdout.isatty(), quiet=as_json)
    outcomes = []
    with _bounded(), side.instance() as instance:
        for tenant_id, run_id in runs:
            if not as_json:
                click.echo(f"queued run {run_id} for tenant {tenant_id}")
            followed = side.follow_submitted(
                instance, run_id, wanted, tenant_id, live, float(timeout)
            )
            outcomes.append((followed, None))  # the deployment's sensor merges the tables
            live.finish()
    _conclude(outcomes, as_json)


def _conclude(outcomes: list[tuple[Any, Any]], as_json: bool) -> None:
    """Each run's failure not said yet, the `--json` payload, then the exit status."""
    runs = [run for pair in outcomes for run in pair if run is not None]
    for run in runs:
        shown = [*run.endpoints.values(), *run.tables.values()]
        said = any(s.state == "failed" for s in shown)
        if run.failure and not said and not as_json:  # a step's failure was said already
            click.echo(f"✘ run {run.run_id} for tenant {run.tenant_id}: {run.failure}")
    if as_json:
        echo_json(
            [{**_payload(run), "merge": merge and _payload(merge)} for run, merge in outcomes]
        )
    not_landed = [
        f"xero/{s.endpoint} ({s.tenant_id})"
        for run, _ in outcomes
        for s in run.endpoints.values()
        if s.state != "landed"
    ]
    not_merged = [
        f"xero_tables/{s.table} ({s.tenant_id}{', its check failed' if s.rows is not None else ''})"
        for _, merge in outcomes
        if merge is not None
        for s in merge.tables.values()
        if s.state != "merged"
    ]
    if not_landed or not_merged:
        what = [
            *([f"not landed: {', '.join(not_landed)}"] if not_landed else []),
            *([f"not merged: {', '.join(not_merged)}"] if not_merged else []),
        ]
        fix = "see each failure above, then run again"
        if not_merged:
            fix = (
                "the landed batches are kept: fix the cause above (the tables' storage: "
                "OAUTH_ETL_TABLES_ROOT, `oauth-etl doctor`), then run again: it merges them"
            )
        fail("; ".join(what), fix)
    if not as_json:
        merged = sum(len(m.tables) for _, m in outcomes if m is not None)
        click.echo(
            f"done: {sum(len(r.endpoints) for r, _ in outcomes)} endpoint(s) landed"
            + (f", {merged} table(s) merged" if merged else "")
        )


_RUN_FIELDS = ("run_id", "tenant_id", "status", "failure")


def _payload(run: Any) -> dict[str, Any]:
    """A run for `--json`: its fields, then what it landed and what it merged, if any."""
    payload = {name: getattr(run, name) for name in _RUN_FIELDS}
    for name in ("endpoints", "tables"):
        if shown := getattr(run, name):
            payload[name] = [s.__dict__ for s in shown.values()]
    return payload

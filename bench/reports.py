"""Reports: the calls and wall time of a two-year backfill and of a daily run, against
the lower bound of Xero's limits (Starter: 1,000 calls a day per organisation, 60 a
minute).

One sandbox organisation, its periods locked up to the month before last (an accountant
closing monthly): the backfill plans every report over the current and the previous
financial year (two full years: the organisation is taken as older than the sandbox's
data, whose earlier months answer zeros) and reads it through the client; the daily run
then plans again with what the backfill made final (`done`), re-reading only the open
periods. Calls are the sandbox's count. The readings are appended to the report tables
(Azurite), timed apart. Without rate limits in the sandbox, so the wall time is ours;
the time Xero's 60 a minute would impose is printed beside it.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from dataclasses import replace

from bench.common import BenchResult, Figure, calls_by_endpoint, stack
from bench.workload import unpaced_budget
from oauth_etl.defs.reports.organisation import facts_of, organisation_record
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.storage.batch import BatchStats
from oauth_etl.tables.location import TableStore, default_root, storage_options_provider
from oauth_etl.tables.reports import append_readings
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.reports.model import Reading, ReportRequest
from oauth_etl.xero.reports.outcomes import Status, iter_plan
from oauth_etl.xero.reports.periods import Facts, plan
from oauth_etl.xero.scopes import DEFAULT_SCOPES
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.local_services import azurite_connection_string

STARTER_DAY, STARTER_MINUTE = 1_000, 60


def _read(
    client: XeroClient, facts: Facts, requests: tuple[ReportRequest, ...]
) -> tuple[list[Reading], Counter[str], float]:
    began = time.perf_counter()
    readings, calls = [], Counter[str]()
    for outcome in iter_plan(client, facts.org, requests):
        calls[outcome.request.report] += outcome.calls
        if outcome.status is Status.LANDED and outcome.reading is not None:
            readings.append(Reading(outcome.request, outcome.reading.cells))
    return readings, calls, time.perf_counter() - began


def _tabulate(store: TableStore, tenant: str, label: str, readings: list[Reading]) -> float:
    began = time.perf_counter()
    for report in sorted({r.request.report for r in readings}):
        mine = [r for r in readings if r.request.report == report]
        append_readings(store, report, tenant, label, mine, retention_days=7)
    return time.perf_counter() - began


def _paced_minutes(calls: int) -> int:
    return math.ceil(calls / STARTER_MINUTE)


def run(quick: bool) -> BenchResult:
    records = 20 if quick else 100  # contacts too: the aged reports are read per contact
    result = BenchResult("reports")
    args = ["--tenants", "1", "--records", str(records), "--no-limits"]
    with stack(args, label="reports") as s, StartFromRelay(s.azurite.port) as relay:
        s.oauth.connection.authorize(
            mode="unattended", scopes=DEFAULT_SCOPES, output=lambda _line: None
        )
        tenant = s.tenants()[0]
        today = dt.datetime.now(dt.UTC).date()
        lock = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1) - dt.timedelta(days=1)
        lock_body = {"tenant_id": tenant, "period_lock_date": lock.isoformat()}
        s.admin.post("/_sandbox/lock", json=lock_body).raise_for_status()
        container = s.new_container("reports")
        options = storage_options_provider(connection_string=azurite_connection_string(relay.port))
        store = TableStore(default_root(container.container_name), options)
        auth = BearerAuth(s.oauth.token_manager())
        with XeroClient(s.url, auth, budget_factory=unpaced_budget) as client:
            stats = BatchStats()
            facts = facts_of(tenant, organisation_record(client, tenant, stats))
            facts = replace(facts, org=replace(facts.org, created=None))  # two whole years
            backfill = plan(facts, today)
            before = s.stats()
            landed, by_report, seconds = _read(client, facts, backfill.requests)
            counted = sum(calls_by_endpoint(before, s.stats(), tenant).values())
            table_seconds = _tabulate(store, tenant, "backfill", landed)
            done = backfill.done_after(r.request for r in landed)
            daily = plan(facts, today, done=done)
            before = s.stats()
            again, daily_by_report, daily_seconds = _read(client, facts, daily.requests)
            daily_calls = sum(calls_by_endpoint(before, s.stats(), tenant).values())
            daily_table_seconds = _tabulate(store, tenant, "daily", again)
    reread = sum(len(r.request.periods) for r in again)
    periods = sum(len(r.request.periods) for r in landed)
    result.figures += [
        Figure(
            "reports",
            f"calls, two-year backfill (every report, {records} contacts, +{stats.api_calls} "
            "for the organisation's facts)",
            counted,
            None,
            "calls",
            target=f"<= {STARTER_DAY:,} (Starter, a day)",
            met=counted + stats.api_calls <= STARTER_DAY,
        ),
        Figure(
            "reports",
            f"wall time, backfill read ({periods} periods; Xero's 60/min: >= "
            f"{_paced_minutes(counted)} min)",
            round(seconds, 1),
            None,
            "s",
            note=f"tables: +{table_seconds:.1f} s",
        ),
        Figure(
            "reports",
            f"calls, daily run ({reread} open periods re-read, {daily.already_read} final "
            "left out)",
            daily_calls,
            None,
            "calls",
            target=f"<= {STARTER_DAY:,} (Starter, a day)",
            met=daily_calls + stats.api_calls <= STARTER_DAY,
        ),
        Figure(
            "reports",
            f"wall time, daily read (Xero's 60/min: >= {_paced_minutes(daily_calls)} min)",
            round(daily_seconds, 1),
            None,
            "s",
            note=f"tables: +{daily_table_seconds:.1f} s",
        ),
    ]
    result.lines += [
        "backfill calls by report: "
        + ", ".join(f"{name} {n}" for name, n in sorted(by_report.items())),
        "daily calls by report: "
        + ", ".join(f"{name} {n}" for name, n in sorted(daily_by_report.items())),
        f"lock date {lock.isoformat()}: {len(done)} final period(s) read once by the backfill",
    ]
    result.extra = {
        "backfill_calls": counted,
        "daily_calls": daily_calls,
        "organisation_calls": stats.api_calls,
        "periods_reread_daily": reread,
    }
    return result

"""Freshness through Xero's webhooks (issue #22): from a save in the sandbox to the record
in its committed batch and in its Delta table, with the real run queue.

`dagster-daemon run` over workspace.yaml (the project's dagster.yaml: QueuedRunCoordinator,
4 runs at once, one per tenant; a process per run), the webhook receiver in this process,
Azurite's queue and blob services, a sandbox that delivers a signed webhook per change.
After a first load of each tenant's contacts and invoices (one `xero_webhook_extract`
run each, as the daily run would leave them), invoices are saved one after another,
spread over the tenants; `xero_webhooks_sensor` (every 10 s) asks for the runs. A watcher
polls each tenant's newest invoices batch (every BATCH_POLL s) and the invoices table
(every TABLE_POLL s) and notes when each save shows: the figures include up to one poll
interval of that.

Calls a day: a quiet organisation costs webhooks nothing between daily runs; with 1,000
saves a day (Poisson), a tick that finds any save makes one run of the changed endpoints
(calls per run: measured). Polling within the day limit, side by side: every endpoint of
the daily job polled as often as 5,000 calls a day allow, and only the webhook endpoints
(contacts, invoices) polled as often; their freshness is computed as a uniform wait for
the next poll plus the measured run latency (not measured: a run of it would take hours).
"""

from __future__ import annotations

import math
import random
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from bench.common import BenchResult, Figure, Stack, stack
from oauth_etl.app.contract import WebhookSettings
from oauth_etl.defs.webhooks.jobs import WEBHOOK_ENDPOINTS
from oauth_etl.defs.webhooks.sensors import INTERVAL_SECONDS
from oauth_etl.defs.xero.assets import DEFAULT_ASSETS
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.reader import iter_records, latest_batch, list_batches
from oauth_etl.tables.location import TableStore
from oauth_etl.webhooks.queue import open_queue
from oauth_etl.webhooks.receiver import build_app
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.demo_webhooks import ReceiverThread
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, LOOPBACK, start_azurite_queue
from oauth_etl_dev.run_queue import (
    TERMINAL,
    RunSpan,
    backfill,
    queue_home,
    register_tenants,
    run_spans,
    running_daemon,
    wait_for_runs,
    wait_until,
)

JOB = "xero_webhook_extract"
TENANTS, SAVES, GAP = 10, 100, 1.5  # saves every GAP s, round robin over the tenants
QUICK = (3, 12, 2.0)
RECORDS = 20
BATCH_POLL, TABLE_POLL = 0.5, 1.0
DAY_LIMIT = 5000  # Core tier and above (developer.xero.com/faq/limits); Starter: 1,000
SAVES_PER_DAY = 1000
NEVER_CRON = "0 0 1 1 *"
TARGET_P95 = 60.0


@dataclass
class Save:
    tenant: str
    invoice: str
    stamp_ms: int
    at: float  # time.time() of the save
    batch_at: float | None = None
    table_at: float | None = None


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


class Watcher(threading.Thread):
    """Notes when each save is in a committed batch and in the table (its version, by
    UpdatedDateUTC: the first load's batch holds every invoice in an older version)."""

    def __init__(self, s: Stack, container: str, store: TableStore, saves: list[Save]) -> None:
        super().__init__(daemon=True)
        self.container = s.blob_service().get_container_client(container)
        self.store, self.saves = store, saves
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.seen_batch: dict[str, str] = {}  # tenant -> newest batch id read

    def run(self) -> None:
        last_table = 0.0
        while not self.halt.wait(BATCH_POLL):
            with self.lock:
                pending = [x for x in self.saves if x.batch_at is None or x.table_at is None]
            for tenant in {x.tenant for x in pending if x.batch_at is None}:
                self._batch(tenant, [x for x in pending if x.tenant == tenant and not x.batch_at])
            if time.monotonic() - last_table >= TABLE_POLL and pending:
                last_table = time.monotonic()
                self._table([x for x in pending if x.table_at is None])

    def _batch(self, tenant: str, pending: list[Save]) -> None:
        manifest = latest_batch(
            self.container, prefix="", source="xero", tenant_id=tenant, endpoint="invoices"
        )
        if manifest is None or self.seen_batch.get(tenant) == manifest.batch_id:
            return
        self.seen_batch[tenant] = manifest.batch_id
        now = time.time()
        stamps = {
            str(r["InvoiceID"]).lower(): parse_xero_datetime(r["UpdatedDateUTC"]).timestamp()
            for r in iter_records(self.container, manifest)
        }
        for save in pending:
            if stamps.get(save.invoice.lower(), 0.0) * 1000 >= save.stamp_ms - 1:
                save.batch_at = now

    def _table(self, pending: list[Save]) -> None:
        from oauth_etl.tables.writes import open_table

        table = open_table(self.store, "invoices")
        if table is None:
            return
        rows = table.to_pyarrow_table(columns=["InvoiceID", "UpdatedDateUTC"]).to_pylist()
        newest: dict[str, float] = {}
        for row in rows:
            stamp = row["UpdatedDateUTC"]
            if stamp is not None:
                key = str(row["InvoiceID"]).lower()
                newest[key] = max(newest.get(key, 0.0), stamp.timestamp())
        now = time.time()
        for save in pending:
            if newest.get(save.invoice.lower(), 0.0) * 1000 >= save.stamp_ms - 1:
                save.table_at = now


def runs_a_day(saves_per_day: float, interval: float) -> float:
    """Ticks that find at least one save (Poisson arrivals): one run each."""
    ticks = 86_400 / interval
    return ticks * (1 - math.exp(-saves_per_day / ticks))


def run(quick: bool) -> BenchResult:
    tenants_n, saves_n, gap = QUICK if quick else (TENANTS, SAVES, GAP)
    result = BenchResult("freshness")
    flags = ["--tenants", str(tenants_n), "--records", str(RECORDS), "--no-limits"]
    queue_service = start_azurite_queue()
    key = secrets.token_urlsafe(48)
    try:
        with (
            stack(flags, label="freshness") as s,
            tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch,
            StartFromRelay(s.azurite.port) as relay,
        ):
            settings = WebhookSettings(
                key=key,
                queue_connection_string=queue_service.connection_string,
                queue=f"bench-{uuid.uuid4().hex[:8]}",
            )
            queue = open_queue(settings, timeout=2.0)
            queue.ensure()
            receiver = ReceiverThread.start(build_app(key, queue))
            container = s.new_container("freshness").container_name
            environment = local_environment(s.sandbox, s.azurite, s.workdir)
            environment.update(
                {
                    "OAUTH_ETL_CONTAINER": container,
                    "OAUTH_ETL_DAILY_CRON": NEVER_CRON,
                    "OAUTH_ETL_TABLES_ENDPOINT_URL": f"http://{LOOPBACK}:{relay.port}/{AZURITE_ACCOUNT}",
                    "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING": queue_service.connection_string,
                    "OAUTH_ETL_WEBHOOK_QUEUE": settings.queue,
                    "XERO_WEBHOOK_KEY": key,
                }
            )
            store = TableStore.for_account(
                container=container,
                prefix="",
                root=None,
                endpoint_url=environment["OAUTH_ETL_TABLES_ENDPOINT_URL"],
                connection_string=s.azurite.connection_string,
            )
            home = queue_home(Path(scratch) / "dagster_home")
            saves: list[Save] = []
            try:
                with dg.DagsterInstance.from_config(str(home)) as instance:
                    tenants = register_tenants(environment, instance)
                    with running_daemon(environment, home) as daemon:
                        print(f"[freshness] first load of {len(tenants)} tenants", flush=True)
                        backfill(environment, home, JOB, tenants)
                        wait_for_runs(instance, JOB, len(tenants), 300 + 60 * len(tenants), daemon)
                        first = {span.run_id for span in run_spans(instance, JOB)}
                        s.admin.post("/_sandbox/webhooks", json={"url": receiver.url, "key": key})
                        before = s.stats()
                        measured_from = datetime.now(UTC)
                        watcher = Watcher(s, container, store, saves)
                        watcher.start()
                        rng = random.Random(0)
                        print(f"[freshness] {saves_n} saves, one every {gap} s", flush=True)
                        for i in range(saves_n):
                            tenant = tenants[i % len(tenants)]
                            at = time.time()
                            body = s.admin.post(
                                "/_sandbox/change",
                                json={
                                    "tenant_id": tenant,
                                    "endpoint": "Invoices",
                                    "kind": "edit",
                                    "position": rng.randrange(RECORDS),
                                },
                            ).json()
                            with watcher.lock:
                                saves.append(Save(tenant, body["id"], body["stamp_ms"], at))
                            time.sleep(gap)
                        wait_until(
                            lambda: all(x.table_at for x in saves),
                            240,
                            "every save in its table",
                            daemon,
                        )
                        watcher.halt.set()
                        watcher.join(10)
                        # The runs the last ticks asked for end (their calls count too).
                        time.sleep(INTERVAL_SECONDS + 2)
                        wait_until(
                            lambda: all(x.status in TERMINAL for x in run_spans(instance, JOB)),
                            300,
                            "the last webhook runs",
                            daemon,
                        )
                        after = s.stats()
                        spans = [x for x in run_spans(instance, JOB) if x.run_id not in first]
                        landed = batches_since(s, container, tenants, measured_from)
            finally:
                receiver.stop()
                queue.close()
    finally:
        queue_service.stop()
    figures(result, saves, spans, landed, tenants_n)
    result.lines.append(f"freshness: sandbox counted {counted(before, after)} calls meanwhile")
    if quick or tenants_n < TENANTS:
        result.lines.append(f"freshness: scaled to {tenants_n} tenants, {saves_n} saves")
    return result


def counted(before: dict[str, Any], after: dict[str, Any]) -> int:
    """API calls the sandbox counted between two stats snapshots."""
    return sum(
        int(v) - int(before.get("api_calls", {}).get(t, {}).get(k, 0))
        for t, per in after.get("api_calls", {}).items()
        for k, v in per.items()
    )


def batches_since(s: Stack, container: str, tenants: list[str], since: datetime) -> list[Manifest]:
    """The webhook runs' batches: their manifests count each batch's API calls."""
    client = s.blob_service().get_container_client(container)
    return [
        m
        for tenant in tenants
        for endpoint in WEBHOOK_ENDPOINTS
        for m in list_batches(
            client, prefix="", source="xero", tenant_id=tenant, endpoint=endpoint, since=since
        )
    ]


def figures(
    result: BenchResult,
    saves: list[Save],
    spans: list[RunSpan],
    landed: list[Manifest],
    tenants: int,
) -> None:
    batch = [x.batch_at - x.at for x in saves if x.batch_at]
    table = [x.table_at - x.at for x in saves if x.table_at]
    calls = sum(m.api_calls for m in landed)
    failed = [x for x in spans if x.status != dg.DagsterRunStatus.SUCCESS]
    if failed:
        result.lines.append(f"freshness: {len(failed)} runs did not succeed")
    runs = len(spans)
    per_run = calls / (runs - len(failed)) if runs > len(failed) else float("nan")
    # A run's own latency: created by the sensor until it ended (queue wait included).
    latency = [x.end - x.created for x in spans if x.end]
    daily = len(DEFAULT_ASSETS)  # an unchanged organisation: one call per endpoint
    busy_runs = runs_a_day(SAVES_PER_DAY, INTERVAL_SECONDS)
    poll_all = 86_400 * daily / (DAY_LIMIT - daily)  # s between polls of every endpoint
    poll_two = 86_400 * len(WEBHOOK_ENDPOINTS) / (DAY_LIMIT - daily)
    add = [
        ("save -> committed batch, p50", quantile(batch, 0.5), "s", ""),
        ("save -> committed batch, p95", quantile(batch, 0.95), "s", ""),
        ("save -> Delta table, p50", quantile(table, 0.5), "s", ""),
        ("save -> Delta table, p95", quantile(table, 0.95), "s", f"<= {TARGET_P95:.0f}"),
        (f"runs for {len(saves)} saves over {tenants} tenants", runs, "count", ""),
        ("calls per webhook run (contacts/invoices changed)", round(per_run, 2), "calls", ""),
        ("calls a day, quiet organisation, webhooks (+ daily run)", 0, "calls", "0"),
        (
            f"calls a day, {SAVES_PER_DAY} saves, webhooks (+ daily run {daily})",
            round(busy_runs * per_run),
            "calls",
            f"<= {DAY_LIMIT - daily}",
        ),
        ("polling every endpoint within the day limit: interval", round(poll_all), "s", ""),
        (
            "polling every endpoint: save -> table p50 (computed)",
            round(poll_all / 2 + quantile(latency, 0.5), 1),
            "s",
            "",
        ),
        (
            "polling every endpoint: save -> table p95 (computed)",
            round(0.95 * poll_all + quantile(latency, 0.95), 1),
            "s",
            "",
        ),
        ("polling contacts+invoices within the limit: interval", round(poll_two), "s", ""),
        (
            "polling contacts+invoices: save -> table p95 (computed)",
            round(0.95 * poll_two + quantile(latency, 0.95), 1),
            "s",
            "",
        ),
        # Polling spends the day's allowance whether anything changed or not.
        ("polling: calls a day, quiet organisation", DAY_LIMIT - daily, "calls", ""),
    ]
    for name, value, unit, target in add:
        met = None
        if target.startswith("<="):
            met = value <= float(target[3:])
        elif target == "0":
            met = value == 0
        ours = round(value, 1) if isinstance(value, float) else value
        result.figures.append(Figure("freshness", name, ours, None, unit, target, met))
    median = statistics.median(latency) if latency else 0.0

    def part(a: str, b: str) -> float:
        found = [getattr(x, b) - getattr(x, a) for x in spans if getattr(x, a) and getattr(x, b)]
        return statistics.median(found) if found else float("nan")

    queued, launch, work = (
        part("created", "launched"),
        part("launched", "start"),
        part("start", "end"),
    )
    result.lines.append(
        f"freshness: a webhook run's median parts: created -> launched {queued:.1f} s (the run "
        f"queue), -> started {launch:.1f} s (its process), -> ended {work:.1f} s (landing, "
        "merge, Dagster's events)"
    )
    result.lines.append(
        f"freshness: {len(batch)}/{len(saves)} saves seen in a batch, {len(table)} in the table; "
        f"{runs} runs (median created->ended {median:.1f} s); {calls} calls; the watcher's "
        f"polls add up to {BATCH_POLL}/{TABLE_POLL} s"
    )

"""Many tenants through Dagster's run queue (issue #15): 1, 10 and 50 organisations.

`dagster-daemon run` over workspace.yaml with the project's dagster.yaml
(QueuedRunCoordinator, `max_concurrent_runs`, one run per tenant; DefaultRunLauncher:
a process per run), one sandbox connection reaching every organisation, Azurite. For
each size a fresh set of tenants is extracted twice with `dagster job backfill`
(one queued run per tenant): the first extraction (full read), then, after a few
changes per endpoint through the sandbox's admin API, the daily incremental read.

Figures per phase: wall time (first run enqueued to last run ended) against a bound,
429s, token refreshes across the whole bench, peak RSS and CPU-seconds of the run
processes (read from /proc while they live, every `SAMPLE_SECONDS`).

Bound: a tenant's run cannot beat Xero's rules (bench/walltime.py's lower bound: calls
a minute, 5 in flight) and waves of `max_concurrent_runs` runs follow each other, so
bound = per-tenant bound x ceil(tenants / max_concurrent_runs). The per-run fixed
cost (the run process's start: launch to its first step) is stated separately, as is
the bound of the job's in-process executor (one step at a time, pages in sequence).

The run processes pace with the production budget (a 60 s minute), so the sandbox
keeps a real-time clock; a tenant's small catalog (one page per endpoint) stays
inside one minute's allowance. Access tokens live `ACCESS_TTL` s and are refreshed
`REFRESH_SKEW` s early, so one refresh is due every `ACCESS_TTL - REFRESH_SKEW` s.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import dagster as dg
import httpx

from bench.common import BenchResult, Figure, Stack, calls_by_endpoint, rate_limited, stack
from bench.common import records_served as served_records
from oauth_etl.xero.catalog import CATALOG
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import ServiceProcess
from oauth_etl_dev.run_queue import (
    TABLES_SENSOR,
    RunSpan,
    backfill,
    queue_home,
    register_tenants,
    running_daemon,
    stop_sensor,
    wait_for_runs,
)

JOB = "xero_extract"
SIZES = (1, 10, 50)
QUICK_SIZES = (1, 3)
RECORDS = 20  # one page per paged endpoint: a tenant's run is ~30 calls
LATENCY_MS = 150.0
PER_RECORD_MS = LATENCY_MS / 500.0  # the sandbox's default
IN_FLIGHT = 5
PER_MINUTE = 60
ACCESS_TTL = 360
REFRESH_SKEW = 300  # oauth_etl/oauth/refresh.py's default skew
CHANGES = ("edit", "insert")  # per endpoint per tenant before the incremental read
SAMPLE_SECONDS = 0.25
# The yearly minute: the daily schedule must not add runs for every registered tenant.
NEVER_CRON = "0 0 1 1 *"
PID_EVENT = re.compile(r"Executing steps in process \(pid: (\d+)\)")


@dataclass
class ProcessStats:
    peak_rss_kib: int = 0
    cpu_seconds: float = 0.0


class Sampler(threading.Thread):
    """Peak RSS (VmHWM) and CPU time of every process in the daemon's session."""

    def __init__(self, session: int) -> None:
        super().__init__(daemon=True)
        self.session = session
        self.seen: dict[int, ProcessStats] = {}
        self._halt = threading.Event()
        self._ticks = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self._halt.wait(SAMPLE_SECONDS):
            for entry in Path("/proc").iterdir():
                if entry.name.isdigit():
                    self._sample(int(entry.name), entry)

    def _sample(self, pid: int, entry: Path) -> None:
        try:
            stat = (entry / "stat").read_text()
            status = (entry / "status").read_text()
        except OSError:
            return  # gone, or not ours to read
        fields = stat.rsplit(")", 1)[1].split()
        # After the command: state, ppid, pgrp, session, ..., utime (12th), stime (13th).
        if int(fields[3]) != self.session:
            return
        stats = self.seen.setdefault(pid, ProcessStats())
        stats.cpu_seconds = (int(fields[11]) + int(fields[12])) / self._ticks
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        if match:
            stats.peak_rss_kib = max(stats.peak_rss_kib, int(match.group(1)))

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5.0)


@dataclass
class Phase:
    label: str
    tenants: list[str]
    spans: list[RunSpan]
    calls: dict[str, int]  # per tenant
    records: dict[str, int]
    throttled: int  # 429s
    startup: list[float]  # launch to first step, per run
    processes: list[ProcessStats] = field(default_factory=list)

    @property
    def wall(self) -> float:
        first = min(s.enqueued or s.created for s in self.spans)
        return max(s.end or 0.0 for s in self.spans) - first


def tenant_bound(calls: int, records: int) -> float:
    """walltime.py's rules for one tenant at real time (no Journals chain in the job)."""
    window = 60.0 * 1.03  # RateBudget's horizon: a minute plus its margin
    by_rate = max(0, math.ceil(calls / (PER_MINUTE - 1)) - 1) * window
    by_service = (calls * LATENCY_MS + records * PER_RECORD_MS) / 1000.0 / IN_FLIGHT
    return max(by_rate, by_service)


def serial_bound(calls: int, records: int) -> float:
    """One step at a time (the job's in-process executor), each page after the last."""
    return (calls * LATENCY_MS + records * PER_RECORD_MS) / 1000.0


def change_every_endpoint(s: Stack, tenants: list[str]) -> int:
    """A few changes per endpoint per tenant, as users make them during a day."""
    made = 0
    for tenant in tenants:
        for endpoint in CATALOG:
            for position, kind in enumerate(CHANGES):
                payload = {"tenant_id": tenant, "endpoint": endpoint.path, "kind": kind}
                payload["position"] = position
                response = s.admin.post("/_sandbox/change", json=payload)
                if response.status_code == httpx.codes.OK:
                    made += 1  # some endpoints refuse some kinds (journals: inserts only)
    return made


def startup_seconds(instance: dg.DagsterInstance, span: RunSpan) -> float | None:
    steps = instance.get_records_for_run(
        span.run_id, of_type=dg.DagsterEventType.STEP_START, limit=1
    ).records
    if not steps or span.launched is None:
        return None
    return steps[0].timestamp - span.launched


def run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    events = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)
    for record in events.records:
        match = PID_EVENT.search(record.event_log_entry.message or "")
        if match:
            return int(match.group(1))
    return None


def run_phase(
    s: Stack,
    environment: dict[str, str],
    home: Path,
    instance: dg.DagsterInstance,
    label: str,
    tenants: list[str],
    sampler: Sampler,
    daemon: ServiceProcess,
) -> Phase:
    before = s.stats()
    known = {r.run_id for r in instance.get_runs(dg.RunsFilter(job_name=JOB))}
    backfill(environment, home, JOB, tenants)
    timeout = 120.0 + 60.0 * len(tenants)
    spans = wait_for_runs(
        instance, JOB, len(tenants), timeout, daemon, select=lambda r: r.run_id not in known
    )
    after = s.stats()
    failed = [span.tenant for span in spans if span.status != dg.DagsterRunStatus.SUCCESS]
    if failed:
        raise RuntimeError(f"{label}: {len(failed)} runs did not succeed, e.g. {failed[0]}")
    phase = Phase(
        label,
        tenants,
        spans,
        calls={t: sum(calls_by_endpoint(before, after, t).values()) for t in tenants},
        records={t: served_records(before, after, t) for t in tenants},
        throttled=rate_limited(before, after),
        startup=[x for x in (startup_seconds(instance, span) for span in spans) if x is not None],
    )
    time.sleep(2 * SAMPLE_SECONDS)
    for span in spans:
        pid = run_pid(instance, span.run_id)
        if pid is not None and pid in sampler.seen:
            phase.processes.append(sampler.seen[pid])
    return phase


def figures_of(phase: Phase, max_runs: int) -> tuple[list[Figure], list[str]]:
    n = len(phase.tenants)
    waves = math.ceil(n / max_runs)
    calls = max(phase.calls.values())
    records = max(phase.records.values())
    bound = tenant_bound(calls, records) * waves
    serial = serial_bound(calls, records) * waves
    fixed = statistics.median(phase.startup) if phase.startup else float("nan")
    enqueued = [s.enqueued for s in phase.spans if s.enqueued is not None]
    launches = sorted(s.launched for s in phase.spans if s.launched is not None)
    gaps = [b - a for a, b in pairwise(launches)]
    rss = [p.peak_rss_kib / 1024 for p in phase.processes]
    cpu = [p.cpu_seconds for p in phase.processes]
    name = f"{n} tenant{'s' if n > 1 else ''}, {phase.label}"
    figures = [
        Figure("tenants", f"{name}: wall time", round(phase.wall, 1), None, "s"),
        Figure(
            "tenants",
            f"{name}: wall / (rules bound {bound:.2f} s + {waves} x fixed {fixed:.1f} s)",
            round(phase.wall / (bound + waves * fixed), 2),
            None,
            "x",
        ),
        Figure(
            "tenants",
            f"{name}: 429 responses",
            phase.throttled,
            None,
            "count",
            "0",
            phase.throttled == 0,
        ),
        Figure(
            "tenants",
            f"{name}: peak RSS per run process (max)",
            round(max(rss), 1) if rss else None,
            None,
            "MiB",
        ),
        Figure(
            "tenants",
            f"{name}: CPU per run process (median)",
            round(statistics.median(cpu), 2) if cpu else None,
            None,
            "s",
        ),
    ]
    lines = [
        f"tenants {name}: {len(phase.spans)} runs, {waves} wave(s) of {max_runs}; per tenant "
        f"<= {calls} calls, {records} records; rules bound {bound / waves:.2f} s/tenant, "
        f"in-process serial bound {serial / waves:.2f} s/tenant; fixed cost per run (launch to "
        f"first step) median {fixed:.1f} s, max {max(phase.startup, default=float('nan')):.1f} s; "
        f"the CLI queued them over {max(enqueued) - min(enqueued):.1f} s; "
        f"launches (STARTING) {statistics.median(gaps) if gaps else 0:.1f} s apart (median): "
        f"the default launcher returns once the run process has loaded the code; "
        f"RSS per run {min(rss, default=0):.0f}-{max(rss, default=0):.0f} MiB over "
        f"{len(rss)} sampled; CPU per run {min(cpu, default=0):.1f}-{max(cpu, default=0):.1f} s"
    ]
    return figures, lines


def run(quick: bool) -> BenchResult:
    sizes = QUICK_SIZES if quick else SIZES
    result = BenchResult("tenants")
    flags = ["--tenants", str(sum(sizes)), "--records", str(RECORDS)]
    flags += ["--latency-ms", str(LATENCY_MS), "--access-ttl", str(ACCESS_TTL)]
    with stack(flags, label="tenants") as s, tempfile.TemporaryDirectory() as scratch:
        environment = local_environment(s.sandbox, s.azurite, s.workdir)
        environment["OAUTH_ETL_CONTAINER"] = s.new_container("tenants").container_name
        environment["OAUTH_ETL_DAILY_CRON"] = NEVER_CRON
        home = queue_home(Path(scratch) / "dagster_home")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            limits = instance.get_concurrency_config().run_queue_config
            max_runs = limits.max_concurrent_runs if limits else 1
            tenants = register_tenants(environment, instance)
            stop_sensor(environment, home, TABLES_SENSOR)
            grants_before = s.stats()["grants"].get("refresh_token", 0)
            with running_daemon(environment, home) as daemon:
                sampler = Sampler(daemon.process.pid)
                sampler.start()
                started = time.monotonic()
                try:
                    offset = 0
                    for size in sizes:
                        chosen = tenants[offset : offset + size]
                        offset += size
                        for label in ("first extraction", "daily incremental"):
                            if label == "daily incremental":
                                made = change_every_endpoint(s, chosen)
                                result.lines.append(f"tenants: {made} changes before {size}")
                            print(f"[tenants] {size} x {label}", flush=True)
                            phase = run_phase(
                                s, environment, home, instance, label, chosen, sampler, daemon
                            )
                            figures, lines = figures_of(phase, max_runs)
                            result.figures += figures
                            result.lines += lines
                            print(f"[tenants] {lines[0]}", flush=True)
                            for figure in figures:
                                print(f"[tenants]   {figure.figure}: {figure.ours}", flush=True)
                finally:
                    sampler.stop()
                elapsed = time.monotonic() - started
            refreshes = s.stats()["grants"].get("refresh_token", 0) - grants_before
    windows = math.ceil(elapsed / (ACCESS_TTL - REFRESH_SKEW))
    result.figures.append(
        Figure(
            "tenants",
            f"token refreshes, {elapsed:.0f} s = {windows} refresh windows, {sum(sizes)} tenants",
            refreshes,
            None,
            "count",
            f"<= {windows + 1}",
            refreshes <= windows + 1,
        )
    )
    return result

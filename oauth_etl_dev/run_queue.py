"""Dagster's run queue for real: `dagster-daemon run` over the project's workspace.

Shared by the run-queue test and `bench/tenants.py`: a DAGSTER_HOME holding the
project's own dagster.yaml (QueuedRunCoordinator, per-tenant limits, DefaultRunLauncher:
one process per run), the daemon started and stopped as a child process group, job
backfills submitted with the `dagster` CLI, and the run records read back as spans.
Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from oauth_etl.app.connection import open_from_environment
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import organisation_ids
from oauth_etl_dev.local_services import PROJECT_ROOT, ServiceProcess, spawn_service

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
TERMINAL = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}
# The daemons a queued run needs: the schedule tick, the queue, backfills.
NEEDED_DAEMONS = ("SCHEDULER", "QUEUED_RUN_COORDINATOR", "BACKFILL")
# A run-status sensor the code location turns on by default; a bench or test of the
# extraction queue stops it so table merges do not share the measured slots.
TABLES_SENSOR = "xero_tables_after_extract"


class RunQueueError(RuntimeError):
    """The daemon did not start, a CLI call failed, or runs did not finish in time."""


def queue_home(home: Path, *, max_concurrent_runs: int | None = None) -> Path:
    """A DAGSTER_HOME whose dagster.yaml is the project's, optionally with fewer run slots."""
    config: dict[str, Any] = yaml.safe_load((PROJECT_ROOT / "dagster.yaml").read_text())
    if max_concurrent_runs is not None:
        config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


def _executable(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        raise RunQueueError(f"`{name}` is not installed next to {sys.executable}: run `make deps`")
    return found


def _environ(environment: Mapping[str, str], home: Path) -> dict[str, str]:
    return {**os.environ, **environment, "DAGSTER_HOME": str(home)}


def dagster_cli(
    environment: Mapping[str, str], home: Path, args: Sequence[str], *, timeout: float = 120.0
) -> str:
    """Run `dagster <args> -w workspace.yaml` (bounded); its output."""
    argv = [_executable("dagster"), *args, "-w", str(WORKSPACE)]
    command = " ".join(args)[:120]  # a backfill names every partition
    try:
        done = subprocess.run(
            argv,
            env=_environ(environment, home),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RunQueueError(f"`dagster {command}` took over {timeout:.0f} s") from exc
    if done.returncode != 0:
        raise RunQueueError(
            f"`dagster {command}` exited {done.returncode}:\n{done.stdout[-2000:]}"
            f"\n{done.stderr[-2000:]}"
        )
    return done.stdout


def stop_sensor(environment: Mapping[str, str], home: Path, name: str) -> None:
    dagster_cli(environment, home, ["sensor", "stop", name])


def backfill(
    environment: Mapping[str, str], home: Path, job: str, partitions: Sequence[str]
) -> None:
    """`dagster job backfill`: one queued run per partition (the daemon launches them)."""
    args = ["job", "backfill", "-j", job, "--partitions", ",".join(partitions), "--noprompt"]
    # The CLI plans and submits the runs one by one: seconds each on a busy machine.
    dagster_cli(environment, home, args, timeout=120.0 + 10.0 * len(partitions))


def register_tenants(environment: Mapping[str, str], instance: dg.DagsterInstance) -> list[str]:
    """The connection's organisations as tenant partitions (what xero/tenants does)."""
    with open_from_environment(environment) as (_, api):
        tenants = organisation_ids(api.connections())
    instance.add_dynamic_partitions(TENANTS.name or "", tenants)
    return tenants


@contextlib.contextmanager
def running_daemon(
    environment: Mapping[str, str], home: Path, *, timeout: float = 90.0
) -> Iterator[ServiceProcess]:
    """`dagster-daemon run -w workspace.yaml` until every needed daemon has a heartbeat."""
    argv = [_executable("dagster-daemon"), "run", "-w", str(WORKSPACE)]
    env = _environ(environment, home)
    service = spawn_service(
        "dagster-daemon", argv, f"file://{home}", home / "daemon.log", env=env, cwd=PROJECT_ROOT
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            wait_until(
                lambda: _daemons_up(instance),
                timeout,
                "dagster-daemon heartbeats",
                service,
            )
        yield service
    finally:
        # The daemon's process group holds its code server and the run workers it forked.
        service.stop(timeout=20.0)


def _daemons_up(instance: dg.DagsterInstance) -> bool:
    beats = instance.get_daemon_heartbeats()
    return all(name in beats for name in NEEDED_DAEMONS)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    service: ServiceProcess | None = None,
    *,
    interval: float = 1.0,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if service is not None and service.process.poll() is not None:
            raise RunQueueError(
                f"{service.name} exited {service.process.returncode}:\n{service.log_tail(40)}"
            )
        if time.monotonic() > deadline:
            tail = service.log_tail(40) if service is not None else ""
            raise RunQueueError(f"no {what} within {timeout:.0f} s\n{tail}")
        time.sleep(interval)


@dataclass(frozen=True)
class RunSpan:
    """One run as its record and events tell it."""

    run_id: str
    created: float
    job: str
    tenant: str  # the run's partition
    tags: Mapping[str, str]
    status: dg.DagsterRunStatus
    enqueued: float | None  # RUN_ENQUEUED
    launched: float | None  # RUN_STARTING: the queue let it go to the launcher
    start: float | None  # RUN_START: its process began executing
    end: float | None

    def overlaps(self, other: RunSpan) -> bool:
        """Both executing at some moment (a run without an end is still going)."""
        if self.start is None or other.start is None:
            return False
        end, other_end = self.end or math.inf, other.end or math.inf
        return self.start < other_end and other.start < end


def _event_time(
    instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType
) -> float | None:
    records = instance.get_records_for_run(run_id, of_type=kind).records
    return records[0].timestamp if records else None


def run_spans(instance: dg.DagsterInstance, job: str) -> list[RunSpan]:
    """Every run of `job`, oldest first."""
    records = instance.get_run_records(dg.RunsFilter(job_name=job))
    spans = []
    for record in records:
        run = record.dagster_run
        spans.append(
            RunSpan(
                run_id=run.run_id,
                created=record.create_timestamp.timestamp(),
                job=run.job_name,
                tenant=run.tags.get("dagster/partition", ""),
                tags=dict(run.tags),
                status=run.status,
                enqueued=_event_time(instance, run.run_id, dg.DagsterEventType.RUN_ENQUEUED),
                launched=_event_time(instance, run.run_id, dg.DagsterEventType.RUN_STARTING),
                start=record.start_time,
                end=record.end_time,
            )
        )
    return sorted(spans, key=lambda s: s.created)


def wait_for_runs(
    instance: dg.DagsterInstance,
    job: str,
    count: int,
    timeout: float,
    service: ServiceProcess | None = None,
    select: Callable[[dg.DagsterRun], bool] = lambda _run: True,
) -> list[RunSpan]:
    """Bounded wait until `count` selected runs of `job` exist and all have ended; their
    spans, oldest first."""

    def chosen() -> list[dg.DagsterRun]:
        return [r for r in instance.get_runs(dg.RunsFilter(job_name=job)) if select(r)]

    def done() -> bool:
        runs = chosen()
        return len(runs) >= count and all(r.status in TERMINAL for r in runs)

    wait_until(done, timeout, f"{count} finished {job} runs", service)
    ids = {r.run_id for r in chosen()}
    return [span for span in run_spans(instance, job) if span.run_id in ids]

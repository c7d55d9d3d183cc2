"""Tenants side by side through Dagster's real run queue.

`dagster-daemon run` over workspace.yaml, with a DAGSTER_HOME holding the project's
own dagster.yaml unchanged (QueuedRunCoordinator, 4 runs at once, one per tenant,
DefaultRunLauncher: a process per run), a 3-tenant sandbox and Azurite. Two job
backfills are queued before the daemon starts (all tenants, then the first tenant
again), and the daily schedule ticks every minute. The run records must show every
run going through the queue, tenants overlapping, never one tenant twice at once, and
every tenant's batches landed.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from pathlib import Path

import dagster as dg
import pytest
from azure.storage.blob import BlobServiceClient

from oauth_etl.defs.xero.schedules import TENANT_TAG
from oauth_etl_dev.demo import Environment
from oauth_etl_dev.run_queue import (
    TABLES_SENSOR,
    RunSpan,
    backfill,
    queue_home,
    register_tenants,
    run_spans,
    running_daemon,
    stop_sensor,
    wait_for_runs,
    wait_until,
)
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle

pytestmark = pytest.mark.timeout(420)

JOB = "xero_extract"
TENANTS = 3
BACKFILL_TAG = "dagster/backfill"
SCHEDULE_TAG = "dagster/schedule_name"


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> SandboxHandle:
    """Overrides conftest's: 3 tenants, one page per endpoint, Xero's limits on, and
    latency so that a run lasts long enough for the queue's order to show."""
    return sandbox_factory("--tenants", str(TENANTS), "--records", "40", "--latency-ms", "400")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return queue_home(tmp_path / "dagster_home")


@pytest.fixture
def instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(home)) as opened:
        yield opened


def ticked(instance: dg.DagsterInstance) -> list[RunSpan]:
    """The schedule's runs, oldest first."""
    return [span for span in run_spans(instance, JOB) if SCHEDULE_TAG in span.tags]


def test_schedule_and_backfills_share_the_queue_one_run_per_tenant(
    local_env: dict[str, str],
    home: Path,
    instance: dg.DagsterInstance,
    blob_service: BlobServiceClient,
) -> None:
    environment = Environment({**local_env, "OAUTH_ETL_DAILY_CRON": "* * * * *"})
    limits = instance.get_concurrency_config().run_queue_config
    assert limits is not None and limits.max_concurrent_runs == 4

    tenants = register_tenants(environment, instance)
    assert len(tenants) == TENANTS
    first = tenants[0]
    # Merges would share the slots; this test is about the extraction runs.
    stop_sensor(environment, home, TABLES_SENSOR)
    # Queued before the daemon runs: 4 runs for 4 free slots, two of them for `first`.
    # Only the per-tenant limit can hold the second one back.
    backfill(environment, home, JOB, tenants)
    backfill(environment, home, JOB, [first])
    queued = instance.get_runs(dg.RunsFilter(job_name=JOB))
    assert [r.status for r in queued] == [dg.DagsterRunStatus.QUEUED] * (TENANTS + 1)

    with running_daemon(environment, home) as daemon:
        # The 4 backfill runs, and the first tick's runs (one per tenant): every-minute
        # ticks go on launching (a schedule's run key is unique per tick, not per day).
        backfilled = wait_for_runs(
            instance, JOB, TENANTS + 1, 300.0, daemon, select=lambda r: BACKFILL_TAG in r.tags
        )
        wait_until(lambda: len(ticked(instance)) >= TENANTS, 240.0, "the first tick", daemon)
        first_tick = {span.run_id for span in ticked(instance)[:TENANTS]}
        scheduled = wait_for_runs(
            instance, JOB, TENANTS, 240.0, daemon, select=lambda r: r.run_id in first_tick
        )
        every_run = run_spans(instance, JOB)

    mine = backfilled + scheduled
    failed = [(s.tenant, s.status) for s in mine if s.status != dg.DagsterRunStatus.SUCCESS]
    assert not failed, f"runs did not succeed: {failed}"
    # Through the queue: enqueued, let go by the queue daemon (STARTING), then started.
    for span in mine:
        assert span.enqueued is not None and span.launched is not None, span
        assert span.start is not None and span.end is not None, span
        assert span.enqueued <= span.launched <= span.start < span.end, span

    # Never two runs of one tenant at once, whichever way they were launched (later
    # ticks' runs included, finished or not).
    for a, b in combinations(every_run, 2):
        assert not (a.tenant == b.tenant and a.overlaps(b)), (a, b)

    # (a) The first tick: one run per registered tenant, tagged for the per-tenant
    # limit, at least two side by side.
    assert sorted(s.tenant for s in scheduled) == sorted(tenants)
    assert all(s.tags.get(TENANT_TAG) == s.tenant for s in scheduled)
    assert any(a.overlaps(b) for a, b in combinations(scheduled, 2)), scheduled

    # (b) The backfills: one run per tenant; the second run for `first` was queued
    # before the first backfill's run of it started, and let go only once that one ended.
    backfills: dict[str, list[RunSpan]] = {}
    for span in backfilled:
        backfills.setdefault(span.tags[BACKFILL_TAG], []).append(span)
    all_tenants, again = sorted(backfills.values(), key=len, reverse=True)
    assert sorted(r.tenant for r in all_tenants) == sorted(tenants)
    assert any(a.overlaps(b) for a, b in combinations(all_tenants, 2)), all_tenants
    [held] = again
    [ahead] = [r for r in all_tenants if r.tenant == first]
    assert held.tenant == first
    assert held.enqueued < ahead.start, (held, ahead)  # type: ignore[operator]
    assert held.launched >= ahead.end, (held, ahead)  # type: ignore[operator]

    # Every tenant's batches landed.
    landing = blob_service.get_container_client(environment["OAUTH_ETL_CONTAINER"])
    names = [b.name for b in landing.list_blobs()]
    for tenant in tenants:
        assert any(f"{tenant}/contacts/" in name for name in names), tenant

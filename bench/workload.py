"""The two extractors under test, run the same way by every benchmark.

`ours` is exactly what an asset does: `XeroClient.extract()` into a `LandingBatch`,
streamed by `write_batch` into blob storage. `baseline` is `bench.baseline`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from azure.storage.blob import ContainerClient

from bench import baseline
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.storage.manifest import Manifest
from oauth_etl.storage.writer import write_batch
from oauth_etl.xero.catalog import CATALOG, Endpoint, Paging
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.extraction import Extraction
from oauth_etl.xero.rate import RateBudget

BY_PATH = {endpoint.path: endpoint for endpoint in CATALOG}


@dataclass
class RunResult:
    records: int
    seconds: float
    uncompressed_bytes: int
    stored_bytes: int
    api_calls: int
    rate_limited: int = 0


class StaticBearer(httpx.Auth):
    """A fixed bearer token, for worker subprocesses (the data path is what is measured)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


class UnpacedBudget(RateBudget):
    """For a sandbox with --no-limits: keep 5 in flight, drop the 60/min pacing. The sandbox
    still counts and reports the limits it does not enforce; heeding those reports would
    make a throughput figure measure the minute, not the client."""

    def observe(self, headers: Mapping[str, str], started: float) -> None:
        return None


def unpaced_budget(tenant_id: str) -> RateBudget:
    return UnpacedBudget(tenant_id, per_minute=1_000_000_000)


def scaled_budget(scale: float) -> Callable[[str], RateBudget]:
    """Xero's limits on a sandbox whose minute lasts 60/scale seconds."""

    def factory(tenant_id: str) -> RateBudget:
        return RateBudget(tenant_id, window_seconds=60.0 / scale)

    return factory


def count_or_land(
    extraction: Extraction,
    endpoint: Endpoint,
    tenant_id: str,
    container: ContainerClient | None,
    *,
    run_id: str,
) -> tuple[int, Manifest | None]:
    """The extraction's records counted, or landed (with `container`) as the asset and
    IO manager do: (records, the batch's manifest or None)."""
    if container is None:
        return sum(1 for _ in extraction.records()), None
    batch = LandingBatch(
        source="xero",
        endpoint=endpoint.name,
        tenant_id=tenant_id,
        records=extraction.records(),
        stats=BatchStats(),
    )
    manifest = write_batch(container, batch, prefix="bench/", run_id=run_id)
    return manifest.record_count, manifest


def run_ours(
    client: XeroClient, endpoint: Endpoint, tenant_id: str, container: ContainerClient | None
) -> RunResult:
    """Extract one endpoint and land it, as the asset + IO manager do."""
    started = time.perf_counter()
    extraction = client.extract(endpoint, tenant_id)
    records, manifest = count_or_land(extraction, endpoint, tenant_id, container, run_id="bench")
    uncompressed = stored = 0
    if manifest is not None:
        uncompressed = sum(part.uncompressed_bytes or 0 for part in manifest.parts)
        stored = sum(part.bytes for part in manifest.parts)
    stats = extraction.stats
    return RunResult(
        records,
        time.perf_counter() - started,
        uncompressed,
        stored,
        stats.api_calls,
        stats.rate_limited,
    )


def baseline_paging(endpoint: Endpoint) -> baseline.Paging:
    if endpoint.paging is Paging.OFFSET:
        return "offset"
    if endpoint.paging is Paging.NONE:
        return "none"
    return "page"


def run_baseline(
    api_url: str,
    token: str,
    endpoint: Endpoint,
    tenant_id: str,
    container: ContainerClient | None,
) -> RunResult:
    started = time.perf_counter()
    result = baseline.extract_endpoint(
        api_url,
        token,
        tenant_id,
        endpoint.path,
        endpoint.record_key,
        container,
        f"baseline/{tenant_id}/{endpoint.name}.jsonl.gz",
        paging=baseline_paging(endpoint),
        offset_field=endpoint.offset_field or "JournalNumber",
    )
    return RunResult(
        result.records,
        time.perf_counter() - started,
        result.uncompressed_bytes,
        result.compressed_bytes,
        result.api_calls,
        result.rate_limited,
    )


def as_dict(result: RunResult) -> dict[str, Any]:
    return dict(result.__dict__)

"""Xero extraction assets, one per endpoint of the catalog, partitioned by tenant.

Each asset reads only what changed since the cursor of its last successful
materialization for that tenant, and returns a lazy `LandingBatch` that the
landing IO manager streams into blob storage. The cursor lives in the
materialization's metadata, so it advances only once a batch is committed.
"""

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dagster as dg
from pydantic import Field

from oauth_etl.defs.resources import XeroApiResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.oauth.errors import AuthorizationRequired, InvalidClient, InvalidScope, OAuthError
from oauth_etl.storage.batch import BatchStats, LandingBatch
from oauth_etl.xero.catalog import CATALOG, Endpoint, Paging
from oauth_etl.xero.client import Extraction, Progress
from oauth_etl.xero.dates import from_cursor
from oauth_etl.xero.errors import NotEntitled, TenantDisconnected, XeroError
from oauth_etl.xero.scopes import missing_scope_message

# A failed Xero step is retried in the same run, after 30 s, 60 s (each ±jitter): enough
# for a 503 or a network drop to pass. `Failure(allow_retries=False)` (a person must act)
# is never retried; a run crash is the run retries' business (dagster.yaml).
XERO_RETRY_POLICY = dg.RetryPolicy(
    max_retries=2, delay=30, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
PROGRESS_EVERY_SECONDS = 10.0
# Metadata keys of a materialization that the next run resumes from.
CURSOR_KEY = "cursor_to"
OFFSET_KEY = "offset_to"
# Failures a retry cannot fix: a person must act (authorize, grant a scope, reconnect).
NEEDS_A_PERSON = (
    AuthorizationRequired,
    InvalidClient,
    InvalidScope,
    NotEntitled,
    TenantDisconnected,
)


def failure(exc: XeroError | OAuthError) -> dg.Failure:
    """A Xero or OAuth error as the step's failure: its message (the remedy), retried
    only when a retry can help."""
    return dg.Failure(
        description=str(exc),
        metadata={"error": type(exc).__name__},
        allow_retries=not isinstance(exc, NEEDS_A_PERSON),
    )


class ExtractionConfig(dg.Config):
    """Run configuration shared by every Xero asset."""

    full_refresh: bool = Field(
        default=False,
        description="Ignore the stored cursor and read everything (snapshots always do).",
    )


@dataclass(frozen=True)
class Resume:
    """Where the last committed batch of an asset and tenant left off."""

    cursor: str | None = None
    offset: int | None = None


def asset_key(endpoint: Endpoint) -> dg.AssetKey:
    return dg.AssetKey(["xero", endpoint.name])


def last_resume_point(instance: dg.DagsterInstance, key: dg.AssetKey, tenant_id: str) -> Resume:
    """The cursor and offset of the last committed batch for this asset and tenant."""
    result = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[tenant_id]), limit=1
    )
    for record in result.records:
        materialization = record.asset_materialization
        if materialization is None:
            continue
        metadata = materialization.metadata
        cursor = metadata.get(CURSOR_KEY)
        offset = metadata.get(OFFSET_KEY)
        return Resume(
            cursor=cursor.value if cursor is not None and isinstance(cursor.value, str) else None,
            offset=offset.value
            if offset is not None and isinstance(offset.value, int) and offset.value >= 0
            else None,
        )
    return Resume()


def progress_bar(progress: Progress, width: int = 20) -> str:
    """`[#####...............]` of the pages the first page announced (full when done)."""
    if progress.done:
        filled = width
    elif progress.pages_total:
        filled = min(width, width * progress.pages // progress.pages_total)
    else:
        filled = 0  # page-only endpoints and Journals announce no total
    return "[" + "#" * filled + "." * (width - filled) + "]"


def _progress_logger(
    context: dg.AssetExecutionContext, endpoint: Endpoint
) -> Callable[[Progress], None]:
    last_logged = [0.0]

    def report(progress: Progress) -> None:
        now = time.monotonic()
        if not progress.done and now - last_logged[0] < PROGRESS_EVERY_SECONDS:
            return
        last_logged[0] = now
        total = f" of {progress.records_total}" if progress.records_total is not None else ""
        pages = f" of {progress.pages_total}" if progress.pages_total is not None else ""
        context.log.info(
            f"xero/{endpoint.name}: {progress_bar(progress)} page {progress.pages}{pages}, "
            f"{progress.records}{total} records, {progress.api_calls} calls, "
            f"{progress.elapsed_seconds:.1f} s" + (" (done)" if progress.done else "")
        )

    return report


def _stream(extraction: Extraction, stats: BatchStats) -> Iterator[dict[str, Any]]:
    """Yield the extraction's records, then copy its figures into the batch stats.

    The landing IO manager consumes this while it writes, so an API error surfaces
    there: as a `dg.Failure` carrying the Xero error's message and remedy, never as a
    storage error. Errors a retry cannot fix forbid retries. The client belongs to the
    run (XeroApiResource) and is closed at its teardown, whatever happens here.
    """
    try:
        yield from extraction.records()
    except (XeroError, OAuthError) as exc:
        raise failure(exc) from exc
    figures = extraction.stats
    stats.api_calls = figures.api_calls
    stats.pages = figures.pages
    # What Xero announced, less the records of the cursor's own second we skipped.
    stats.expected_records = (
        None
        if figures.expected_records is None
        else figures.expected_records - figures.already_landed
    )
    stats.cursor_to = figures.cursor_to or stats.cursor_to
    stats.complete = not figures.stopped_early
    if figures.offset_to is not None:
        stats.extra[OFFSET_KEY] = figures.offset_to
    stats.extra.update(
        {
            "retries": figures.retries,
            "already_landed": figures.already_landed,
            "rate_limited": figures.rate_limited,
            "duration_seconds": round(figures.duration_seconds or 0.0, 3),
            "stop_reason": figures.stop_reason or "",
            **{f"rate/{name}": value for name, value in figures.headroom.items()},
        }
    )
    if figures.stopped_early:
        stats.extra["resumes"] = "on the next run, from cursor_to"


def _require_scope(xero: XeroApiResource, endpoint: Endpoint) -> None:
    """An opt-in endpoint without its scope fails at once, saying which scope and how."""
    granted = xero.granted_scopes()
    problem = missing_scope_message(endpoint, granted) if granted else None
    if problem:
        raise dg.Failure(
            description=problem, metadata={"error": "MissingScope"}, allow_retries=False
        )


def build_endpoint_asset(
    endpoint: Endpoint, retry_policy: dg.RetryPolicy | None = XERO_RETRY_POLICY
) -> dg.AssetsDefinition:
    """One asset for one catalog endpoint: data, not twenty-seven copies of a function."""
    key = asset_key(endpoint)
    mode = "incremental (If-Modified-Since)" if endpoint.incremental else "full snapshot"
    description = (
        f"{endpoint.description}\n\nXero `GET /api.xro/2.0/{endpoint.path}`, {mode}, "
        f"paging: {endpoint.paging.value}. Lands gzip JSON Lines under "
        f"`xero/<tenant>/{endpoint.name}/<batch>/` with a manifest."
    )

    @dg.asset(
        key=key,
        group_name="xero",
        partitions_def=TENANTS,
        io_manager_key="landing_io_manager",
        kinds={"xero", "azure"},
        retry_policy=retry_policy,
        description=description,
        metadata={
            "xero/path": endpoint.path,
            "xero/paging": endpoint.paging.value,
            "xero/cursor_field": endpoint.cursor_field or "",
            "xero/scopes": " ".join(endpoint.granular_scopes),
        },
    )
    def _extract(
        context: dg.AssetExecutionContext, config: ExtractionConfig, xero: XeroApiResource
    ) -> LandingBatch:
        tenant_id = context.partition_key
        if endpoint.opt_in:
            _require_scope(xero, endpoint)
        resume = Resume()
        if endpoint.incremental and not config.full_refresh:
            resume = last_resume_point(context.instance, key, tenant_id)
        context.log.info(
            f"xero/{endpoint.name} for tenant {tenant_id}: "
            + (f"changes since {resume.cursor}" if resume.cursor else "full read")
            + (f", after journal {resume.offset}" if resume.offset else "")
        )
        extraction = xero.client().extract(
            endpoint,
            tenant_id,
            modified_since=from_cursor(resume.cursor) if resume.cursor else None,
            start_offset=resume.offset if endpoint.paging is Paging.OFFSET else None,
            on_progress=_progress_logger(context, endpoint),
        )
        stats = BatchStats(cursor_to=resume.cursor)
        if resume.offset is not None:
            stats.extra[OFFSET_KEY] = resume.offset
        return LandingBatch(
            source="xero",
            endpoint=endpoint.name,
            tenant_id=tenant_id,
            records=_stream(extraction, stats),
            cursor_from=resume.cursor,
            stats=stats,
        )

    return _extract


# A module-level list: the defs autoloader collects lists of assets, not tuples.
ENDPOINT_ASSETS: list[dg.AssetsDefinition] = [build_endpoint_asset(e) for e in CATALOG]
# What the daily job reads: every endpoint a new app may read. The opt-in ones (Journals,
# ExpenseClaims, Receipts: scopes new apps do not get, see oauth_etl.xero.scopes) stay
# materializable on demand.
DEFAULT_ASSETS: list[dg.AssetsDefinition] = [
    asset for endpoint, asset in zip(CATALOG, ENDPOINT_ASSETS, strict=True) if not endpoint.opt_in
]
OPT_IN_ASSETS: list[dg.AssetsDefinition] = [
    asset for endpoint, asset in zip(CATALOG, ENDPOINT_ASSETS, strict=True) if endpoint.opt_in
]

"""Keeping the tables fast and small: compaction, vacuum, checkpoints; reading the past.

Every merge adds a few files; `compact` rewrites a partition's small files into large ones
(a new version with the same rows). `vacuum` deletes the files no version younger than the
retention still needs, so time travel keeps working for `retention_days`: a version older
than that may no longer be readable. Both are safe while readers read (Delta's protocol).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from deltalake import DeltaTable

from oauth_etl.tables.location import TableStore
from oauth_etl.tables.merge import DEFAULT_RETENTION_DAYS
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.writes import open_table


class TableMissing(LookupError):
    """No Delta table at the location (nothing merged yet, or a wrong root)."""


def table(store: TableStore, name: str) -> DeltaTable:
    found = open_table(store, name)
    if found is None:
        raise TableMissing(f"no Delta table at {store.uri(name)}")
    return found


@dataclass
class UpkeepResult:
    name: str
    version: int
    files_added: int
    files_removed: int
    vacuumed: int  # data files deleted


def compact(store: TableStore, name: str, target_size: int | None = None) -> dict[str, Any]:
    """Rewrite small files into files of about `target_size` bytes (delta-rs default 100 MiB)."""
    metrics: dict[str, Any] = table(store, name).optimize.compact(target_size=target_size)
    return metrics


def vacuum(store: TableStore, name: str, retention_days: int = DEFAULT_RETENTION_DAYS) -> list[str]:
    """Delete files unreferenced for longer than `retention_days`; returns their paths."""
    if retention_days < 0:
        raise ValueError("retention_days must be zero or more")
    # The table's own minimum (delta.deletedFileRetentionDuration) is set to the same
    # retention at creation; an explicit shorter one is the caller's decision.
    removed: list[str] = table(store, name).vacuum(
        retention_hours=retention_days * 24, dry_run=False, enforce_retention_duration=False
    )
    return removed


def upkeep(
    store: TableStore, name: str, retention_days: int = DEFAULT_RETENTION_DAYS
) -> UpkeepResult:
    """Compact, vacuum and checkpoint one table (the weekly job runs this per table)."""
    metrics = compact(store, name)
    removed = vacuum(store, name, retention_days)
    dt = table(store, name)
    dt.create_checkpoint()  # readers then replay one file instead of every commit
    return UpkeepResult(
        name=name,
        version=dt.version(),
        files_added=int(metrics.get("numFilesAdded", 0)),
        files_removed=int(metrics.get("numFilesRemoved", 0)),
        vacuumed=len(removed),
    )


def read_as_of(
    store: TableStore,
    name: str,
    when: datetime | int | None = None,
    *,
    tenant_id: str | None = None,
    columns: list[str] | None = None,
) -> pa.Table:
    """The table as it was at `when` (a moment, naive meaning UTC, or a version number);
    None reads the latest version. One tenant's rows when `tenant_id` is given."""
    dt = table(store, name)
    if isinstance(when, datetime):
        moment = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
        dt.load_as_version(moment)
    elif when is not None:
        dt.load_as_version(when)
    partitions = None if tenant_id is None else [(TENANT, "=", tenant_id)]
    result: pa.Table = dt.to_pyarrow_table(partitions=partitions, columns=columns)
    return result

"""What `oauth-etl table show xero/invoices --tenant ...` prints: schema, rows, versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from oauth_etl.tables.location import SOURCE, TableStore
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.upkeep import table

HISTORY_LIMIT = 10


@dataclass(frozen=True)
class Version:
    version: int
    timestamp: datetime
    operation: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class TableDescription:
    name: str  # "xero/invoices"
    uri: str
    version: int
    schema: pa.Schema
    rows: int  # of the tenant when one was given, else of every tenant
    tenant_id: str | None
    partitions: int  # tenants present
    history: tuple[Version, ...]  # newest first


def table_name(name: str) -> str:
    """`xero/invoices` or `invoices` -> `invoices`."""
    source, sep, rest = name.partition("/")
    if sep and source != SOURCE:
        raise KeyError(f"unknown source {source!r} in {name!r}: tables are under {SOURCE}/")
    return rest if sep else name


def column_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, Arrow type) pairs, as printed and as Dagster column metadata wants them."""
    return [(field.name, str(field.type)) for field in schema]


def describe(
    store: TableStore, name: str, tenant_id: str | None = None, history: int = HISTORY_LIMIT
) -> TableDescription:
    short = table_name(name)
    dt = table(store, short)
    partitions = None if tenant_id is None else [(TENANT, "=", tenant_id)]
    dataset = dt.to_pyarrow_dataset(partitions=partitions)
    tenants = {p[TENANT] for p in dt.partitions()}
    versions = tuple(
        Version(
            version=int(entry["version"]),
            timestamp=datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC),
            operation=str(entry.get("operation", "")),
            metrics=dict(entry.get("operationMetrics") or {}),
        )
        for entry in dt.history(history)
    )
    return TableDescription(
        name=f"{SOURCE}/{short}",
        uri=dt.table_uri,
        version=dt.version(),
        schema=pa.schema(dt.schema().to_arrow()),
        rows=dataset.count_rows(),
        tenant_id=tenant_id,
        partitions=len(tenants),
        history=versions,
    )


_SHOWN_METRICS = (
    "num_target_rows_inserted",
    "num_target_rows_updated",
    "num_target_rows_deleted",
    "num_added_rows",
    "numFilesAdded",
    "numFilesRemoved",
)


def render(description: TableDescription) -> str:
    """The text the CLI prints."""
    d = description
    scope = f"tenant {d.tenant_id}" if d.tenant_id else f"{d.partitions} tenant(s)"
    lines = [
        f"{d.name}  {d.uri}",
        f"version {d.version}, {d.rows} row(s) for {scope}",
        "",
        "columns:",
    ]
    width = max((len(name) for name, _ in column_types(d.schema)), default=0)
    lines += [f"  {name.ljust(width)}  {kind}" for name, kind in column_types(d.schema)]
    lines += ["", "versions (newest first):"]
    for v in d.history:
        shown = ", ".join(f"{k}={v.metrics[k]}" for k in _SHOWN_METRICS if k in v.metrics)
        stamp = v.timestamp.isoformat(timespec="seconds").replace("+00:00", "Z")
        lines.append(f"  {v.version:>5}  {stamp}  {v.operation:<8} {shown}".rstrip())
    return "\n".join(lines)

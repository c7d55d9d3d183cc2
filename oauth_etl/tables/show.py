"""What `oauth-etl table show invoices --tenant ...` prints: schema, rows, versions; the
name checked against the catalog, and its errors told apart (unknown, not merged, unreadable)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from deltalake.exceptions import DeltaError

from oauth_etl.oauth.errors import clip
from oauth_etl.tables.location import SOURCE, TableStore
from oauth_etl.tables.model import TENANT, table_names, table_specs
from oauth_etl.tables.writes import open_table

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


class UnknownTable(LookupError):
    """No table of that name in the catalog; `suggestions` are the close names."""

    def __init__(self, name: str, suggestions: tuple[str, ...]) -> None:
        close = f"did you mean {', '.join(suggestions)}? " if suggestions else ""
        super().__init__(
            f"no table {clip(name)!r} in the catalog: {close}"
            f"the tables are {', '.join(table_names())}"
        )
        self.suggestions = suggestions


class NotMergedYet(LookupError):
    """A table of the catalog with no Delta table yet: nothing merged."""

    def __init__(self, name: str, uri: str) -> None:
        super().__init__(f"{GROUP}/{name} is not merged yet (no Delta table at {uri})")
        self.endpoint = producing_endpoint(name)  # what `run --select` takes


class UnknownTenant(LookupError):
    """A tenant with no row in the table: `present` are the tenants it has."""

    def __init__(self, name: str, tenant_id: str, present: tuple[str, ...]) -> None:
        super().__init__(f"no tenant {clip(tenant_id)!r} in {GROUP}/{name}")
        self.present = present


def producing_endpoint(table: str) -> str:
    """The endpoint whose records fill `table`: itself, or a child table's parent
    (`invoice_line_items` -> `invoices`), from the table specs."""
    for spec in table_specs():
        if table == spec.name or table in (c.name for c in spec.children):
            return spec.endpoint.name
    raise KeyError(table)


class TableUnreadable(RuntimeError):
    """The storage under the table could not be read (network, credential, permission);
    the original error is the cause (its text may quote a URL with a SAS: never shown)."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"cannot read the Delta table at {uri}")
        self.uri = uri


GROUP = "xero_tables"  # the table assets' key prefix: `xero_tables/invoices`


def table_name(name: str) -> str:
    """`invoices`, `xero/invoices` or the asset key `xero_tables/invoices` -> `invoices`,
    checked against the catalog's tables (UnknownTable with the close names)."""
    source, sep, rest = name.strip().partition("/")
    short = rest if sep and source in (SOURCE, GROUP) else name.strip()
    known = table_names()
    if short not in known:
        raise UnknownTable(name, tuple(difflib.get_close_matches(short, known, n=3)))
    return short


def column_types(schema: pa.Schema) -> list[tuple[str, str]]:
    """(column, Arrow type) pairs, as printed and as Dagster column metadata wants them."""
    return [(field.name, str(field.type)) for field in schema]


def describe(
    store: TableStore, name: str, tenant_id: str | None = None, history: int = HISTORY_LIMIT
) -> TableDescription:
    short = table_name(name)
    if history < 1:
        raise ValueError(f"history must be 1 or more versions (got {history})")
    try:
        dt = open_table(store, short)
        if dt is None:
            raise NotMergedYet(short, store.uri(short))
        tenants = {p[TENANT] for p in dt.partitions()}
        if tenant_id is not None and tenant_id not in tenants:
            raise UnknownTenant(short, tenant_id, tuple(sorted(tenants)))
        partitions = None if tenant_id is None else [(TENANT, "=", tenant_id)]
        dataset = dt.to_pyarrow_dataset(partitions=partitions)
        entries = dt.history(history)
        rows = dataset.count_rows()
    except (OSError, DeltaError) as exc:
        # delta-rs: `OSError: Generic MicrosoftAzure error ...` (network, credential, 403).
        raise TableUnreadable(store.uri(short)) from exc
    versions = tuple(
        Version(
            version=int(entry["version"]),
            timestamp=datetime.fromtimestamp(int(entry["timestamp"]) / 1000, UTC),
            operation=str(entry.get("operation", "")),
            metrics=dict(entry.get("operationMetrics") or {}),
        )
        for entry in entries
    )
    return TableDescription(
        name=f"{GROUP}/{short}",
        uri=dt.table_uri,
        version=dt.version(),
        schema=pa.schema(dt.schema().to_arrow()),
        rows=rows,
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


def as_json_payload(description: TableDescription) -> dict[str, Any]:
    """What `table show --json` prints (keys listed in the README, the command line)."""
    d = description
    return {
        "table": d.name,
        "uri": d.uri,
        "version": d.version,
        "tenant_id": d.tenant_id,
        "rows": d.rows,
        "tenants": d.partitions,
        "columns": [{"name": name, "type": kind} for name, kind in column_types(d.schema)],
        "history": [
            {
                "version": v.version,
                "timestamp": v.timestamp.isoformat(timespec="seconds").replace("+00:00", "Z"),
                "operation": v.operation,
                "metrics": {k: v.metrics[k] for k in _SHOWN_METRICS if k in v.metrics},
            }
            for v in d.history
        ],
    }


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

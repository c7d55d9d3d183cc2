"""Landed records to Arrow tables: one parent table and one table per child array.

Column by column: each property's values are gathered from the chunk's records and
converted in one pass (nested objects and arrays recursively, as Arrow struct and list
arrays), so the per-record Python work is a dictionary lookup per property. A top-level field
the spec does not name becomes a string column of its own (JSON text unless it is a string):
schema evolution without guessing a type that the next record could contradict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa

from oauth_etl.tables import columns
from oauth_etl.tables.model import (
    BATCH,
    LINE,
    TENANT,
    UNPARSED,
    Shape,
    TableSpec,
    child_shape,
    parent_shape,
)


@dataclass
class ConversionStats:
    rows: int = 0
    unparsed_values: int = 0  # values kept raw in `_unparsed`
    rows_with_unparsed: int = 0
    new_columns: set[str] = field(default_factory=set)  # fields outside the spec

    def add(self, other: ConversionStats) -> None:
        self.rows += other.rows
        self.unparsed_values += other.unparsed_values
        self.rows_with_unparsed += other.rows_with_unparsed
        self.new_columns |= other.new_columns


def _text(value: Any) -> str:
    return value if type(value) is str else columns.json_text(value)


def build_table(
    shape: Shape,
    keys: dict[str, pa.Array],
    records: list[Mapping[str, Any]],
    batch_ids: list[str],
    sinks: columns.Sinks,
) -> tuple[pa.Table, ConversionStats]:
    """One table from records (already matched to their key columns and batch ids).
    `sinks` may already hold raw values of these rows (a parent's malformed child array)."""
    arrays: dict[str, pa.Array] = dict(keys)
    for arrow_field in shape.fields:
        name = arrow_field.name
        values = [record.get(name) for record in records]
        arrays[name] = shape.converters[name](values, columns.top_level(name), sinks)
    known = set(shape.converters) | shape.skip | set(keys)
    extra: set[str] = set()
    for record in records:
        if len(record) > len(known) or not known.issuperset(record):
            extra.update(key for key in record if key not in known)
    for name in sorted(extra):
        arrays[name] = pa.array(
            [None if (v := r.get(name)) is None else _text(v) for r in records], type=pa.string()
        )
    arrays[BATCH] = pa.array(batch_ids, type=pa.string())
    arrays[UNPARSED] = pa.array(
        [None if row is None else orjson.dumps(row).decode() for row in sinks.rows],
        type=pa.string(),
    )
    schema = shape.schema(sorted(extra))
    stats = ConversionStats(
        rows=len(records),
        unparsed_values=sinks.values,
        rows_with_unparsed=sum(row is not None for row in sinks.rows),
        new_columns=extra,
    )
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema), stats


@dataclass
class Converted:
    parent: pa.Table
    children: dict[str, pa.Table]
    stats: ConversionStats
    child_stats: dict[str, ConversionStats]
    child_owners: dict[str, list[int]]  # per child row, the index of its parent row


def convert_records(
    table: TableSpec, tenant_id: str, pairs: Iterable[tuple[str, Mapping[str, Any]]]
) -> Converted:
    """Arrow tables from (batch id, record) pairs of one tenant."""
    batch_ids: list[str] = []
    records: list[Mapping[str, Any]] = []
    for batch_id, record in pairs:
        batch_ids.append(batch_id)
        records.append(record)
    count = len(records)
    ids = [record.get(table.id_field) for record in records]
    parent_sinks = columns.Sinks(count)
    children: dict[str, pa.Table] = {}
    child_stats: dict[str, ConversionStats] = {}
    child_owners: dict[str, list[int]] = {}
    for child in table.children:
        shape = child_shape(table.name, child.name)
        lines: list[Mapping[str, Any]] = []
        owners: list[int] = []
        positions: list[int] = []
        for row, record in enumerate(records):
            array = record.get(child.array)
            if array is None:
                continue
            if type(array) is not list:  # kept raw on the parent row
                parent_sinks.keep(columns.top_level(child.array), row, array)
                continue
            for position, line in enumerate(array):
                lines.append(line if type(line) is dict else {"_value": line})
                owners.append(row)
                positions.append(position)
        keys = {
            TENANT: pa.array([tenant_id] * len(lines), type=pa.string()),
            child.parent_id: pa.array([_text(ids[o]) for o in owners], type=pa.string()),
            LINE: pa.array(positions, type=pa.int32()),
        }
        children[child.name], child_stats[child.name] = build_table(
            shape, keys, lines, [batch_ids[o] for o in owners], columns.Sinks(len(lines))
        )
        child_owners[child.name] = owners
    shape = parent_shape(table.name)
    keys = {
        TENANT: pa.array([tenant_id] * count, type=pa.string()),
        # Every catalog id is a string in the spec (uuid, TaxType, CurrencyCode).
        table.id_field: pa.array([None if i is None else _text(i) for i in ids], pa.string()),
    }
    parent, stats = build_table(shape, keys, records, batch_ids, parent_sinks)
    return Converted(parent, children, stats, child_stats, child_owners)

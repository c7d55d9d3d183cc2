"""Landed records to Arrow tables: one parent table and one table per child array.

Column by column, so memory is a handful of Python lists per chunk of records. A top-level
field the spec does not name becomes a string column of its own (JSON text unless it is a
string): schema evolution without guessing a type that the next record could contradict.
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
    unparsed_values: int = 0  # values kept raw in `_unparsed` (also counted per row below)
    rows_with_unparsed: int = 0
    new_columns: set[str] = field(default_factory=set)  # fields outside the spec

    def add(self, other: ConversionStats) -> None:
        self.rows += other.rows
        self.unparsed_values += other.unparsed_values
        self.rows_with_unparsed += other.rows_with_unparsed
        self.new_columns |= other.new_columns


class _Builder:
    """Accumulates the rows of one table column by column."""

    def __init__(self, shape: Shape, key_names: tuple[str, ...]) -> None:
        self.shape = shape
        self.key_names = key_names
        self.keys: dict[str, list[Any]] = {name: [] for name in key_names}
        self.values: dict[str, list[Any]] = {f.name: [] for f in shape.fields}
        self.extra: dict[str, list[Any]] = {}
        self.batch: list[str] = []
        self.unparsed: list[str | None] = []
        self.stats = ConversionStats()
        self._items = tuple(shape.converters.items())

    def add(self, keys: tuple[Any, ...], record: Mapping[str, Any], batch_id: str) -> None:
        row = len(self.batch)
        sink: columns.Unparsed = {}
        for name, value in zip(self.key_names, keys, strict=True):
            self.keys[name].append(value)
        values = self.values
        for name, convert in self._items:
            values[name].append(convert(record.get(name), name, sink))
        known = self.shape.converters
        for name, value in record.items():
            if name in known or name in self.shape.skip or name in self.keys:
                continue
            column = self.extra.get(name)
            if column is None:
                column = self.extra[name] = [None] * row  # a field outside the spec
            column.append(None if value is None else _text(value))
        for column in self.extra.values():
            if len(column) == row:
                column.append(None)
        self.batch.append(batch_id)
        self.stats.rows += 1
        if sink:
            self.stats.unparsed_values += len(sink)
            self.stats.rows_with_unparsed += 1
            self.unparsed.append(orjson.dumps(sink).decode())
        else:
            self.unparsed.append(None)

    def table(self) -> pa.Table:
        self.stats.new_columns = set(self.extra)
        schema = self.shape.schema(sorted(self.extra))
        data: dict[str, list[Any]] = {**self.keys, **self.values}
        data.update(self.extra)
        data[BATCH] = self.batch
        data[UNPARSED] = self.unparsed
        arrays = [pa.array(data[f.name], type=f.type) for f in schema]
        return pa.Table.from_arrays(arrays, schema=schema)


def _text(value: Any) -> str:
    return value if type(value) is str else columns.json_text(value)


@dataclass
class Converted:
    parent: pa.Table
    children: dict[str, pa.Table]
    stats: ConversionStats
    child_stats: dict[str, ConversionStats]


def convert_records(
    table: TableSpec, tenant_id: str, records: Iterable[tuple[str, Mapping[str, Any]]]
) -> Converted:
    """Arrow tables from (batch id, record) pairs of one tenant."""
    parent = _Builder(parent_shape(table.name), (TENANT, table.id_field))
    kids = {
        child.name: (
            child,
            _Builder(child_shape(table.name, child.name), (TENANT, child.parent_id, LINE)),
        )
        for child in table.children
    }
    for batch_id, record in records:
        record_id = record.get(table.id_field)
        parent.add((tenant_id, record_id), record, batch_id)
        for child, builder in kids.values():
            lines = record.get(child.array)
            if lines is None:
                continue
            if type(lines) is not list:
                _keep_on_parent(parent, child.array, lines)
                continue
            for position, line in enumerate(lines):
                line_record = line if type(line) is dict else {"_value": line}
                builder.add((tenant_id, record_id, position), line_record, batch_id)
    return Converted(
        parent=parent.table(),
        children={name: builder.table() for name, (_, builder) in kids.items()},
        stats=parent.stats,
        child_stats={name: builder.stats for name, (_, builder) in kids.items()},
    )


def _keep_on_parent(parent: _Builder, path: str, value: Any) -> None:
    """Record a child array that is not an array in the last parent row's `_unparsed`."""
    current = parent.unparsed[-1]
    sink: dict[str, Any] = {} if current is None else orjson.loads(current)
    if current is None:
        parent.stats.rows_with_unparsed += 1
    sink[path] = columns.json_text(value)
    parent.unparsed[-1] = orjson.dumps(sink).decode()
    parent.stats.unparsed_values += 1

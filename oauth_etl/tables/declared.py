"""Each table's columns as (name, Arrow type) text, vendored for the Dagster definitions.

Every run process loads the definitions, extraction runs included; building the shapes
needs pyarrow, so the asset specs read this generated file instead (`python -m
oauth_etl.tables.declared` rewrites it; a test fails when it is stale).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import orjson

from oauth_etl.tables.model import BUCKET, Shape, child_shape, parent_shape, table_specs

COLUMNS_FILE = Path(__file__).with_name("declared_columns.json")


def generate() -> bytes:
    tables: dict[str, list[tuple[str, str]]] = {}
    for table in table_specs():
        tables[table.name] = table_columns(parent_shape(table.name))
        for child in table.children:
            tables[child.name] = table_columns(child_shape(table.name, child.name))
    return orjson.dumps(tables, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


def table_columns(shape: Shape) -> list[tuple[str, str]]:
    """A shape's columns and the bucket partition column the merge adds (spool.py)."""
    import pyarrow as pa

    from oauth_etl.tables.show import column_types

    return column_types(shape.schema().append(pa.field(BUCKET, pa.int32())))


@cache
def _all() -> dict[str, list[list[str]]]:
    loaded: dict[str, list[list[str]]] = orjson.loads(COLUMNS_FILE.read_bytes())
    return loaded


def declared_columns(name: str) -> list[tuple[str, str]]:
    """(column, Arrow type) of a table as its merge creates it (before schema evolution)."""
    return [(column, kind) for column, kind in _all()[name]]


def main(argv: list[str]) -> int:
    if argv:
        print("usage: python -m oauth_etl.tables.declared")
        return 2
    COLUMNS_FILE.write_bytes(generate())
    print(f"wrote {COLUMNS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

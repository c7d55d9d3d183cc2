"""The Dagster definitions load without deltalake or pyarrow: every run process loads them
(extraction runs too), and the table assets declare their columns from a vendored file."""

from __future__ import annotations

import subprocess
import sys

import pyarrow as pa

from oauth_etl.tables import declared
from oauth_etl.tables.model import BUCKET, child_shape, parent_shape, table_specs
from oauth_etl.tables.show import column_types

PROBE = """
import sys
import oauth_etl.definitions
oauth_etl.definitions.defs()
print(sorted(m for m in ("deltalake", "pyarrow") if m in sys.modules))
"""


def test_loading_the_definitions_imports_neither_deltalake_nor_pyarrow() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_declared_columns_file_is_current() -> None:
    assert declared.generate() == declared.COLUMNS_FILE.read_bytes(), (
        "oauth_etl/tables/declared_columns.json is stale: run `python -m oauth_etl.tables.declared`"
    )


def test_declared_columns_are_the_shapes_columns_and_the_bucket() -> None:
    for table in table_specs():
        shape = parent_shape(table.name).schema().append(pa.field(BUCKET, pa.int32()))
        assert declared.declared_columns(table.name) == column_types(shape)
        for child in table.children:
            shape = (
                child_shape(table.name, child.name).schema().append(pa.field(BUCKET, pa.int32()))
            )
            assert declared.declared_columns(child.name) == column_types(shape)

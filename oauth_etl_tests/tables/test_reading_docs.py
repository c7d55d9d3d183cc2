"""The DuckDB and Polars examples of docs/tables.md, run as written against Azurite.

The code comes from the markdown itself, so the docs cannot drift from what works; only
the storage options, the tenant and the account's root are put in for the local emulator.
"""

from __future__ import annotations

import contextlib
import io
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
from azure.storage.blob import ContainerClient

from oauth_etl.tables import merge
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import table_spec
from oauth_etl.tables.upkeep import read_as_of
from oauth_etl_tests.tables.conftest import invoices, land

DOC = Path(__file__).resolve().parents[2] / "docs" / "tables.md"
DOC_ROOT = "az://xero-raw/tables/xero"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def reading_examples() -> list[str]:
    """The Python blocks of the Reading section up to Power BI (which cannot run here)."""
    text = DOC.read_text()
    section = text[text.index("## Reading") : text.index("**Power BI")]
    return _BLOCK.findall(section)


def localised(code: str, store: TableStore) -> str:
    code = code.replace(DOC_ROOT, store.root)
    code = re.sub(r"^options = .*$", "options = STORE_OPTIONS", code, flags=re.MULTILINE)
    return re.sub(r"^TENANT = .*$", "TENANT = STORE_TENANT", code, flags=re.MULTILINE)


def test_the_duckdb_and_polars_examples_run_as_documented(
    container: ContainerClient, store: TableStore
) -> None:
    records = invoices("t1", 30)
    batch = land(container, "invoices", "t1", records, "20260101T000000.000Z-a")
    merge.merge_batches(store, table_spec("invoices"), container, [batch])
    blocks = reading_examples()
    assert len(blocks) == 3, "docs/tables.md: setup, DuckDB and Polars blocks expected"
    setup, duck, polars = (localised(code, store) for code in blocks)
    assert "STORE_OPTIONS" in setup and "STORE_TENANT" in setup and store.root in setup
    assert "import duckdb" in duck and "import polars" in polars and store.root in polars
    scope: dict[str, Any] = {"STORE_OPTIONS": store.storage_options(), "STORE_TENANT": "t1"}

    exec(setup, scope)  # noqa: S102 - the documented example, nothing else
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(duck, scope)  # noqa: S102
    exec(polars, scope)  # noqa: S102

    receivable = [r for r in records if r["Type"] == "ACCREC"]
    statuses = {r["Status"] for r in receivable}
    assert receivable and all(status in printed.getvalue() for status in statuses)
    by_account = scope["by_account"]
    lines = read_as_of(store, "invoice_line_items")
    assert set(by_account["AccountCode"].to_list()) == set(lines.column("AccountCode").to_pylist())
    total = sum(by_account["LineAmount"].to_list(), Decimal(0))
    assert total == pc.sum(lines.column("LineAmount")).as_py()

"""The report section's DuckDB and Polars examples of docs/tables.md, run as written
against tables of sandbox readings in Azurite (only the storage options, the tenant, the
root and the moment are put in)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from oauth_etl.tables import reports
from oauth_etl.tables.location import TableStore
from oauth_etl.xero.reports.model import Reading
from oauth_etl_tests.reports.conftest import Books, months_before
from oauth_etl_tests.tables.test_reading_docs import _BLOCK, DOC, localised

RETENTION = 7


def report_examples() -> list[str]:
    text = DOC.read_text()
    section = text[text.index("## Report tables") : text.index("Power BI and Fabric read them")]
    return _BLOCK.findall(section)


def _net_profit(reading: Reading) -> dict[dt.date, Decimal]:
    return {
        c.period_end: c.value
        for c in reading.cells
        if c.label == "Net Profit" and c.value is not None
    }


def test_the_report_queries_run_as_documented(books: Books, store: TableStore) -> None:
    months = months_before(books.today(), 3)
    first = books.profit_and_loss(months)
    reports.append_readings(
        store, "profit_and_loss", books.tenant, "b1", [first], retention_days=RETENTION
    )
    moment = dt.datetime.now(dt.UTC)
    books.xero.admin(
        "change",
        {
            "endpoint": "Invoices",
            "kind": "insert",
            "tenant_id": books.tenant,
            "date": months[1].start.replace(day=12).isoformat(),
        },
    )
    again = books.profit_and_loss([months[1]])
    reports.append_readings(
        store, "profit_and_loss", books.tenant, "b2", [again], retention_days=RETENTION
    )
    reports.write_monthly(store, "profit_and_loss", books.tenant, retention_days=RETENTION)

    blocks = report_examples()
    assert len(blocks) == 3, "docs/tables.md: setup, DuckDB and Polars report blocks expected"
    setup, duck, polars = (localised(code, store) for code in blocks)
    setup = re.sub(r"^AS_OF = .*$", "AS_OF = STORE_AS_OF", setup, flags=re.MULTILINE)
    assert "STORE_AS_OF" in setup and "import duckdb" in duck and "import polars" in polars
    scope: dict[str, Any] = {
        "STORE_OPTIONS": store.storage_options(),
        "STORE_TENANT": books.tenant,
        "STORE_AS_OF": moment.isoformat(),
    }
    exec(setup, scope)  # noqa: S102 - the documented example, nothing else
    exec(duck, scope)  # noqa: S102
    exec(polars, scope)  # noqa: S102

    then = _net_profit(first)
    assert dict(scope["net_profit"]) == then
    latest = {**then, **_net_profit(again)}
    assert latest[months[1].end] != then[months[1].end]  # the back-dated sale
    statement = scope["statement"]
    (row,) = statement.filter(statement["label"] == "Net Profit").to_dicts()
    assert {m.end: row[f"{m.end:%Y-%m}"] for m in months} == latest
    assert statement["row_order"].to_list() == sorted(statement["row_order"].to_list())

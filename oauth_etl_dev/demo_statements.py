"""The demo's statements as a BI tool reads them: a tenant's accrual lines from the wide
monthly views (`report_<report>_monthly`), printed for months that are over.

A month still running is left out of both statements: its P&L is not a month's, and the
balance sheet at its end would be a date still to come (Xero answers for one, counting
what is dated up to it).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.reports_layout import month_column, monthly_name
from oauth_etl.tables.writes import open_table

Echo = Callable[[str], None]
LABEL = 30  # characters of a line's label
MIN_WIDTH = 11  # characters per figure, at least; more when a figure is longer


def months_before(today: dt.date, count: int) -> list[str]:
    """The month columns of the `count` complete months before `today`'s, oldest first."""
    out = []
    year, month = today.year, today.month
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(month_column(year, month))
    return out[::-1]


def month_end(column: str) -> dt.date:
    """`2026-11` -> 2026-11-30."""
    year, month = (int(part) for part in column.split("-"))
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def statement(store: TableStore, report: str, tenant_id: str) -> list[dict[str, Any]]:
    """The tenant's accrual lines of a report's monthly view, whole organisation, in
    Xero's order."""
    table = open_table(store, monthly_name(report))
    if table is None:
        return []
    rows = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)]).to_table()
    found = [
        r
        for r in rows.to_pylist()
        if r["basis"] == "accrual" and r["tracking_category_id"] is None and not r["measure"]
    ]
    return sorted(found, key=lambda r: r["row_order"])


def _figure(value: Decimal | None) -> str:
    return "" if value is None else f"{value:,.2f}"


def print_statement(
    title: str,
    lines: Sequence[dict[str, Any]],
    columns: Sequence[str],
    headers: Sequence[str],
    echo: Echo,
) -> list[str]:
    """The lines' figures in `columns` (a month column each), under `headers`; returns
    the columns without any figure (months without books)."""
    width = max([MIN_WIDTH - 1, *(len(_figure(line.get(c))) for line in lines for c in columns)])
    width += 1  # a space between figures, however long
    echo(f"  {title}")
    echo(f"    {'':<{LABEL}}" + "".join(f"{h:>{width}}" for h in headers))
    for line in lines:
        if all(line.get(c) is None for c in columns):
            continue
        label = ("  " if line["row_type"] == "Row" and line["section"] else "") + line["label"]
        figures = "".join(f"{_figure(line.get(c)):>{width}}" for c in columns)
        echo(f"    {label[:LABEL]:<{LABEL}}{figures}")
    return [c for c in columns if all(line.get(c) is None for line in lines)]


def print_statements(
    store: TableStore, tenant_id: str, today: dt.date, months: int, echo: Echo
) -> None:
    """The P&L of the `months` complete months before today's and the balance sheet at
    the last two month-ends that have passed."""
    shown = months_before(today, months)
    empty = print_statement(
        f"Profit and loss, the {months} months {shown[0]} to {shown[-1]} (accrual)",
        statement(store, "profit_and_loss", tenant_id),
        shown,
        shown,
        echo,
    )
    if empty:
        echo(f"    no books in {', '.join(empty)}: the organisation's history is shorter")
    ends = shown[-2:]
    print_statement(
        f"Balance sheet at the last two month-ends before today, {today} (accrual)",
        statement(store, "balance_sheet", tenant_id),
        ends,
        [month_end(c).isoformat() for c in ends],
        echo,
    )

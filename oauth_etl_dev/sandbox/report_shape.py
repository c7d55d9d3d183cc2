"""The shape of Xero's reports: rows, cells, periods, dates and the 400 of a bad parameter.

xero_accounting.yaml, schemas ReportWithRows / ReportWithRow / ReportRows / ReportRow /
ReportCell / ReportAttribute / RowType (Header, Section, Row, SummaryRow). Amounts are
strings with two decimals, as in the spec's examples ("154355.72"); an account cell
carries `Attributes: [{"Id": "account", "Value": <AccountID>}]` (getReportBalanceSheet
example).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from oauth_etl_dev.sandbox.data import DAY_MS, net_date

Json = dict[str, Any]


class ReportError(ValueError):
    """A parameter Xero refuses: a 400 ValidationException (spec schema Error)."""

    def body(self) -> Json:
        return {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": str(self),
            "Elements": [],
        }


# -- cells and rows -------------------------------------------------------------------
def amount(value: Decimal) -> str:
    return f"{value:.2f}"


def cell(value: str, **attributes: str) -> Json:
    out: Json = {"Value": value}
    if attributes:
        out["Attributes"] = [{"Value": v, "Id": k} for k, v in attributes.items()]
    return out


def header(*values: str) -> Json:
    return {"RowType": "Header", "Cells": [cell(v) for v in values]}


def row(cells: list[Json], summary: bool = False) -> Json:
    return {"RowType": "SummaryRow" if summary else "Row", "Cells": cells}


def section(title: str, rows: list[Json]) -> Json:
    return {"RowType": "Section", "Title": title, "Rows": rows}


def account_row(name: str, account_id: str, values: list[Decimal]) -> Json:
    """A row of one account: its name then its figures, each cell naming the account."""
    return row(
        [cell(name, account=account_id)] + [cell(amount(v), account=account_id) for v in values]
    )


def total_row(title: str, values: list[Decimal], summary: bool = True) -> Json:
    return row([cell(title)] + [cell(amount(v)) for v in values], summary=summary)


def report(
    report_type: str,
    name: str,
    titles: list[str],
    now_ms: int,
    rows: list[Json],
    report_id: str | None = None,
) -> Json:
    # A standard report's ReportID is its type ("ProfitAndLoss"), a published one's a
    # GUID (no spec example carries it: the reading model's assumption, which Xero's
    # responses seen by client libraries share).
    out: Json = {"ReportID": report_id or report_type}
    out.update(
        ReportName=name,
        ReportType=report_type,
        ReportTitles=titles,
        ReportDate=long_day(now_ms),
        UpdatedDateUTC=f"/Date({now_ms})/",
        Fields=[],
        Rows=rows,
    )
    return out


# -- days -----------------------------------------------------------------------------
def to_date(ms: int) -> date:
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def to_ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def long_day(ms: int) -> str:
    """'23 April 2019' (spec examples' ReportDate)."""
    d = to_date(ms)
    return f"{d.day} {d.strftime('%B %Y')}"


def short_day(ms: int) -> str:
    """'30 Apr 2019' (getReportBalanceSheet example's header cells)."""
    d = to_date(ms)
    return f"{d.day} {d.strftime('%b %Y')}"


def us_day(ms: int) -> str:
    """'4/30/2019' (the fromDate/toDate attributes of getReportBalanceSheet's example)."""
    d = to_date(ms)
    return f"{d.month}/{d.day}/{d.year}"


def parse_date(name: str, text: str | None, default: int) -> int:
    """A `YYYY-MM-DD` query parameter (spec: format date) as UTC-midnight ms."""
    if text is None or text == "":
        return default
    try:
        return to_ms(date.fromisoformat(text.strip()[:10]))
    except ValueError:
        raise ReportError(f"{name} is not a valid date (use YYYY-MM-DD): {text!r}") from None


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months; a month's last day stays a month's last day."""
    last = calendar.monthrange(day.year, day.month)[1] == day.day
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    length = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, length if last else min(day.day, length))


def month_start(ms: int) -> int:
    return to_ms(to_date(ms).replace(day=1))


def month_end(ms: int) -> int:
    d = to_date(ms)
    return to_ms(d.replace(day=calendar.monthrange(d.year, d.month)[1]))


def year_start(ms: int, end_day: int, end_month: int) -> int:
    """The first day of the financial year holding `ms` (Organisation.FinancialYearEnd
    Day/Month: the year ends on that day)."""
    d = to_date(ms)
    for year in (d.year, d.year + 1):
        length = calendar.monthrange(year, end_month)[1]
        end = date(year, end_month, min(end_day, length))
        start = add_months(end, -12) + timedelta(days=1)
        if start <= d <= end:
            return to_ms(start)
    return to_ms(d)


@dataclass(frozen=True)
class Period:
    label: str
    from_ms: int
    to_ms: int


TIMEFRAME_MONTHS = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}


def periods(
    from_ms: int, to_ms_: int, count: int, timeframe: str, label: Any = short_day
) -> list[Period]:
    """The period asked for, then `count` earlier ones a timeframe apart, newest first
    (comparison columns: Xero-Java issue #107, maintainer: "the months are comparisons
    to the previous month"; each as long as the first, xero-php-oauth2 issue #250)."""
    step = TIMEFRAME_MONTHS[timeframe]
    out = []
    for k in range(count + 1):
        start = add_months(to_date(from_ms), -k * step)
        end = add_months(to_date(to_ms_), -k * step)
        out.append(Period(label(to_ms(end)), to_ms(start), to_ms(end)))
    return out


def today(now_ms: int) -> int:
    return now_ms // DAY_MS * DAY_MS


__all__ = ["net_date"]

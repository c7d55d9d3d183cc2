"""Flatten one report answer into `ReportCell`s: one per value cell.

`ReportWithRows` (xero_accounting.yaml: Reports[].Rows, RowType Header / Section / Row /
SummaryRow, Cells with Value and Attributes): the Header row names the columns; cell 0 of
every row is its label, every later cell one value. Column headers that are dates map to
the request's periods ("30 Nov 2026": a P&L month ending then or a balance sheet's
month-end, getReportBalanceSheet example; "Nov 2026": the executive summary's months;
"Jul-26": the budget's, sandbox README); any other header (Debit, YTD Credit, a tracking
option, Variance) belongs to the call's first period. Account cells carry
`{"Id": "account", "Value": AccountID}` (getReportProfitAndLoss example; the bank summary
puts "accountID" on its label cell). The 1099 answers schema `Reports` (Contacts with
Box1..), a published report its `Fields`: both flattened the same way.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from oauth_etl.xero.reports.catalog import Report
from oauth_etl.xero.reports.model import Period, ReportCell, ReportRequest
from oauth_etl.xero.reports.org import Organisation

ACCOUNT_IDS = ("account", "accountid")
_NUMBER = re.compile(r"^-?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$")
_DAY = re.compile(r"^(\d{1,2}) ([A-Za-z]{3,9}) (\d{4})$")  # "30 Nov 2026", "1 April 2026"
_MONTH = re.compile(r"^([A-Za-z]{3,9}) (\d{4})$")  # "Nov 2026"
_SHORT_MONTH = re.compile(r"^([A-Za-z]{3})-(\d{2})$")  # "Jul-26"
_RANGE = re.compile(r"^(?:From )?(.+?) to (.+)$")  # "1 April 2026 to 30 June 2026"
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_abbr) if name} | {
    name.lower(): i for i, name in enumerate(calendar.month_name) if name
}


class UnexpectedShape(ValueError):
    """The answer is not a report of the shape the spec gives."""


@dataclass(frozen=True)
class _Column:
    header: str
    period: Period


def value_of(text: str) -> Decimal | None:
    """Xero's amount text as a Decimal ("1234.56", "-0.00", "1,234.56"); None otherwise."""
    stripped = text.strip()
    if not _NUMBER.match(stripped):
        return None
    try:
        return Decimal(stripped.replace(",", ""))
    except InvalidOperation:
        return None


def header_date(text: str) -> tuple[dt.date, bool] | None:
    """(date, is_a_month) of a column header: a day, or the first day of a month."""
    text = text.strip()
    try:
        if m := _DAY.match(text):
            return dt.date(int(m[3]), _MONTHS[m[2].lower()], int(m[1])), False
        if m := _MONTH.match(text):
            return dt.date(int(m[2]), _MONTHS[m[1].lower()], 1), True
        if m := _SHORT_MONTH.match(text):
            return dt.date(2000 + int(m[2]), _MONTHS[m[1].lower()], 1), True
    except (KeyError, ValueError):
        return None
    return None


def _month(first: dt.date) -> Period:
    return Period(first, first.replace(day=calendar.monthrange(first.year, first.month)[1]))


def column_period(header: str, request: ReportRequest) -> Period | None:
    """The period a column holds, when its header names one."""
    found = header_date(header)
    if found is None:
        return None
    day, is_month = found
    for period in request.periods:
        if is_month and (period.start.year, period.start.month) == (day.year, day.month):
            return period
        if not is_month and period.end == day:
            return period
    # A comparison column outside the plan (the executive summary's month before).
    return _month(day) if is_month else Period(day, day)


def _columns(header: list[str], request: ReportRequest) -> list[_Column]:
    default = request.periods[0] if request.periods else None
    out = []
    for text in header:
        period = None if request.tracking_category_id else column_period(text, request)
        chosen = period or default
        if chosen is None:
            raise UnexpectedShape(f"column {text!r} names no period and the request has none")
        out.append(_Column(text, chosen))
    return out


def _attributes(cell: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = cell.get("Attributes") or []
    return [(str(a.get("Id", "")), str(a.get("Value", ""))) for a in found if isinstance(a, dict)]


def _account(cells: list[Mapping[str, Any]], index: int) -> str | None:
    """The value cell's own account attribute, else one on any cell of the row."""
    order = [cells[index], *cells]
    for cell in order:
        for key, value in _attributes(cell):
            if key.lower() in ACCOUNT_IDS and value:
                return value.lower()
    return None


def _rows(
    rows: list[Mapping[str, Any]], path: tuple[str, ...]
) -> Iterator[tuple[tuple[str, ...], Mapping[str, Any]]]:
    for row in rows:
        kind = row.get("RowType")
        if kind == "Section":
            title = str(row.get("Title") or "")
            yield from _rows(list(row.get("Rows") or []), (*path, title) if title else path)
        elif kind in ("Row", "SummaryRow"):
            yield path, row


def _report(document: Mapping[str, Any]) -> Mapping[str, Any]:
    reports = document.get("Reports")
    if not isinstance(reports, list) or len(reports) != 1 or not isinstance(reports[0], dict):
        raise UnexpectedShape("expected one report under Reports")
    return reports[0]


def _template(
    spec: Report, request: ReportRequest, org: Organisation, as_read_at: dt.datetime, report_id: str
) -> ReportCell:
    """What every cell of one answer shares; each cell replaces the rest."""
    return ReportCell(
        tenant_id=org.tenant_id,
        report=spec.name,
        report_id=report_id,
        basis=request.basis,
        period_start=dt.date.min,
        period_end=dt.date.min,
        section_path=(),
        row_index=0,
        row_type="",
        label="",
        column="",
        value=None,
        text=None,
        tracking_category_id=request.tracking_category_id,
        currency=org.base_currency,
        as_read_at=as_read_at,
    )


def cells(
    document: Mapping[str, Any],
    spec: Report,
    request: ReportRequest,
    org: Organisation,
    as_read_at: dt.datetime,
) -> list[ReportCell]:
    """Every value cell of the answer to `request`, in Xero's order."""
    if spec.schema == "Reports":
        return _ten_ninety_nine(
            document, _template(spec, request, org, as_read_at, spec.report_id), request
        )
    if spec.name == "published_reports":
        return []  # a list of ReportIDs, no figures
    report = _report(document)
    rows = report.get("Rows") or []
    if not isinstance(rows, list):
        raise UnexpectedShape("Rows is not a list")
    report_id = str(report.get("ReportID") or spec.report_id)
    template = _template(spec, request, org, as_read_at, report_id)
    if spec.name == "published_report":
        return _fields(report, template, request)
    headers = [r for r in rows if r.get("RowType") == "Header"]
    if not headers:
        raise UnexpectedShape("no Header row")
    columns = _columns([str(c.get("Value") or "") for c in headers[0].get("Cells") or []], request)
    out: list[ReportCell] = []
    for index, (path, row) in enumerate(_rows(rows, ())):
        row_cells = list(row.get("Cells") or [])
        if not row_cells:
            continue
        label = str(row_cells[0].get("Value") or "")
        for i in range(1, len(row_cells)):
            column = columns[i] if i < len(columns) else _Column("", columns[-1].period)
            text = str(row_cells[i].get("Value") or "")
            value = value_of(text)
            account = _account(row_cells, i)
            out.append(
                replace(
                    template,
                    period_start=column.period.start,
                    period_end=column.period.end,
                    section_path=path,
                    row_index=index,
                    row_type=str(row["RowType"]),
                    label=label,
                    column=column.header,
                    value=value,
                    text=None if value is not None else text,
                    account_id=account,
                    account_code=org.account_codes.get(account) if account else None,
                    tracking_option=column.header if request.tracking_category_id else None,
                    attributes=tuple(
                        (k, v) for k, v in _attributes(row_cells[i]) if k.lower() not in ACCOUNT_IDS
                    ),
                )
            )
    return out


def _range_period(text: str) -> Period | None:
    m = _RANGE.match(text.strip())
    if not m:
        return None
    first, last = header_date(m[1]), header_date(m[2])
    if first is None or last is None:
        return None
    return Period(first[0], last[0])


def published_periods(document: Mapping[str, Any]) -> dict[str, Period]:
    """ReportID -> the period it covers, from the list of published reports (getReportsList:
    each with its ReportDate range)."""
    out = {}
    for listed in document.get("Reports") or []:
        period = _range_period(str(listed.get("ReportDate") or ""))
        if listed.get("ReportID") and period is not None:
            out[str(listed["ReportID"])] = period
    return out


def _fields(
    report: Mapping[str, Any], template: ReportCell, request: ReportRequest
) -> list[ReportCell]:
    """A published report's Fields (FieldID, Description, Value): one cell each."""
    # The list gives the range as ReportDate; one report in its ReportTitles (sandbox).
    titles = report.get("ReportTitles") or []
    candidates = [report.get("ReportDate"), *(titles if isinstance(titles, list) else [])]
    found = (_range_period(str(text or "")) for text in candidates)
    period = next((p for p in found if p is not None), None)
    if period is None and request.periods:
        period = request.periods[0]
    if period is None:
        raise UnexpectedShape("a published report without a ReportDate range")
    out = []
    for index, f in enumerate(report.get("Fields") or []):
        text = str(f.get("Value") if f.get("Value") is not None else "")
        value = value_of(text)
        out.append(
            replace(
                template,
                period_start=period.start,
                period_end=period.end,
                section_path=(str(report.get("ReportName") or ""),),
                row_index=index,
                row_type="Field",
                label=str(f.get("Description") or ""),
                column=str(f.get("FieldID") or ""),
                value=value,
                text=None if value is not None else text,
            )
        )
    return out


def _ten_ninety_nine(
    document: Mapping[str, Any], template: ReportCell, request: ReportRequest
) -> list[ReportCell]:
    """Schema `Reports`: each report's Contacts, one cell per Box (spec TenNinetyNineContact)."""
    reports = document.get("Reports")
    if not isinstance(reports, list):
        raise UnexpectedShape("expected Reports")
    if not request.periods:
        raise UnexpectedShape("a 1099 request names its year")
    period = request.periods[0]
    template = replace(template, period_start=period.start, period_end=period.end)
    out: list[ReportCell] = []
    index = 0
    for report in reports:
        name = str(report.get("ReportName") or "")
        for contact in report.get("Contacts") or []:
            boxes = sorted(
                (k for k in contact if re.fullmatch(r"Box\d+", k)), key=lambda k: int(k[3:])
            )
            for box in boxes:
                value = Decimal(str(contact[box])).quantize(Decimal("0.01"))
                out.append(
                    replace(
                        template,
                        section_path=(name,),
                        row_index=index,
                        row_type="Contact",
                        label=str(contact.get("Name") or ""),
                        column=box,
                        value=value,
                        attributes=(("ContactId", str(contact.get("ContactId") or "")),),
                    )
                )
            index += 1
    return out

"""Aged receivables/payables by contact, the 1099 report and published tax reports.

The aged reports read the AR/AP lines of the books per document (sandbox/postings.py
`Line.doc`), so the outstanding amounts of every contact add up to the balance sheet's
Accounts Receivable/Payable at the same date by construction.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from oauth_etl_dev.sandbox.data import DAY_MS, stable_uuid
from oauth_etl_dev.sandbox.postings import AP, AR, TAX, Doc
from oauth_etl_dev.sandbox.report_context import INCOME, ReportContext
from oauth_etl_dev.sandbox.report_shape import (
    Json,
    ReportError,
    add_months,
    amount,
    cell,
    header,
    long_day,
    parse_date,
    report,
    row,
    section,
    to_date,
    to_ms,
)

ZERO = Decimal(0)


def _iso(ms: int) -> str:
    return to_date(ms).isoformat() + "T00:00:00"


def aged(ctx: ReportContext, side: str) -> Json:
    """One contact's documents: `contactId` is required (spec getReportAgedReceivables
    ByContact / getReportAgedPayablesByContact: `required: true`), `date` the day the
    payments count to, `fromDate`/`toDate` the documents' dates (layout of the spec's
    example: Header, Opening Balance, the documents and their Total, Closing Balance)."""
    raw = (ctx.get("contactId") or "").strip()
    if not raw:
        raise ReportError("contactId is required")
    try:
        contact_id = str(uuid.UUID(raw))
    except ValueError:
        raise ReportError(f"contactId is not a valid GUID: {raw!r}") from None
    day = parse_date("date", ctx.get("date"), ctx.today)
    start = parse_date("fromDate", ctx.get("fromDate"), ctx.created_ms())
    end = parse_date("toDate", ctx.get("toDate"), day)
    if end < start:
        raise ReportError("The toDate must be on or after the fromDate")  # our wording
    control = AR if side == "AR" else AP
    sign = 1 if side == "AR" else -1  # payables shown as amounts owed
    docs: list[Doc] = []
    due: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    name = ""
    for entry in ctx.books.entries():
        doc = entry.doc
        if doc is not None and doc.side == side and doc.contact_id.lower() == contact_id:
            docs.append(doc)
            name = doc.contact_name
        if entry.date_ms > day:
            continue
        for line in entry.lines:
            if line.code == control and line.doc is not None:
                due[line.doc] += sign * line.net
    docs.sort(key=lambda d: (d.date_ms, d.number))
    opening = sum((due[d.doc_id] for d in docs if d.date_ms < start), ZERO)
    rows: list[Json] = [
        header("Date", "Number", "Due Date", "", "Total", "Paid", "Credited", "Due")
    ]
    blank = [cell("")] * 4
    rows.append(
        section(
            "",
            [
                row(
                    [
                        cell(_iso(start)),
                        cell("Opening Balance"),
                        *blank[:3],
                        cell(""),
                        cell(amount(opening)),
                    ]
                )
            ],
        )
    )
    body, totals = [], [ZERO] * 4
    for d in docs:
        if not start <= d.date_ms <= min(end, day):
            continue
        total = sign * d.total
        owing = due[d.doc_id]
        overdue = (day - d.due_ms) // DAY_MS
        values = [total, total - owing, ZERO, owing]
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        ref = {"invoiceID": d.doc_id}
        body.append(
            row(
                [
                    cell(_iso(d.date_ms), **ref),
                    cell(d.number, **ref),
                    cell(_iso(d.due_ms), **ref),
                    cell(f"{overdue} days overdue" if overdue > 0 and owing else "", **ref),
                    *(cell(amount(v), **ref) for v in values),
                ]
            )
        )
    if body:
        rows.append(
            section(
                "",
                [*body, row([cell("Total"), *blank[:3], *(cell(amount(v)) for v in totals)], True)],
            )
        )
    closing = [totals[0], totals[1], totals[2], opening + totals[3]]
    rows.append(
        section(
            "",
            [row([cell("Closing Balance"), *blank[:3], *(cell(amount(v)) for v in closing)], True)],
        )
    )
    kind = "Receivables" if side == "AR" else "Payables"
    titles = [
        "Invoices",
        name,
        f"From {long_day(start)} to {long_day(end)}",
        f"Showing payments to {long_day(day)}",
    ]
    return report(f"Aged{kind}ByContact", f"Aged {kind} By Contact", titles, ctx.now_ms, rows)


def ten_ninety_nine(ctx: ReportContext) -> Json:
    """1099-NEC: payments of bills per supplier in `reportYear` (Box 1), US organisations
    only (spec getReportTenNinetyNine example; 1099 is a US tax form). Elsewhere: a
    400 (no source: our assumption of Xero's answer)."""
    if ctx.organisation.get("CountryCode") != "US":
        raise ReportError(
            "The 1099 report is only available for organisations in the United States"
        )
    year = ctx.integer("reportYear", to_date(ctx.today).year, 1900, 9999)
    first, last = to_ms(to_date(0).replace(year=year)), to_ms(to_date(0).replace(year=year + 1))
    paid: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    names: dict[str, str] = {}
    for entry in ctx.books.entries():
        if entry.source_type != "ACCPAYPAYMENT" or not first <= entry.date_ms < last:
            continue
        for line in entry.lines:
            if line.code == AP and line.contact:
                paid[line.contact] += line.net
    for entry in ctx.books.entries():
        if entry.doc is not None and entry.doc.contact_id in paid:
            names[entry.doc.contact_id] = entry.doc.contact_name
    contacts = [
        {
            "Box1": float(paid[c]),
            "Box2": 0.0,
            "Name": names.get(c, ""),
            "ContactId": c,
            "BusinessName": names.get(c, ""),
            "LegalName": names.get(c, ""),
            "FederalTaxIDType": "EIN",
            "TaxID": "",
            "Email": "",
            "City": "",
            "State": "",
            "Zip": "",
        }
        for c in sorted(paid)
    ]
    period = f"1 Jan {year} to 31 Dec {year}"
    return {
        "ReportName": "1099-NEC report",
        "ReportDate": period,
        "Fields": [],
        "Contacts": contacts,
    }


# Published tax returns by country: (ReportType, ReportName, months per return).
# The spec's getReportsList ("the organisation's unique reports that require a uuid
# to fetch") and getReportFromId; the scopes page names BASReport and GSTReport.
# Quarterly returns and their Fields: our assumption.
TAX_RETURNS = {"AU": ("BASReport", "Activity Statement"), "NZ": ("GSTReport", "GST Return")}


def _returns(ctx: ReportContext) -> list[tuple[str, int, int]]:
    """(ReportID, from, to) of every quarter ended since the organisation started."""
    country = str(ctx.organisation.get("CountryCode", ""))
    if country not in TAX_RETURNS:
        return []
    out = []
    start = to_date(ctx.created_ms()).replace(day=1)
    start = start.replace(month=(start.month - 1) // 3 * 3 + 1)
    while to_ms(add_months(start, 3)) <= ctx.today:
        first, last = to_ms(start), to_ms(add_months(start, 3)) - DAY_MS
        rid = stable_uuid(ctx.store.context.tenant_id, "tax-return", first)
        out.append((rid, first, last))
        start = add_months(start, 3)
    return out


def published(ctx: ReportContext) -> list[Json]:
    kind, name = TAX_RETURNS.get(str(ctx.organisation.get("CountryCode", "")), ("", ""))
    return [
        {
            "ReportID": rid,
            "ReportName": name,
            "ReportType": kind,
            "ReportTitle": f"{name} {long_day(first)} to {long_day(last)}",
            "ReportDate": f"{long_day(first)} to {long_day(last)}",
            "UpdatedDateUTC": f"/Date({ctx.now_ms})/",
            "Fields": [],
        }
        for rid, first, last in _returns(ctx)
    ]


def published_report(ctx: ReportContext, report_id: str) -> Json | None:
    """One tax return: its figures as Fields (FieldID, Description, Value)."""
    for rid, first, last in _returns(ctx):
        if rid != report_id.lower():
            continue
        accounts = ctx.accounts()
        collected = paid = sales = ZERO
        for date, line in ctx.books.lines():
            if not first <= date <= last:
                continue
            if line.code == TAX:
                collected += -line.net if line.net < 0 else ZERO
                paid += line.net if line.net > 0 else ZERO
            elif line.code in accounts and accounts[line.code].type in INCOME:
                sales -= line.net
        fields = [
            ("G1", "Total sales (including GST)", sales + collected),
            ("1A", "GST on sales", collected),
            ("1B", "GST on purchases", paid),
        ]
        kind, name = TAX_RETURNS[str(ctx.organisation["CountryCode"])]
        out = report(
            kind,
            name,
            [name, ctx.org_name, f"{long_day(first)} to {long_day(last)}"],
            ctx.now_ms,
            [],
            report_id=rid,
        )
        out["Fields"] = [{"FieldID": f, "Description": d, "Value": amount(v)} for f, d, v in fields]
        return out
    return None

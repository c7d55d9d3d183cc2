"""Test helpers for the sandbox's books: read report rows, and compute figures from the
raw records independently of the sandbox's ledger code (so a wrong figure fails)."""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from oauth_etl_tests.sandbox.conftest import READ_ALL, Xero

REPORTS_SCOPE = READ_ALL + " accounting.reports.read"
ZERO = Decimal(0)
POSTING = ("AUTHORISED", "PAID")


def dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def day_of(net: str) -> date:
    ms = int(net[6:].split("+")[0].split(")")[0])
    return datetime.fromtimestamp(ms / 1000, UTC).date()


def month_end(d: date) -> date:
    return d.replace(day=calendar.monthrange(d.year, d.month)[1])


def month_ends(today: date, count: int) -> list[date]:
    """The last `count` month-ends before `today`, oldest first."""
    out = []
    d = today.replace(day=1)
    for _ in range(count):
        prev = date.fromordinal(d.toordinal() - 1)
        out.append(prev)
        d = prev.replace(day=1)
    return sorted(out)


@dataclass
class Session:
    xero: Xero
    token: str
    tenants: list[str]

    def report(self, name: str, tenant: str, **params: Any) -> dict[str, Any]:
        response = self.xero.api(f"Reports/{name}", self.token, tenant, params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["Status"] == "OK"
        return dict(body["Reports"][0])

    def today(self) -> date:
        now = self.xero.http.get("/_sandbox/clock").json()["now_ms"]
        return datetime.fromtimestamp(now / 1000, UTC).date()


def open_session(xero: Xero, scope: str = REPORTS_SCOPE) -> Session:
    token = xero.login(scope)["access_token"]
    return Session(xero, token, xero.tenants(token))


def walk(rows: list[dict[str, Any]], title: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """(section title, row) of every Row and SummaryRow."""
    for r in rows:
        if r["RowType"] == "Section":
            yield from walk(r.get("Rows", []), r.get("Title", ""))
        elif r["RowType"] in ("Row", "SummaryRow"):
            yield title, r


def figures(report: dict[str, Any]) -> dict[str, list[Decimal]]:
    """First cell -> the other cells as decimals ("" as 0), for every row."""
    out: dict[str, list[Decimal]] = {}
    for _, r in walk(report["Rows"]):
        cells = [c["Value"] for c in r["Cells"]]
        values = []
        for v in cells[1:]:
            try:
                values.append(Decimal(v) if v else ZERO)
            except ArithmeticError:
                values.append(ZERO)
        out[cells[0]] = values
    return out


def first(report: dict[str, Any], name: str) -> Decimal:
    return figures(report).get(name, [ZERO])[0]


# -- figures from the raw records (the posting rules restated, not imported) -----------
def _in(d: date, to: date, since: date | None) -> bool:
    return d <= to and (since is None or d >= since)


def receivable(xero: Xero, tenant: str, to: date) -> Decimal:
    """What customers owe at `to`: approved sales invoices, less credit notes, less
    payments of approved invoices, less receive over/prepayments."""
    invoices = {i["InvoiceID"]: i for i in xero.records(tenant, "Invoices")}
    total = ZERO
    for i in invoices.values():
        if i["Type"] == "ACCREC" and i["Status"] in POSTING and day_of(i["Date"]) <= to:
            total += dec(i["Total"])
    for c in xero.records(tenant, "CreditNotes"):  # PAID ones were refunded
        if c["Type"] == "ACCRECCREDIT" and c["Status"] == "AUTHORISED" and day_of(c["Date"]) <= to:
            total -= dec(c["Total"])
    for p in xero.records(tenant, "Payments"):
        invoice = invoices.get(p["Invoice"]["InvoiceID"])
        if (
            p["Status"] == "AUTHORISED"
            and invoice is not None
            and invoice["Type"] == "ACCREC"
            and invoice["Status"] in POSTING
            and day_of(p["Date"]) <= to
        ):
            total -= dec(p["Amount"])
    for name in ("Overpayments", "Prepayments"):
        for o in xero.records(tenant, name):
            receive = o["Type"].startswith("RECEIVE") and o["Status"] == "AUTHORISED"
            if receive and day_of(o["Date"]) <= to:
                total -= dec(o["Total"])
    return total


def sales(xero: Xero, tenant: str, to: date, since: date | None = None) -> Decimal:
    """Income (accounts 200 and 260) on the accrual basis, net of tax."""
    codes = ("200", "260")
    total = ZERO
    for i in xero.records(tenant, "Invoices"):
        if i["Type"] == "ACCREC" and i["Status"] in POSTING and _in(day_of(i["Date"]), to, since):
            total += sum(
                (dec(li["LineAmount"]) for li in i["LineItems"] if li["AccountCode"] in codes), ZERO
            )
    for c in xero.records(tenant, "CreditNotes"):
        if (
            c["Type"] == "ACCRECCREDIT"
            and c["Status"] in POSTING
            and _in(day_of(c["Date"]), to, since)
        ):
            total -= sum(
                (dec(li["LineAmount"]) for li in c["LineItems"] if li["AccountCode"] in codes),
                ZERO,
            )
    for b in xero.records(tenant, "BankTransactions"):
        if (
            b["Type"] == "RECEIVE"
            and b["Status"] == "AUTHORISED"
            and _in(day_of(b["Date"]), to, since)
        ):
            total += sum(
                (
                    dec(li["LineAmount"]) - dec(li["TaxAmount"])
                    for li in b["LineItems"]
                    if li["AccountCode"] in codes
                ),
                ZERO,
            )
    return total


def journals(s: Session, tenant: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        batch = s.xero.api("Journals", s.token, tenant, {"offset": offset}).json()["Journals"]
        if not batch:
            return out
        out.extend(batch)
        offset = batch[-1]["JournalNumber"]


def by_source(js: list[dict[str, Any]]) -> dict[str, dict[str, Decimal]]:
    """SourceID -> account code -> net of every journal of that document."""
    out: defaultdict[str, defaultdict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for j in js:
        for line in j["JournalLines"]:
            out[j["SourceID"]][line["AccountCode"]] += dec(line["NetAmount"])
    return {k: {c: v for c, v in d.items() if v} for k, d in out.items()}

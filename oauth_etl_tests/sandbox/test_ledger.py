"""The sandbox keeps books: balanced journals from the documents, reports that agree
with each other and with figures computed here from the raw records (issue #21,
part 5; lock dates and back-dated changes: test_locks.py). Over real HTTP against
in-process sandboxes."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import pytest

from oauth_etl_tests.sandbox.books import (
    POSTING,
    ZERO,
    Session,
    by_source,
    day_of,
    dec,
    figures,
    first,
    journals,
    month_end,
    month_ends,
    open_session,
    receivable,
    sales,
)
from oauth_etl_tests.sandbox.conftest import XeroFactory

PL_CLASSES = ("REVENUE", "EXPENSE")


@pytest.fixture
def books(xero_factory: XeroFactory) -> Session:
    return open_session(xero_factory(records=60, tenants=2))


def test_every_journal_balances_and_posts_its_invoice(books: Session) -> None:
    for tenant in books.tenants:
        js = journals(books, tenant)
        assert [j["JournalNumber"] for j in js] == list(range(1, len(js) + 1))
        for j in js:
            assert sum((dec(li["NetAmount"]) for li in j["JournalLines"]), ZERO) == 0, j
            for li in j["JournalLines"]:
                assert dec(li["GrossAmount"]) == dec(li["NetAmount"]) + dec(li["TaxAmount"])
                assert li["AccountID"] and li["AccountType"] and li["AccountName"]
        assert {j["SourceType"] for j in js} >= {
            "ACCREC",
            "ACCPAY",
            "ACCRECPAYMENT",
            "CASHREC",
            "CASHPAID",
            "MANJOURNAL",
        }
        posted = by_source(js)
        for invoice in books.xero.records(tenant, "Invoices"):
            net = posted.get(invoice["InvoiceID"], {})
            if invoice["Status"] not in POSTING:
                assert not net, invoice  # drafts, submitted, voided: nothing (or reversed)
                continue
            control, sign = ("610", 1) if invoice["Type"] == "ACCREC" else ("800", -1)
            assert net[control] == sign * dec(invoice["Total"])
            tax = sum((dec(li["TaxAmount"]) for li in invoice["LineItems"]), ZERO)
            assert net.get("820", ZERO) == -sign * tax


def test_trial_balance_and_balance_sheet_balance_at_month_ends(books: Session) -> None:
    for tenant in books.tenants:
        for day in month_ends(books.today(), 5):
            tb = figures(books.report("TrialBalance", tenant, date=day.isoformat()))
            debit, credit, ytd_debit, ytd_credit = tb["Total"]
            assert debit == credit and ytd_debit == ytd_credit and ytd_debit > 0
            rows = [v for k, v in tb.items() if k != "Total"]
            assert sum((r[2] for r in rows), ZERO) == ytd_debit  # the total adds the rows
            bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat()))
            assets, liabilities = bs["Total Assets"][0], bs["Total Liabilities"][0]
            assert assets - liabilities == bs["Net Assets"][0] == bs["Total Equity"][0]
            # Accounts receivable, computed here from the invoices, credit notes, payments.
            assert bs.get("Accounts Receivable", [ZERO])[0] == receivable(books.xero, tenant, day)


def test_net_profit_is_the_movement_of_current_year_earnings(books: Session) -> None:
    tenant = books.tenants[0]  # a US company: the financial year is the calendar year
    ends = [d for d in month_ends(books.today(), 5) if d.year == books.today().year]
    fy_start = date(ends[0].year, 1, 1)
    earnings = {}
    for day in ends:
        bs = books.report("BalanceSheet", tenant, date=day.isoformat())
        earnings[day] = first(bs, "Current Year Earnings")
        pl = books.report(
            "ProfitAndLoss", tenant, fromDate=fy_start.isoformat(), toDate=day.isoformat()
        )
        assert first(pl, "Net Profit") == earnings[day]
        assert first(pl, "Total Income") == sales(books.xero, tenant, day, fy_start)
    for before, after in pairwise(ends):
        month = books.report(
            "ProfitAndLoss",
            tenant,
            fromDate=after.replace(day=1).isoformat(),
            toDate=after.isoformat(),
        )
        assert first(month, "Net Profit") == earnings[after] - earnings[before]


def test_retained_earnings_hold_the_profit_of_earlier_years(books: Session) -> None:
    tenant = books.tenants[1]  # an Australian company: the year ends on 30 June
    org = books.xero.records(tenant, "Organisation")[0]
    assert (org["CountryCode"], org["FinancialYearEndMonth"], org["FinancialYearEndDay"]) == (
        "AU",
        6,
        30,
    )
    day = month_ends(books.today(), 1)[0]
    year_start = date(day.year if day.month > 6 else day.year - 1, 7, 1)
    bs = books.report("BalanceSheet", tenant, date=day.isoformat())
    before = books.report(
        "ProfitAndLoss",
        tenant,
        fromDate="2000-01-01",
        toDate=(year_start - timedelta(days=1)).isoformat(),
    )
    this_year = books.report(
        "ProfitAndLoss", tenant, fromDate=year_start.isoformat(), toDate=day.isoformat()
    )
    assert first(bs, "Retained Earnings") == first(before, "Net Profit") != 0
    assert first(bs, "Current Year Earnings") == first(this_year, "Net Profit")


def test_bank_summary_closing_is_the_balance_sheet_bank(books: Session) -> None:
    for tenant in books.tenants:
        day = month_ends(books.today(), 2)[0]
        summary = figures(
            books.report(
                "BankSummary",
                tenant,
                fromDate=day.replace(day=1).isoformat(),
                toDate=day.isoformat(),
            )
        )
        bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat()))
        for name in ("Business Bank Account", "Business Savings Account"):
            opening, received, spent, closing = summary[name]
            assert opening + received - spent == closing == bs[name][0]
        assert summary["Total"][3] == bs["Total Bank"][0]


def _aged_total(s: Session, tenant: str, report: str, day: date) -> Decimal:
    total = ZERO
    for contact in s.xero.records(tenant, "Contacts"):
        aged = s.report(report, tenant, contactId=contact["ContactID"], date=day.isoformat())
        total += figures(aged)["Closing Balance"][-1]  # the Due column
    return total


def test_aged_totals_equal_the_balance_sheet(books: Session) -> None:
    tenant = books.tenants[0]
    day = month_ends(books.today(), 2)[0]
    bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat()))
    receivables = _aged_total(books, tenant, "AgedReceivablesByContact", day)
    assert receivables == bs["Accounts Receivable"][0] != 0
    payables = _aged_total(books, tenant, "AgedPayablesByContact", day)
    assert payables == bs["Accounts Payable"][0] != 0


def test_cash_basis_leaves_unpaid_invoices_out(books: Session) -> None:
    tenant = books.tenants[0]
    day = month_ends(books.today(), 1)[0]
    unpaid = [
        i
        for i in books.xero.records(tenant, "Invoices")
        if i["Status"] == "AUTHORISED" and i["AmountDue"] > 0
    ]
    assert unpaid
    span = {"fromDate": "2000-01-01", "toDate": day.isoformat()}
    accrual = books.report("ProfitAndLoss", tenant, **span)
    cash = books.report("ProfitAndLoss", tenant, paymentsOnly="true", **span)
    assert first(cash, "Total Income") != first(accrual, "Total Income")
    cash_bs = figures(
        books.report("BalanceSheet", tenant, date=day.isoformat(), paymentsOnly="true")
    )
    assert "Accounts Receivable" not in cash_bs and "Accounts Payable" not in cash_bs
    assert (
        cash_bs["Total Assets"][0] - cash_bs["Total Liabilities"][0] == cash_bs["Total Equity"][0]
    )
    tb = figures(books.report("TrialBalance", tenant, date=day.isoformat(), paymentsOnly="true"))
    assert tb["Total"][2] == tb["Total"][3]


def test_a_void_posts_a_reversal_on_the_original_date(books: Session) -> None:
    tenant = books.tenants[0]
    before = journals(books, tenant)
    invoices = books.xero.records(tenant, "Invoices")
    pos = next(
        n for n, i in enumerate(invoices) if i["Status"] == "AUTHORISED" and i["AmountPaid"] == 0
    )
    target = invoices[pos]
    books.xero.admin(
        "change", {"tenant_id": tenant, "endpoint": "Invoices", "kind": "archive", "position": pos}
    )
    after = journals(books, tenant)
    assert after[: len(before)] == before  # journals are immutable
    new = after[len(before) :]
    assert [j["SourceID"] for j in new] == [target["InvoiceID"]]
    original = next(j for j in before if j["SourceID"] == target["InvoiceID"])
    assert new[0]["JournalDate"] == original["JournalDate"]
    assert new[0]["CreatedDateUTC"] > before[-1]["CreatedDateUTC"]
    assert not by_source(after).get(target["InvoiceID"])  # the void nets to nothing


def test_ledger_admin_balances_add_to_zero_and_match_the_trial_balance(books: Session) -> None:
    tenant = books.tenants[0]
    day = month_ends(books.today(), 1)[0]
    ledger = books.xero.http.get(
        "/_sandbox/ledger", params={"tenant_id": tenant, "date": day.isoformat()}
    ).json()
    balances = {a["Code"]: Decimal(a["Balance"]) for a in ledger["accounts"]}
    assert sum(balances.values(), ZERO) == 0 and ledger["journals"] > 0
    bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat()))
    assert balances["610"] == bs["Accounts Receivable"][0]
    assert balances["090"] == bs["Business Bank Account"][0]
    assert month_end(day) == day


def test_a_deleted_payment_reopens_its_invoice(books: Session) -> None:
    tenant = books.tenants[0]
    payments = books.xero.records(tenant, "Payments")
    invoices = {i["InvoiceID"]: i for i in books.xero.records(tenant, "Invoices")}
    pos, payment = next(
        (n, p)
        for n, p in enumerate(payments)
        if p["Status"] == "AUTHORISED"
        and invoices[p["Invoice"]["InvoiceID"]]["Status"] == "PAID"
        and invoices[p["Invoice"]["InvoiceID"]]["Type"] == "ACCREC"
    )
    day = books.today()
    before = receivable(books.xero, tenant, day)
    books.xero.admin(
        "change", {"tenant_id": tenant, "endpoint": "Payments", "kind": "delete", "position": pos}
    )
    invoice = next(
        i
        for i in books.xero.records(tenant, "Invoices")
        if i["InvoiceID"] == payment["Invoice"]["InvoiceID"]
    )
    assert invoice["Status"] == "AUTHORISED" and dec(invoice["AmountDue"]) == dec(payment["Amount"])
    assert receivable(books.xero, tenant, day) == before + dec(payment["Amount"])
    bs = books.report("BalanceSheet", tenant, date=day.isoformat())
    assert first(bs, "Accounts Receivable") == before + dec(payment["Amount"])


def test_journal_lines_rebuild_the_trial_balance(books: Session) -> None:
    """What a client with Journals can check: the lines summed per account to a date
    give the balance sheet's figures and the trial balance's year-to-date columns."""
    tenant = books.tenants[1]  # the Australian year: P&L accounts restart on 1 July
    day = month_ends(books.today(), 1)[0]
    year_start = date(day.year if day.month > 6 else day.year - 1, 7, 1)
    names = {a["Code"]: a for a in books.xero.records(tenant, "Accounts")}
    total: defaultdict[str, Decimal] = defaultdict(Decimal)
    this_year: defaultdict[str, Decimal] = defaultdict(Decimal)
    for j in journals(books, tenant):
        when = day_of(j["JournalDate"])
        for li in j["JournalLines"]:
            if when <= day:
                total[li["AccountCode"]] += dec(li["NetAmount"])
                if when >= year_start:
                    this_year[li["AccountCode"]] += dec(li["NetAmount"])
    tb = figures(books.report("TrialBalance", tenant, date=day.isoformat()))
    for code, account in names.items():
        pl = account["Class"] in PL_CLASSES
        net = this_year[code] if pl else total[code]
        if account.get("SystemAccount") == "RETAINEDEARNINGS":  # earlier years' profit
            net += sum(
                (v - this_year[c] for c, v in total.items() if names[c]["Class"] in PL_CLASSES),
                ZERO,
            )
        row = tb.get(f"{account['Name']} ({code})")
        if not net:
            assert row is None or (row[2] == 0 and row[3] == 0), code
            continue
        assert row is not None, code
        assert (row[2] - row[3]) == net, (code, row, net)


def test_cash_journals_carry_the_cash_basis(books: Session) -> None:
    tenant = books.tenants[0]
    cash: list[dict[str, Any]] = []
    offset = 0
    while True:
        batch = books.xero.api(
            "Journals", books.token, tenant, {"offset": offset, "paymentsOnly": "true"}
        ).json()["Journals"]
        if not batch:
            break
        cash.extend(batch)
        offset = batch[-1]["JournalNumber"]
    assert [j["JournalNumber"] for j in cash] == list(range(1, len(cash) + 1))
    assert "ACCREC" not in {j["SourceType"] for j in cash}  # invoices post on payment
    codes = {li["AccountCode"] for j in cash for li in j["JournalLines"]}
    assert not codes & {"610", "800"}  # no receivables or payables on the cash basis
    for j in cash:
        assert sum((dec(li["NetAmount"]) for li in j["JournalLines"]), ZERO) == 0
    day = books.today()
    bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat(), paymentsOnly="true"))
    bank = sum(
        (
            dec(li["NetAmount"])
            for j in cash
            for li in j["JournalLines"]
            if li["AccountCode"] == "090" and day_of(j["JournalDate"]) <= day
        ),
        ZERO,
    )
    assert bank == bs["Business Bank Account"][0]

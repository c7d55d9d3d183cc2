"""The sandbox keeps books: balanced journals from the documents, reports that agree
with each other and with figures computed here from the raw records, lock dates and
back-dated changes (issue #21, part 5). Over real HTTP against in-process sandboxes."""

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
    day_of,
    dec,
    figures,
    first,
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


def test_a_back_dated_insert_changes_a_closed_month_until_it_is_locked(books: Session) -> None:
    tenant = books.tenants[0]
    closed = month_ends(books.today(), 3)[0]  # a month two months back: closed, not locked
    span = {"fromDate": closed.replace(day=1).isoformat(), "toDate": closed.isoformat()}
    income = first(books.report("ProfitAndLoss", tenant, **span), "Total Income")
    mid = closed.replace(day=15).isoformat()
    made = books.xero.admin(
        "change", {"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": mid}
    )
    invoice = next(
        i for i in books.xero.records(tenant, "Invoices") if i["InvoiceID"] == made["id"]
    )
    assert invoice["Status"] == "AUTHORISED" and day_of(invoice["Date"]).isoformat() == mid
    later = first(books.report("ProfitAndLoss", tenant, **span), "Total Income")
    expected = dec(invoice["SubTotal"]) if invoice["Type"] == "ACCREC" else ZERO
    assert later - income == expected
    assert later == sales(books.xero, tenant, closed, closed.replace(day=1))  # from the records
    journal = journals(books, tenant)[-1]
    assert journal["SourceID"] == made["id"] and day_of(journal["JournalDate"]).isoformat() == mid
    # Lock the month: a change dated in it is refused as Xero refuses it, a later one is not.
    lock = books.xero.admin("lock", {"tenant_id": tenant, "period_lock_date": closed.isoformat()})
    assert lock["period_lock_date"] == closed.isoformat()
    org = books.xero.records(tenant, "Organisation")[0]
    assert day_of(org["PeriodLockDate"]) == closed
    refused = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": mid},
    )
    assert refused.status_code == 400 and refused.json()["Type"] == "ValidationException"
    on_lock = books.xero.http.post(
        "/_sandbox/change",
        json={
            "tenant_id": tenant,
            "endpoint": "ManualJournals",
            "kind": "insert",
            "date": closed.isoformat(),
        },
    )
    assert on_lock.status_code == 400  # on the lock date itself: refused too
    edit = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "archive", "id": made["id"]},
    )
    assert edit.status_code == 400  # a document in the locked period cannot change
    assert first(books.report("ProfitAndLoss", tenant, **span), "Total Income") == later
    after_lock = (closed + timedelta(days=1)).isoformat()
    books.xero.admin(
        "mutate",
        {"tenant_id": tenant, "endpoint": "BankTransactions", "add": 1, "date": after_lock},
    )
    eoy = books.xero.admin(
        "lock", {"tenant_id": tenant, "end_of_year_lock_date": after_lock, "period_lock_date": None}
    )
    assert eoy == {
        "tenant_id": tenant,
        "period_lock_date": None,
        "end_of_year_lock_date": after_lock,
    }
    refused = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": after_lock},
    )
    assert refused.status_code == 400


def test_back_dating_a_document_moves_its_journal(books: Session) -> None:
    tenant = books.tenants[0]
    txns = books.xero.records(tenant, "BankTransactions")
    pos = next(n for n, t in enumerate(txns) if t["Status"] == "AUTHORISED")
    target = month_ends(books.today(), 4)[0].replace(day=10)
    before = len(journals(books, tenant))
    books.xero.admin(
        "change",
        {
            "tenant_id": tenant,
            "endpoint": "BankTransactions",
            "kind": "backdate",
            "position": pos,
            "date": target.isoformat(),
        },
    )
    new = journals(books, tenant)[before:]
    assert len(new) == 2  # the reversal of the old posting, then the new one
    assert day_of(new[1]["JournalDate"]) == target
    old_lines = {li["AccountCode"]: dec(li["NetAmount"]) for li in new[0]["JournalLines"]}
    new_lines = {li["AccountCode"]: dec(li["NetAmount"]) for li in new[1]["JournalLines"]}
    assert {k: -v for k, v in old_lines.items()} == new_lines


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


def test_lock_date_flags_reach_every_organisation(
    xero_factory: XeroFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauth_etl_tests.sandbox.test_limits import _config_of

    config = _config_of(
        monkeypatch, "--period-lock-date", "2026-03-31", "--end-of-year-lock-date", "2025-12-31"
    )
    assert (config.period_lock_date, config.end_of_year_lock_date) == ("2026-03-31", "2025-12-31")
    xero = xero_factory(records=5, tenants=2, period_lock_date="2026-03-31")
    for tenant in open_session(xero).tenants:
        org = xero.records(tenant, "Organisation")[0]
        assert day_of(org["PeriodLockDate"]) == date(2026, 3, 31)
        assert "EndOfYearLockDate" not in org
        refused = xero.http.post(
            "/_sandbox/mutate",
            json={"tenant_id": tenant, "endpoint": "Invoices", "add": 1, "date": "2026-03-31"},
        )
        assert refused.status_code == 400 and refused.json()["Type"] == "ValidationException"
    with pytest.raises(ValueError):
        xero_factory(period_lock_date="31/03/2026")


def test_the_edit_mode_leaves_locked_documents_alone(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=30, tenants=1, period_lock_date="2100-01-01")
    s = open_session(xero)
    xero.admin("edits", {"per_call": 5, "kinds": ["edit", "archive"], "endpoints": ["Invoices"]})
    before = xero.records(s.tenants[0], "Invoices")
    response = xero.api("Invoices", s.token, s.tenants[0], {"page": 1})
    assert response.status_code == 200
    assert xero.records(s.tenants[0], "Invoices") == before  # every invoice is locked


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

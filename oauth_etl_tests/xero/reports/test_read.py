"""Reading reports over real HTTP from the sandbox's books: the raw answer, its cells, the
calls spent, and each of Xero's refusals as a typed error naming report, tenant and fix."""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pytest

from oauth_etl.xero.reports.errors import (
    BeforeOrganisation,
    ReportNotAvailable,
    ReportRejected,
    ReportScopeMissing,
    UnknownTrackingCategory,
)
from oauth_etl.xero.reports.model import Basis, Period, ReportCell, ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.read import read_report
from oauth_etl_tests.sandbox.books import receivable, sales, walk
from oauth_etl_tests.xero.reports.conftest import Books


def month(year: int, m: int) -> Period:
    return Period(dt.date(year, m, 1), dt.date(year, m, calendar.monthrange(year, m)[1]))


def last_months(today: dt.date, count: int) -> tuple[Period, ...]:
    """The `count` months before this one, newest first (Xero's column order)."""
    out, y, m = [], today.year, today.month
    for _ in range(count):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append(month(y, m))
    return tuple(out)


def pl_request(periods: tuple[Period, ...], **extra: str) -> ReportRequest:
    params = {
        "fromDate": periods[0].start.isoformat(),
        "toDate": periods[0].end.isoformat(),
        "periods": str(len(periods) - 1),
        "timeframe": "MONTH",
        **extra,
    }
    basis = Basis.CASH if extra.get("paymentsOnly") == "true" else Basis.ACCRUAL
    return ReportRequest(
        "profit_and_loss", tuple(sorted(params.items())), periods, basis,
        extra.get("trackingCategoryID"),
    )  # fmt: skip


def calls(books: Books, tenant: str) -> int:
    per_tenant = books.xero.stats()["api_calls"].get(tenant, {})
    return sum(v for k, v in per_tenant.items() if k.startswith("Reports"))


def raw_values(body: bytes) -> list[tuple[str, str]]:
    """(label, value) of every value cell of the raw answer, in order."""
    (rep,) = orjson.loads(body)["Reports"]
    return [
        (r["Cells"][0]["Value"], c["Value"]) for _, r in walk(rep["Rows"]) for c in r["Cells"][1:]
    ]


def by(found: tuple[ReportCell, ...], label: str, column: str) -> ReportCell:
    (hit,) = [c for c in found if c.label == label and c.column == column]
    return hit


TODAY = dt.datetime.now(dt.UTC).date()


def test_a_twelve_month_pl_is_one_call_with_a_cell_per_month(books: Books) -> None:
    tenant = books.tenants[0]
    org = books.org(tenant)
    periods = last_months(TODAY, 6)
    before = calls(books, tenant)
    reading = read_report(books.client, org, pl_request(periods))
    assert calls(books, tenant) - before == reading.calls == 1
    assert orjson.loads(reading.body) == reading.document
    # every value cell of the raw answer is one cell, same text, same order
    assert [(c.label, c.text if c.value is None else f"{c.value}") for c in reading.cells] == [
        (label, value) for label, value in raw_values(reading.body)
    ]
    net = [c for c in reading.cells if c.label == "Net Profit"]
    assert [(c.period_start, c.period_end) for c in net] == [(p.start, p.end) for p in periods]
    # each month's column equals a one-month report of that month
    single = read_report(books.client, org, pl_request(periods[2:3]))
    (alone,) = [c for c in single.cells if c.label == "Net Profit"]
    assert net[2].value == alone.value is not None
    sales = [c for c in reading.cells if c.label == "Sales"]
    codes = {a["AccountID"].lower(): a["Code"] for a in books.records(tenant, "Accounts")}
    assert sales and {c.account_code for c in sales} == {codes[sales[0].account_id or ""]}
    assert {c.currency for c in reading.cells} == {org.base_currency} != {None}


def test_cash_basis_differs_from_accrual(books: Books) -> None:
    tenant = books.tenants[0]
    periods = last_months(TODAY, 3)
    accrual = read_report(books.client, books.org(tenant), pl_request(periods))
    cash = read_report(books.client, books.org(tenant), pl_request(periods, paymentsOnly="true"))
    assert {c.basis for c in cash.cells} == {Basis.CASH}
    figures = [
        [(c.label, c.period_end, c.value) for c in r.cells if c.label == "Net Profit"]
        for r in (accrual, cash)
    ]
    assert figures[0] != figures[1]


def test_a_tracking_split_gives_one_cell_per_option(books: Books) -> None:
    tenant = books.tenants[0]
    category = books.records(tenant, "TrackingCategories")[0]
    periods = last_months(TODAY, 1)
    reading = read_report(
        books.client, books.org(tenant),
        pl_request(periods, trackingCategoryID=category["TrackingCategoryID"]),
    )  # fmt: skip
    net = [c for c in reading.cells if c.label == "Net Profit"]
    options = [o["Name"] for o in category["Options"]]
    assert [c.tracking_option for c in net] == [*options, "Unassigned", "Total"]
    assert {c.tracking_category_id for c in net} == {category["TrackingCategoryID"]}
    assert sum(c.value or 0 for c in net[:-1]) == net[-1].value


def test_month_end_balance_sheets_in_one_call(books: Books) -> None:
    tenant = books.tenants[0]
    ends = tuple(Period(p.end, p.end) for p in last_months(TODAY, 3))
    request = ReportRequest(
        "balance_sheet",
        (("date", ends[0].end.isoformat()), ("periods", "2"), ("timeframe", "MONTH")),
        ends,
    )
    reading = read_report(books.client, books.org(tenant), request)
    assets = [c for c in reading.cells if c.label == "Total Assets"]
    assert [c.period_end for c in assets] == [p.end for p in ends]
    equity = [c for c in reading.cells if c.label == "Total Equity"]
    net_assets = [c for c in reading.cells if c.label == "Net Assets"]
    assert [c.value for c in equity] == [c.value for c in net_assets]


def test_trial_balance_bank_budget_executive_aged(books: Books) -> None:
    tenant = books.tenants[0]
    org = books.org(tenant)
    end = last_months(TODAY, 1)[0]
    one = {
        "trial_balance": ((("date", end.end.isoformat()),), (Period(end.end, end.end),)),
        "bank_summary": (
            (("fromDate", end.start.isoformat()), ("toDate", end.end.isoformat())),
            (end,),
        ),
        "budget_summary": ((("date", end.start.isoformat()), ("periods", "1")), (end,)),
        "executive_summary": ((("date", end.end.isoformat()),), (end,)),
    }
    got: dict[str, tuple[ReportCell, ...]] = {}
    for name, (params, periods) in one.items():
        got[name] = read_report(books.client, org, ReportRequest(name, params, periods)).cells
        assert got[name] and {c.report for c in got[name]} == {name}
    tb = got["trial_balance"]
    debit = sum(c.value or 0 for c in tb if c.column == "YTD Debit" and c.row_type == "Row")
    credit = sum(c.value or 0 for c in tb if c.column == "YTD Credit" and c.row_type == "Row")
    assert debit == credit > 0
    assert {c.period_end for c in tb} == {end.end}
    closing = by(got["bank_summary"], "Total", "Closing Balance")
    assert closing.value is not None and closing.period_start == end.start
    assert by(got["executive_summary"], "Debtors", "Variance").text
    contact = books.records(tenant, "Contacts")[0]["ContactID"]
    aged = ReportRequest(
        "aged_receivables_by_contact",
        (("contactId", contact), ("date", end.end.isoformat())),
        (Period(end.end, end.end),),
    )
    cells = read_report(books.client, org, aged).cells
    assert any(c.label == "Closing Balance" for c in cells)


def test_ten_ninety_nine_and_published_reports(books: Books) -> None:
    us, nz = books.by_country("US"), books.by_country("NZ")
    year = TODAY.year
    request = ReportRequest(
        "ten_ninety_nine",
        (("reportYear", str(year)),),
        (Period(dt.date(year, 1, 1), dt.date(year, 12, 31)),),
    )
    reading = read_report(books.client, books.org(us), request)
    contacts = [c for r in reading.document["Reports"] for c in r["Contacts"]]
    assert contacts and len({c.label for c in reading.cells}) == len(contacts)
    paid = sum(Decimal(str(c["Box1"])) for c in contacts)
    assert sum(c.value or 0 for c in reading.cells if c.column == "Box1") == paid > 0
    listed = read_report(books.client, books.org(nz), ReportRequest("published_reports", (), ()))
    assert listed.cells == ()
    ids = [r["ReportID"] for r in listed.document["Reports"]]
    assert ids
    one = read_report(
        books.client, books.org(nz), ReportRequest("published_report", (("ReportID", ids[0]),), ())
    )
    assert {c.column for c in one.cells} == {"G1", "1A", "1B"}
    assert {c.report_id for c in one.cells} == {ids[0]}


def test_1099_outside_the_us_is_refused_without_a_call(books: Books) -> None:
    au = books.by_country("AU")
    request = ReportRequest("ten_ninety_nine", (("reportYear", "2026"),), (month(2026, 1),))
    before = calls(books, au)
    with pytest.raises(ReportNotAvailable) as refused:
        read_report(books.client, books.org(au), request)
    assert calls(books, au) == before
    assert "ten_ninety_nine" in str(refused.value) and au in str(refused.value)
    # When the country is not known, Xero's 400 says the same
    unknown = Organisation(au)
    with pytest.raises(ReportNotAvailable) as answered:
        read_report(books.client, unknown, request)
    assert calls(books, au) == before + 1
    assert answered.value.status == 400 and "United States" in str(answered.value)
    assert "Leave ten_ninety_nine out" in str(answered.value)


def test_an_unknown_tracking_category(books: Books) -> None:
    tenant = books.tenants[0]
    request = pl_request(
        last_months(TODAY, 1), trackingCategoryID="00000000-0000-0000-0000-000000000001"
    )
    with pytest.raises(UnknownTrackingCategory) as refused:
        read_report(books.client, books.org(tenant), request)
    text = str(refused.value)
    assert "profit_and_loss" in text and tenant in text and "TrackingCategories" in text


def test_a_date_before_the_organisation_existed(books: Books) -> None:
    tenant = books.tenants[0]
    org = books.org(tenant)
    assert org.created is not None
    old = last_months(org.created, 2)
    before = calls(books, tenant)
    with pytest.raises(BeforeOrganisation) as refused:
        read_report(books.client, org, pl_request(old))
    assert calls(books, tenant) == before
    assert org.created.isoformat() in str(refused.value) and tenant in str(refused.value)


def test_other_bad_parameters_are_rejected_with_xeros_message(books: Books) -> None:
    tenant = books.tenants[0]
    request = ReportRequest("balance_sheet", (("periods", "40"),), last_months(TODAY, 1))
    with pytest.raises(ReportRejected) as refused:
        read_report(books.client, books.org(tenant), request)
    assert "periods must be between" in str(refused.value)


def test_an_unknown_published_report(books: Books) -> None:
    nz = books.by_country("NZ")
    request = ReportRequest(
        "published_report", (("ReportID", "00000000-0000-0000-0000-000000000009"),), ()
    )
    with pytest.raises(ReportNotAvailable) as refused:
        read_report(books.client, books.org(nz), request)
    assert refused.value.status == 404 and "published_reports" in str(refused.value)


def test_a_missing_scope_names_it(books: Books) -> None:
    granted = "offline_access accounting.settings.read accounting.reports.profitandloss.read"
    client = books.client_with(granted)
    tenant = books.tenants[0]
    org = books.org(tenant)
    assert read_report(client, org, pl_request(last_months(TODAY, 1))).cells
    request = ReportRequest("trial_balance", (), last_months(TODAY, 1))
    with pytest.raises(ReportScopeMissing) as refused:
        read_report(client, org, request)
    text = str(refused.value)
    assert "accounting.reports.trialbalance.read" in text and tenant in text
    assert "oauth-etl authorize" in text and refused.value.status == 401


def _body_keys(document: dict[str, Any]) -> set[str]:
    return set(document)


def test_the_raw_answer_is_the_whole_envelope(books: Books) -> None:
    reading = read_report(
        books.client, books.org(books.tenants[1]), pl_request(last_months(TODAY, 1))
    )
    assert _body_keys(reading.document) >= {"Id", "Status", "ProviderName", "Reports"}
    assert reading.tenant_id == books.tenants[1] and reading.correlation_id


def test_cells_match_figures_computed_from_the_records(books: Books) -> None:
    """Each month's sales and each month-end's receivables, from the raw invoices, credit
    notes, payments and bank transactions (not the sandbox's ledger): a column mapped to
    the wrong period, or a value misread, fails here."""
    tenant = books.tenants[0]
    org = books.org(tenant)
    periods = last_months(TODAY, 6)
    pl = read_report(books.client, org, pl_request(periods)).cells
    for period in periods:
        income = sum(
            (
                c.value or Decimal(0)
                for c in pl
                if c.account_code in ("200", "260") and c.period_end == period.end
            ),
            Decimal(0),
        )
        assert income == sales(books.xero, tenant, period.end, period.start), period
    ends = tuple(Period(p.end, p.end) for p in periods[:3])
    bs = read_report(
        books.client,
        org,
        ReportRequest(
            "balance_sheet",
            (("date", ends[0].end.isoformat()), ("periods", "2"), ("timeframe", "MONTH")),
            ends,
        ),
    ).cells
    for end in ends:
        (ar,) = [c for c in bs if c.label == "Accounts Receivable" and c.period_end == end.end]
        assert ar.value == receivable(books.xero, tenant, end.end) != 0

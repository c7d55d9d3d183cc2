"""The sandbox's Reports API: Xero's shapes (validated against the spec), parameters,
scopes, limits and the answers Xero gives to bad input. Over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from oauth_etl_dev.sandbox.grants import NEW_APP_SCOPES
from oauth_etl_tests.sandbox.books import (
    REPORTS_SCOPE,
    ZERO,
    Session,
    figures,
    first,
    month_ends,
    open_session,
)
from oauth_etl_tests.sandbox.conftest import READ_ALL, XeroFactory
from oauth_etl_tests.sandbox.test_schema import _validator, accounting_spec  # noqa: F401

ROW_REPORTS = (
    "ProfitAndLoss",
    "BalanceSheet",
    "TrialBalance",
    "BankSummary",
    "BudgetSummary",
    "ExecutiveSummary",
)


@pytest.fixture
def books(xero_factory: XeroFactory) -> Session:
    return open_session(xero_factory(records=40, tenants=2))


def _contact(s: Session, tenant: str) -> str:
    return str(s.xero.records(tenant, "Contacts")[0]["ContactID"])


def test_reports_match_the_spec(books: Session, accounting_spec: dict[str, Any]) -> None:  # noqa: F811
    with_rows = _validator(accounting_spec, "ReportWithRows")
    for tenant in books.tenants:
        calls: list[tuple[str, dict[str, str]]] = [(name, {}) for name in ROW_REPORTS]
        calls += [
            (name, {"contactId": _contact(books, tenant)})
            for name in ("AgedReceivablesByContact", "AgedPayablesByContact")
        ]
        for name, params in calls:
            response = books.xero.api(f"Reports/{name}", books.token, tenant, params)
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            errors = list(with_rows.iter_errors(body))
            assert not errors, (name, errors[0].message, list(errors[0].absolute_path))
            (report,) = body["Reports"]
            assert report["ReportType"] == report["ReportID"] == name
            assert report["Rows"][0]["RowType"] == "Header"
            assert body["Id"] and body["ProviderName"] and body["DateTimeUTC"].startswith("/Date(")
        listed = books.xero.api("Reports", books.token, tenant).json()
        assert not list(with_rows.iter_errors(listed))
    us = books.xero.api("Reports/TenNinetyNine", books.token, books.tenants[0]).json()
    assert not list(_validator(accounting_spec, "Reports").iter_errors(us))
    assert us["Reports"][0]["Contacts"]


def test_account_cells_name_their_account(books: Session) -> None:
    tenant = books.tenants[0]
    accounts = {a["Name"]: a["AccountID"] for a in books.xero.records(tenant, "Accounts")}
    pl = books.report("ProfitAndLoss", tenant, fromDate="2000-01-01", toDate="2100-01-01")
    (income,) = [r for r in pl["Rows"] if r.get("Title") == "Income"]
    sales = income["Rows"][0]["Cells"]
    assert sales[0]["Value"] in accounts
    for c in sales:
        assert c["Attributes"] == [{"Value": accounts[sales[0]["Value"]], "Id": "account"}]


def test_periods_come_newest_first_and_each_is_its_own_report(books: Session) -> None:
    tenant = books.tenants[0]
    ends = month_ends(books.today(), 4)
    last = ends[-1]
    multi = books.report(
        "ProfitAndLoss",
        tenant,
        fromDate=last.replace(day=1).isoformat(),
        toDate=last.isoformat(),
        periods=3,
        timeframe="MONTH",
    )
    labels = [c["Value"] for c in multi["Rows"][0]["Cells"][1:]]
    assert labels == [f"{d.day} {d.strftime('%b %Y')}" for d in reversed(ends)]
    net = figures(multi)["Net Profit"]
    for n, day in enumerate(reversed(ends)):
        single = books.report(
            "ProfitAndLoss", tenant, fromDate=day.replace(day=1).isoformat(), toDate=day.isoformat()
        )
        assert first(single, "Net Profit") == net[n]
    bs = books.report("BalanceSheet", tenant, date=last.isoformat(), periods=3, timeframe="MONTH")
    assert len(bs["Rows"][0]["Cells"]) == 5


def test_tracking_columns_add_up_to_the_total(books: Session) -> None:
    tenant = books.tenants[0]
    region = books.xero.records(tenant, "TrackingCategories")[0]
    span = {"fromDate": "2000-01-01", "toDate": "2100-01-01"}
    pl = books.report(
        "ProfitAndLoss", tenant, trackingCategoryID=region["TrackingCategoryID"], **span
    )
    labels = [c["Value"] for c in pl["Rows"][0]["Cells"][1:]]
    assert labels == [o["Name"] for o in region["Options"]] + ["Unassigned", "Total"]
    income = figures(pl)["Total Income"]
    assert (
        sum(income[:-1], ZERO)
        == income[-1]
        == first(books.report("ProfitAndLoss", tenant, **span), "Total Income")
    )
    north = region["Options"][0]
    one = books.report(
        "ProfitAndLoss",
        tenant,
        trackingCategoryID=region["TrackingCategoryID"],
        trackingOptionID=north["TrackingOptionID"],
        **span,
    )
    assert [c["Value"] for c in one["Rows"][0]["Cells"][1:]] == ["North"]
    assert first(one, "Total Income") == income[0] != 0


def test_budget_summary_sums_the_overall_budget(books: Session) -> None:
    tenant = books.tenants[0]
    budget = next(b for b in books.xero.records(tenant, "Budgets") if b["Type"] == "OVERALL")
    line = next(b for b in budget["BudgetLines"] if b["AccountCode"] == "200")
    first_period = line["BudgetBalances"][0]["Period"]
    report = books.report(
        "BudgetSummary", tenant, date=f"{first_period}-01", periods=2, timeframe=3
    )
    quarter = sum((Decimal(str(b["Amount"])) for b in line["BudgetBalances"][:3]), ZERO)
    assert figures(report)["Sales"][0] == quarter.quantize(Decimal("0.01"))
    assert len(report["Rows"][0]["Cells"]) == 3


def test_budget_summary_without_a_budget_is_zeros(books: Session) -> None:
    tenant = books.tenants[0]
    budgets = books.xero.records(tenant, "Budgets")
    pos = next(n for n, b in enumerate(budgets) if b["Type"] == "OVERALL")
    books.xero.admin(
        "change", {"tenant_id": tenant, "endpoint": "Budgets", "kind": "delete", "position": pos}
    )
    report = books.report("BudgetSummary", tenant, periods=3)
    values = figures(report)
    # The spec's getReportBudgetSummary example of an empty budget: summary rows of zeros.
    assert set(values) == {"Gross Profit", "Total Expenses", "Net Profit"}
    assert all(v == [ZERO] * 3 for v in values.values())


def test_published_tax_returns_for_australia_only(books: Session) -> None:
    us, au = books.tenants
    assert books.xero.api("Reports", books.token, us).json()["Reports"] == []
    listed = books.xero.api("Reports", books.token, au).json()["Reports"]
    assert listed and {r["ReportType"] for r in listed} == {"BASReport"}
    one = books.xero.api(f"Reports/{listed[0]['ReportID']}", books.token, au).json()
    fields = {f["FieldID"]: f["Value"] for f in one["Reports"][0]["Fields"]}
    assert set(fields) == {"G1", "1A", "1B"}
    missing = books.xero.api("Reports/00000000-0000-0000-0000-000000000001", books.token, au)
    assert missing.status_code == 404


def test_1099_only_for_us_organisations(books: Session) -> None:
    us, au = books.tenants
    assert books.xero.api("Reports/TenNinetyNine", books.token, us).status_code == 200
    refused = books.xero.api("Reports/TenNinetyNine", books.token, au)
    assert refused.status_code == 400 and refused.json()["Type"] == "ValidationException"
    assert "United States" in refused.json()["Message"]


@pytest.mark.parametrize(
    ("report", "params"),
    [
        ("ProfitAndLoss", {"fromDate": "2026-13-01"}),
        ("ProfitAndLoss", {"fromDate": "2026-05-01", "toDate": "2026-04-01"}),
        ("ProfitAndLoss", {"periods": "13"}),
        ("ProfitAndLoss", {"periods": "two"}),
        ("ProfitAndLoss", {"timeframe": "WEEK"}),
        ("ProfitAndLoss", {"trackingCategoryID": "00000000-0000-0000-0000-000000000009"}),
        ("ProfitAndLoss", {"trackingOptionID": "00000000-0000-0000-0000-000000000009"}),
        ("ProfitAndLoss", {"paymentsOnly": "maybe"}),
        ("BalanceSheet", {"periods": "12"}),
        ("BalanceSheet", {"trackingOptionID1": "00000000-0000-0000-0000-000000000009"}),
        ("TrialBalance", {"date": "yesterday"}),
        ("BankSummary", {"fromDate": "2026-05-01", "toDate": "2026-04-01"}),
        ("BudgetSummary", {"timeframe": "2"}),
        ("AgedReceivablesByContact", {}),
        ("AgedPayablesByContact", {"contactId": "not-a-guid"}),
    ],
)
def test_bad_parameters_are_a_validation_exception(
    books: Session, report: str, params: dict[str, str]
) -> None:
    response = books.xero.api(f"Reports/{report}", books.token, books.tenants[0], params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Type"] == "ValidationException" and body["ErrorNumber"] == 10 and body["Message"]


def test_a_date_before_the_organisation_is_a_report_of_zeros(books: Session) -> None:
    tenant = books.tenants[0]
    bs = figures(books.report("BalanceSheet", tenant, date="2001-01-31"))
    assert bs["Total Assets"] == [ZERO] and bs["Total Equity"] == [ZERO]
    pl = figures(books.report("ProfitAndLoss", tenant, fromDate="2001-01-01", toDate="2001-01-31"))
    assert pl["Net Profit"] == [ZERO]


def test_reports_need_their_scope(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=10, tenants=1)
    without = open_session(xero, READ_ALL)
    refused = xero.api("Reports/ProfitAndLoss", without.token, without.tenants[0])
    assert refused.status_code == 401 and refused.json()["Detail"] == "AuthorizationUnsuccessful"
    granular = open_session(xero, READ_ALL + " accounting.reports.profitandloss.read")
    tenant = granular.tenants[0]
    assert xero.api("Reports/ProfitAndLoss", granular.token, tenant).status_code == 200
    assert xero.api("Reports/BalanceSheet", granular.token, tenant).status_code == 401
    assert xero.api("Reports", granular.token, tenant).status_code == 401  # taxreports
    broad = open_session(xero, REPORTS_SCOPE)
    for name in ROW_REPORTS:
        assert xero.api(f"Reports/{name}", broad.token, broad.tenants[0]).status_code == 200


def test_a_new_app_gets_the_granular_report_scopes_only(xero_factory: XeroFactory) -> None:
    granular = {s for s in NEW_APP_SCOPES if s.startswith("accounting.reports.")}
    assert granular == {
        f"accounting.reports.{n}.read"
        for n in (
            "profitandloss",
            "balancesheet",
            "trialbalance",
            "aged",
            "banksummary",
            "budgetsummary",
            "executivesummary",
            "taxreports",
            "tenninetynine",
        )
    }
    xero = xero_factory(records=5, tenants=1, scopes=NEW_APP_SCOPES)
    refused = xero.authorize(
        READ_ALL.replace(" accounting.journals.read", "").replace(
            "accounting.transactions.read", "accounting.invoices.read"
        )
        + " accounting.reports.read"
    )
    assert refused.status_code == 400 and "accounting.reports.read" in refused.text
    session = open_session(xero, "offline_access accounting.reports.aged.read")
    aged = xero.api(
        "Reports/AgedReceivablesByContact",
        session.token,
        session.tenants[0],
        {"contactId": "00000000-0000-0000-0000-000000000001"},
    )
    assert aged.status_code == 200


def test_reports_count_as_calls_and_meet_the_limits(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=10, tenants=1, limits=True, minute_limit=3)
    s = open_session(xero)
    tenant = s.tenants[0]
    codes = [xero.api("Reports/BalanceSheet", s.token, tenant).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    stats = xero.stats()
    assert stats["api_calls"][tenant]["Reports/BalanceSheet"] == 3
    assert stats["rate_limited"]["minute"] == 1


def test_a_skew_corrupts_one_served_figure_for_checks_to_catch(books: Session) -> None:
    tenant = books.tenants[0]
    day = month_ends(books.today(), 1)[0].isoformat()
    right = figures(books.report("BalanceSheet", tenant, date=day))
    pending = books.xero.admin(
        "skew",
        {
            "tenant_id": tenant,
            "report": "BalanceSheet",
            "row": "Accounts Receivable",
            "delta": "1.00",
            "count": 1,
        },
    )
    assert pending["pending"][0]["remaining"] == 1
    wrong = figures(books.report("BalanceSheet", tenant, date=day))
    assert wrong["Accounts Receivable"][0] == right["Accounts Receivable"][0] + 1
    assert wrong["Total Assets"] == right["Total Assets"]  # so assets no longer balance
    assert figures(books.report("BalanceSheet", tenant, date=day)) == right  # count: 1
    sales = figures(books.report("TrialBalance", tenant, date=day))["Sales (200)"][3]
    skew = {"tenant_id": tenant, "report": "TrialBalance", "row": "Sales (200)", "delta": "-5"}
    books.xero.admin("skew", skew)  # no count: every answer
    for _ in range(2):  # a credit cell shifted: the rows no longer add to the total
        tb = figures(books.report("TrialBalance", tenant, date=day))
        assert tb["Sales (200)"][3] == sales - 5
    cleared = books.xero.http.delete("/_sandbox/skew", params={"tenant_id": tenant})
    assert cleared.json()["pending"] == []
    bad = books.xero.http.post("/_sandbox/skew", json={"report": "BalanceSheet"})
    assert bad.status_code == 400


def test_executive_summary_agrees_with_the_statements(books: Session) -> None:
    tenant = books.tenants[0]
    day = month_ends(books.today(), 1)[0]
    summary = figures(books.report("ExecutiveSummary", tenant, date=day.isoformat()))
    bs = figures(books.report("BalanceSheet", tenant, date=day.isoformat()))
    pl = figures(
        books.report(
            "ProfitAndLoss", tenant, fromDate=day.replace(day=1).isoformat(), toDate=day.isoformat()
        )
    )
    assert summary["Closing bank balance"][0] == bs["Total Bank"][0]
    assert summary["Debtors"][0] == bs["Accounts Receivable"][0]
    assert summary["Income"][0] == pl["Total Income"][0]
    assert summary["Profit (loss)"][0] == pl["Net Profit"][0]
    received, spent = summary["Cash received"][0], summary["Cash spent"][0]
    assert summary["Cash surplus (deficit)"][0] == received - spent


def test_quarters_and_years_as_timeframes(books: Session) -> None:
    tenant = books.tenants[0]
    pl = books.report(
        "ProfitAndLoss",
        tenant,
        fromDate="2026-10-01",
        toDate="2026-12-31",
        periods=2,
        timeframe="QUARTER",
    )
    labels = [c["Value"] for c in pl["Rows"][0]["Cells"][1:]]
    assert labels == ["31 Dec 2026", "30 Sep 2026", "30 Jun 2026"]
    bs = books.report("BalanceSheet", tenant, date="2026-11-30", periods=1, timeframe="YEAR")
    assert [c["Value"] for c in bs["Rows"][0]["Cells"][1:]] == ["30 Nov 2026", "30 Nov 2025"]
    assert figures(bs)["Total Assets"][1] == 0  # a year before the books began

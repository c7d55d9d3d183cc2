"""Reading a plan: each request lands, fails with its reason or is skipped for the budget;
a failed report does not stop the others, and the calls spent are counted."""

from __future__ import annotations

import datetime as dt

from oauth_etl.xero.reports.model import Period, ReportRequest
from oauth_etl.xero.reports.outcomes import Status, read_plan
from oauth_etl_tests.xero.reports.conftest import Books, BooksFactory
from oauth_etl_tests.xero.reports.test_read import TODAY, calls, last_months, pl_request


def tb(period: Period) -> ReportRequest:
    return ReportRequest("trial_balance", (("date", period.end.isoformat()),), (period,))


def test_failures_do_not_stop_the_other_reports(books_factory: BooksFactory) -> None:
    books = books_factory()
    granted = (
        "offline_access accounting.settings.read accounting.reports.profitandloss.read "
        "accounting.reports.tenninetynine.read"
    )
    client = books.client_with(granted)
    au = books.by_country("AU")
    months = last_months(TODAY, 3)
    plan = [
        pl_request(months[:1]),
        tb(months[0]),  # no scope: 401
        ReportRequest("ten_ninety_nine", (("reportYear", "2026"),), months[:1]),  # not US
        tb(months[1]),  # the same report: not asked again
        pl_request(months[1:2], trackingCategoryID="00000000-0000-0000-0000-000000000001"),
        pl_request(months[2:3]),
    ]
    before = calls(books, au)
    result = read_plan(client, books.org(au), plan)
    assert [(o.status, o.reason) for o in result.outcomes] == [
        (Status.LANDED, None),
        (Status.FAILED, "scope_missing"),
        (Status.FAILED, "not_available"),
        (Status.FAILED, "scope_missing"),
        (Status.FAILED, "unknown_tracking_category"),
        (Status.LANDED, None),
    ]
    # Four HTTP calls; the sandbox counts the three it answered (not the 401).
    assert result.calls == 4 and calls(books, au) - before == 3
    assert [o.calls for o in result.outcomes] == [1, 1, 0, 0, 1, 1]
    assert "accounting.reports.trialbalance.read" in (result.outcomes[3].message or "")
    assert result.remainder == ()


def test_a_call_budget_returns_the_rest(books: Books) -> None:
    tenant = books.tenants[0]
    months = last_months(TODAY, 4)
    plan = [tb(m) for m in months]
    result = read_plan(books.client, books.org(tenant), plan, calls_left=2)
    assert [o.status for o in result.outcomes] == [Status.LANDED] * 2 + [
        Status.SKIPPED_FOR_BUDGET
    ] * 2
    assert result.calls == 2 and result.remainder == tuple(plan[2:])
    again = read_plan(books.client, books.org(tenant), result.remainder)
    landed = [o.request.key for o in (*result.outcomes, *again.outcomes) if o.reading]
    assert sorted(landed) == sorted(r.key for r in plan)  # none lost, none twice


def test_the_day_limit_ends_the_reading_and_keeps_the_rest(books_factory: BooksFactory) -> None:
    books = books_factory(limits=True, day_limit=3)
    tenant = books.tenants[0]
    plan = [tb(m) for m in last_months(TODAY, 5)]
    result = read_plan(books.client, books.org(tenant), plan)
    statuses = [o.status for o in result.outcomes]
    landed = statuses.count(Status.LANDED)
    assert 1 <= landed <= 3 and statuses == [Status.LANDED] * landed + [
        Status.SKIPPED_FOR_BUDGET
    ] * (5 - landed)
    assert "daily call limit" in (result.outcomes[-1].message or "")
    assert result.remainder == tuple(plan[landed:])


def test_a_disconnected_tenant_stops_its_reading(books: Books) -> None:
    stranger = books.org(books.tenants[0])
    gone = type(stranger)("00000000-0000-0000-0000-00000000dead", created=dt.date(2000, 1, 1))
    plan = [tb(m) for m in last_months(TODAY, 3)]
    result = read_plan(books.client, gone, plan)
    assert [o.status for o in result.outcomes] == [Status.FAILED] * 3
    assert [o.calls for o in result.outcomes] == [1, 0, 0]
    assert {o.reason for o in result.outcomes} == {"TenantDisconnected"}


def test_one_report_unavailable_fails_alone_an_outage_ends_the_reading(books: Books) -> None:
    client = books.client_with(
        "offline_access accounting.settings.read accounting.reports.read", max_attempts=1
    )
    tenant = books.tenants[0]
    fault = {
        "match": {"path": "/api.xro/2.0/Reports/TrialBalance"},
        "fault": "status",
        "status": 500,
        "forever": True,
    }
    books.xero.admin("faults", fault)
    try:
        months = last_months(TODAY, 3)
        plan = [tb(months[0]), pl_request(months[:1]), tb(months[1]), tb(months[2])]
        plan.append(pl_request(months[1:2]))
        result = read_plan(client, books.org(tenant), plan)
    finally:
        books.xero.http.delete("/_sandbox/faults")
    assert [(o.status, o.reason, o.calls) for o in result.outcomes] == [
        (Status.FAILED, "XeroUnavailable", 1),
        (Status.LANDED, None, 1),
        (Status.FAILED, "XeroUnavailable", 1),
        (Status.FAILED, "XeroUnavailable", 1),
        (Status.FAILED, "XeroUnavailable", 0),  # two in a row: not asked
    ]

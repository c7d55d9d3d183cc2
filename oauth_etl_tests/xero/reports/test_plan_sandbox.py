"""Plans read against the sandbox's books, run after run: everything lands; once the
organisation locks its books, the locked periods are read once more and then never;
a back-dated change in an open month shows in the next run's reading of it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from oauth_etl.xero.reports.model import Basis, ReportCell
from oauth_etl.xero.reports.outcomes import Status, read_plan
from oauth_etl.xero.reports.parse import published_periods
from oauth_etl.xero.reports.periods import Facts, PlanOptions, plan
from oauth_etl_tests.xero.reports.conftest import Books, BooksFactory
from oauth_etl_tests.xero.reports.test_read import TODAY, calls, last_months

OPTIONS = PlanOptions(
    years=1,
    bases=(Basis.ACCRUAL,),
    reports=("profit_and_loss", "balance_sheet", "trial_balance", "published_reports",
             "published_report", "aged_receivables_by_contact"),
    aged_month_ends=1,
)  # fmt: skip


def facts(books: Books, tenant: str) -> Facts:
    return Facts.from_records(
        books.org(tenant),
        tracking_categories=books.records(tenant, "TrackingCategories")[:1],
        contacts=books.records(tenant, "Contacts")[:3],
        budgets=books.records(tenant, "Budgets"),
    )


def net_profit(found: list[ReportCell], end: dt.date) -> Decimal | None:
    (hit,) = [
        c for c in found
        if c.label == "Net Profit" and c.period_end == end and c.tracking_option is None
    ]  # fmt: skip
    return hit.value


def test_runs_read_locked_periods_once_and_open_ones_every_time(
    books_factory: BooksFactory,
) -> None:
    books = books_factory()
    nz = books.by_country("NZ")
    f = facts(books, nz)
    assert f.customers and f.tracking_category_ids
    # Run 1: nothing locked, everything open; the published list names the returns.
    first = plan(f, TODAY, OPTIONS)
    assert first.final == frozenset() and first.remainder == ()
    before = calls(books, nz)
    result = read_plan(books.client, f.org, first.requests)
    assert [o.status for o in result.outcomes] == [Status.LANDED] * len(first.requests)
    assert result.calls == calls(books, nz) - before == len(first.requests)
    (listing,) = [o.reading for o in result.outcomes if o.request.report == "published_reports"]
    assert listing is not None
    published = published_periods(listing.document)
    assert published
    # Lock the books at the end of the month before last; plan with the returns listed.
    closed, previous = last_months(TODAY, 2)[1], last_months(TODAY, 1)[0]
    books.xero.admin("lock", {"tenant_id": nz, "period_lock_date": closed.end.isoformat()})
    locked = Facts.from_records(
        books.org(nz),
        tracking_categories=books.records(nz, "TrackingCategories")[:1],
        contacts=books.records(nz, "Contacts")[:3],
        published=published,
    )
    assert locked.org.lock_date == closed.end
    second = plan(locked, TODAY, OPTIONS)
    assert second.final  # the locked months, in calls of their own
    result = read_plan(books.client, locked.org, second.requests)
    assert {o.status for o in result.outcomes} == {Status.LANDED}
    done = second.done_after(o.request for o in result.outcomes if o.status is Status.LANDED)
    # Run 3: the locked periods are done; only the open ones are read again.
    third = plan(locked, TODAY, OPTIONS, done=done)
    assert third.final == frozenset() and third.already_read == len(done)
    assert len(third.requests) == len(second.requests) - len(second.final)
    for request in third.requests:
        assert all(p.end > closed.end for p in request.periods) or not request.periods
    # A back-dated sale in last month (open): run 4 reads the new figure.
    pl = [r for r in third.requests if r.report == "profit_and_loss" and not r.tracking_category_id]
    old = read_plan(books.client, locked.org, pl).outcomes
    before_change = net_profit([c for o in old if o.reading for c in o.reading.cells], previous.end)
    mid = previous.start + dt.timedelta(days=10)
    books.xero.admin(
        "change",
        {"tenant_id": nz, "endpoint": "Invoices", "kind": "insert", "date": mid.isoformat()},
    )
    fourth = plan(locked, TODAY, OPTIONS, done=done)
    assert {r.key for r in fourth.requests} == {r.key for r in third.requests}
    new = read_plan(books.client, locked.org, [r for r in fourth.requests if r in pl]).outcomes
    after_change = net_profit([c for o in new if o.reading for c in o.reading.cells], previous.end)
    assert after_change != before_change


def test_a_day_budget_resumes_the_rest_next_run(books_factory: BooksFactory) -> None:
    books = books_factory()
    au = books.by_country("AU")
    f = facts(books, au)
    full = plan(f, TODAY, OPTIONS)
    today_plan = plan(f, TODAY, OPTIONS, calls_left=3)
    assert len(today_plan.requests) == 3 and len(today_plan.remainder) == len(full.requests) - 3
    landed = read_plan(books.client, f.org, today_plan.requests)
    assert landed.calls == 3
    tomorrow = plan(f, TODAY, OPTIONS, first=[r.key for r in today_plan.remainder])
    assert tomorrow.requests[: len(today_plan.remainder)] == today_plan.remainder

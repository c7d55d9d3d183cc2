"""The calls a run's reports may spend: the tier's day allowance until Xero reports its own
remainder, then Xero's figure; a plan within it resumes the rest."""

from __future__ import annotations

import pytest

from oauth_etl.xero.reports.budget import calls_left
from oauth_etl.xero.reports.model import ReportRequest
from oauth_etl.xero.reports.outcomes import read_plan
from oauth_etl.xero.reports.periods import Facts, PlanOptions, plan
from oauth_etl_tests.xero.reports.conftest import BooksFactory
from oauth_etl_tests.xero.reports.test_read import TODAY


def test_the_tier_allowance_before_any_call() -> None:
    assert calls_left() == 1000
    assert calls_left(tier="Core", spent=120, reserve=30) == 4850
    assert calls_left(spent=5000) == 0
    with pytest.raises(ValueError, match="starter"):
        calls_left(tier="gold")


def test_xeros_reported_remainder_decides_once_known(books_factory: BooksFactory) -> None:
    books = books_factory(limits=True, day_limit=12)
    tenant = books.tenants[0]
    budget = books.client.budget(tenant)
    assert calls_left(budget) == 1000  # nothing seen yet: the Starter allowance
    org = books.org(tenant)
    options = PlanOptions(years=1, reports=("trial_balance",))
    first = plan(Facts(org), TODAY, options, calls_left=calls_left(budget))
    assert len(first.requests) > 12  # more than the sandbox's day
    # Spend 4 calls, then the budget knows what Xero says is left
    read_plan(books.client, org, first.requests[:4])
    assert calls_left(budget) == 12 - 4
    again = plan(Facts(org), TODAY, options, calls_left=calls_left(budget, reserve=2))
    assert len(again.requests) == 6
    result = read_plan(books.client, org, again.requests)
    assert result.calls == 6 and calls_left(budget) == 2


def test_an_exhausted_day_leaves_nothing(books_factory: BooksFactory) -> None:
    books = books_factory(limits=True, day_limit=1)
    tenant = books.tenants[0]
    org = books.org(tenant)
    plan_all = [ReportRequest("published_reports", (), ())] * 3
    result = read_plan(books.client, org, plan_all)
    assert [o.status.value for o in result.outcomes] == [
        "landed", "skipped_for_budget", "skipped_for_budget"
    ]  # fmt: skip
    assert calls_left(books.client.budget(tenant)) == 0

"""Sharing a tenant's day between its reports (pure): the financial statements first, the
other period-bounded reports next, the per-contact aged reports share what is left; no
report starves, whichever order the steps run in."""

from __future__ import annotations

import datetime as dt

import pytest

from oauth_etl.xero.reports.catalog import REPORTS
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.periods import Facts, PlanOptions, plan
from oauth_etl.xero.reports.shares import PRIORITY, allot, tier

STATEMENTS = ("profit_and_loss", "balance_sheet", "trial_balance")
AGED = ("aged_payables_by_contact", "aged_receivables_by_contact")
TODAY = dt.date(2026, 12, 7)


def test_every_catalog_report_has_a_tier_and_the_per_contact_ones_come_last() -> None:
    assert set(PRIORITY) == {r.name for r in REPORTS}
    last = max(PRIORITY.values())
    assert {r.name for r in REPORTS if r.per_contact} == {
        n for n, t in PRIORITY.items() if t == last
    }
    assert all(tier(n) == 0 for n in STATEMENTS)
    with pytest.raises(KeyError, match="PRIORITY"):
        tier("cash_flow")


def test_the_statements_are_served_first_and_the_aged_reports_share_the_rest() -> None:
    demand = {"aged_payables_by_contact": 300, "aged_receivables_by_contact": 800,
              "profit_and_loss": 52, "balance_sheet": 4, "bank_summary": 24}  # fmt: skip
    got = allot(1000, demand)
    assert {n: got[n] for n in ("profit_and_loss", "balance_sheet", "bank_summary")} == {
        "profit_and_loss": 52,
        "balance_sheet": 4,
        "bank_summary": 24,
    }
    # 920 left, shared 300:800; the odd call to the larger remainder.
    assert got["aged_payables_by_contact"] + got["aged_receivables_by_contact"] == 920
    assert got["aged_payables_by_contact"] == 251 and got["aged_receivables_by_contact"] == 669
    assert allot(50, demand)["balance_sheet"] + allot(50, demand)["profit_and_loss"] == 50
    assert allot(50, demand)["bank_summary"] == 0 == allot(50, demand)["aged_payables_by_contact"]
    assert allot(-3, demand) == dict.fromkeys(demand, 0)
    assert allot(2000, demand) == demand  # everything fits: each gets what it needs


def _demand(f: Facts, names: tuple[str, ...]) -> dict[str, int]:
    return {n: len(plan(f, TODAY, PlanOptions(reports=(n,))).requests) for n in names}


@pytest.mark.parametrize("order", ["alphabetical", "catalog", "reversed"])
def test_400_contacts_on_starter_the_statements_land_whichever_step_runs_first(
    order: str,
) -> None:
    """The review's case: 400 customers, 150 suppliers, a 1,000-call day. Each step
    allots among the reports still to run what the day has left, and spends its part."""
    o = Organisation("t", country="NZ", financial_year_end_day=31, financial_year_end_month=3)
    f = Facts(
        o,
        tracking_category_ids=("region",),
        customers=tuple(f"c{i}" for i in range(400)),
        suppliers=tuple(f"s{i}" for i in range(150)),
        has_budget=True,
    )
    names = tuple(r.name for r in REPORTS if r.name != "published_report")
    demand = _demand(f, names)
    assert sum(demand[n] for n in AGED) > 1000 > sum(v for n, v in demand.items() if n not in AGED)
    steps = {"alphabetical": sorted(names), "catalog": list(names)}.get(order, sorted(names)[::-1])
    left, spent = 1000, {}
    for i, name in enumerate(steps):
        pending = {n: demand[n] for n in steps[i:]}
        spent[name] = min(allot(left, pending)[name], demand[name])
        left -= spent[name]
    assert all(spent[n] == demand[n] for n in names if n not in AGED)  # nothing cut
    assert all(0 < spent[n] < demand[n] for n in AGED)  # both cut, neither starved
    assert left == 0  # and the day is used up

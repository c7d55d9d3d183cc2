"""The report planner (pure): history from the financial year, months and month-ends
covered exactly once per slice, finality by lock date, final periods read once, the day's
calls respected and the rest resumed without loss or repetition."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from oauth_etl.xero.reports.catalog import report
from oauth_etl.xero.reports.model import Basis, Period, ReportRequest
from oauth_etl.xero.reports.months import history_start, month_of, months, year_of
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.periods import Facts, Plan, PlanOptions, is_final, plan

D = dt.date


def org(**kw: object) -> Organisation:
    base: dict[str, object] = {"country": "NZ", "financial_year_end_day": 31,
                               "financial_year_end_month": 3}  # fmt: skip
    return Organisation("t", **{**base, **kw})  # type: ignore[arg-type]


def facts(o: Organisation, **kw: object) -> Facts:
    return Facts(o, **kw)  # type: ignore[arg-type]


def of(p: Plan, name: str, slice_: str | None = None) -> list[ReportRequest]:
    return [r for r in (*p.requests, *p.remainder) if r.report == name
            and (slice_ is None or r.slice == slice_)]  # fmt: skip


def test_default_history_is_this_and_last_financial_year() -> None:
    o = org()
    assert year_of(o, D(2026, 12, 7)) == Period(D(2026, 4, 1), D(2027, 3, 31))
    assert history_start(o, D(2026, 12, 7), 2) == D(2025, 4, 1)
    assert history_start(org(created=D(2025, 9, 14)), D(2026, 12, 7), 2) == D(2025, 9, 1)
    june = org(financial_year_end_day=30, financial_year_end_month=6)
    assert year_of(june, D(2026, 6, 30)) == Period(D(2025, 7, 1), D(2026, 6, 30))
    assert year_of(june, D(2026, 7, 1)) == Period(D(2026, 7, 1), D(2027, 6, 30))


def test_twelve_months_of_pl_cost_one_call_per_basis() -> None:
    p = plan(facts(org()), D(2026, 3, 31), PlanOptions(years=1, reports=("profit_and_loss",)))
    assert [r.key for r in p.requests] == [
        "profit_and_loss?fromDate=2026-03-01&toDate=2026-03-31&periods=11&timeframe=MONTH"
        "&paymentsOnly=false",
        "profit_and_loss?fromDate=2026-03-01&toDate=2026-03-31&periods=11&timeframe=MONTH"
        "&paymentsOnly=true",
    ]
    (accrual, cash) = p.requests
    assert accrual.periods == tuple(months(D(2025, 4, 1), D(2026, 3, 31)))
    assert (accrual.basis, cash.basis) == (Basis.ACCRUAL, Basis.CASH)


def test_tracking_splits_are_one_month_a_call() -> None:
    options = PlanOptions(years=1, reports=("profit_and_loss",), bases=(Basis.ACCRUAL,))
    p = plan(facts(org(), tracking_category_ids=("c1", "c2")), D(2026, 3, 31), options)
    split = [r for r in p.requests if r.tracking_category_id]
    assert len(split) == 24 and {len(r.periods) for r in split} == {1}
    assert {r.tracking_category_id for r in split} == {"c1", "c2"}
    assert all(("trackingCategoryID", r.tracking_category_id) in r.params for r in split)


def test_reports_the_organisation_lacks_are_not_planned() -> None:
    today = D(2026, 12, 7)
    nz = plan(facts(org()), today)
    assert not of(nz, "ten_ninety_nine") and not of(nz, "budget_summary")
    assert not of(nz, "aged_receivables_by_contact")  # no contacts given
    us = plan(facts(org(country="US"), has_budget=True, customers=("a",)), today)
    assert [r.params for r in of(us, "ten_ninety_nine")] == [  # newest first
        (("reportYear", "2026"),), (("reportYear", "2025"),)
    ]  # fmt: skip
    assert {len(r.periods) for r in of(us, "budget_summary")} == {12}
    assert [r.params for r in of(us, "aged_receivables_by_contact")] == [
        (("date", "2026-12-31"), ("contactId", "a")),
        (("date", "2026-11-30"), ("contactId", "a")),
    ]


def test_lock_date_makes_periods_final_and_done_ones_are_not_reread() -> None:
    o = org(period_lock_date=D(2025, 12, 31), end_of_year_lock_date=D(2025, 3, 31))
    assert o.lock_date == D(2025, 12, 31)
    assert is_final(Period(D(2025, 12, 1), D(2025, 12, 31)), o)
    assert not is_final(Period(D(2026, 1, 1), D(2026, 1, 31)), o)
    options = PlanOptions(reports=("trial_balance",), bases=(Basis.ACCRUAL,))
    first = plan(facts(o), D(2026, 2, 10), options)
    final = [r for r in first.requests if r.key in first.final]
    assert {r.periods[0].end for r in final} == {
        m.end for m in months(D(2024, 4, 1), D(2025, 12, 1))
    }
    done = first.done_after(first.requests)
    second = plan(facts(o), D(2026, 2, 10), options, done=done)
    assert [r.periods[0].end for r in second.requests] == [D(2026, 2, 28), D(2026, 1, 31)]
    assert second.already_read == len(final) and second.final == frozenset()
    # The lock moved back: a period after it is open again, read whatever `done` says.
    unlocked = plan(facts(org(period_lock_date=D(2025, 10, 31))), D(2026, 2, 10), options,
                    done=done)  # fmt: skip
    assert {r.periods[0].end for r in unlocked.requests} >= {D(2025, 11, 30), D(2025, 12, 31)}


LOCKS = st.one_of(st.none(), st.dates(D(2023, 1, 1), D(2027, 12, 31)))
ORGS = st.builds(
    Organisation,
    st.just("t"),
    country=st.sampled_from(["US", "NZ", "AU", None]),
    financial_year_end_day=st.integers(28, 31),
    financial_year_end_month=st.integers(1, 12),
    period_lock_date=LOCKS,
    end_of_year_lock_date=LOCKS,
    created=st.one_of(st.none(), st.dates(D(2020, 1, 1), D(2026, 6, 1))),
)
TODAY = st.dates(D(2026, 6, 2), D(2028, 12, 31))
FACTS = st.builds(
    Facts,
    ORGS,
    tracking_category_ids=st.lists(st.sampled_from(["c1", "c2", "c3"]), unique=True).map(tuple),
    customers=st.lists(st.sampled_from(["a", "b"]), unique=True).map(tuple),
    suppliers=st.lists(st.sampled_from(["s"]), unique=True).map(tuple),
    has_budget=st.booleans(),
)


def _covered(p: Plan) -> Counter[str]:
    return Counter(k for r in (*p.requests, *p.remainder) for k in r.period_keys)


@settings(max_examples=150, deadline=None)
@given(FACTS, TODAY, st.integers(1, 3))
def test_every_period_of_every_slice_is_planned_once(f: Facts, today: dt.date, years: int) -> None:
    p = plan(f, today, PlanOptions(years=years))
    covered = _covered(p)
    assert set(covered.values()) <= {1}, "a period in two calls"
    start = history_start(f.org, today, years)
    history = list(months(start, today))
    for basis in ("false", "true"):
        for name, expect in (
            ("profit_and_loss", history),
            ("balance_sheet", [Period(m.end, m.end) for m in history]),
            ("trial_balance", [Period(m.end, m.end) for m in history]),
        ):
            got = sorted(pp for r in of(p, name, f"paymentsOnly={basis}") for pp in r.periods)
            assert got == expect, name
    for r in (*p.requests, *p.remainder):
        spec = report(r.report)
        assert len(r.periods) <= spec.max_columns
        assert set(dict(r.params)) <= set(spec.params)
        finals = {is_final(pp, f.org) for pp in r.periods}
        if r.report != "budget_summary" and r.periods:
            assert finals == {r.key in p.final}, r.key
        if len(r.periods) > 1:  # consecutive months, the newest named by the call
            ends = [month_of(pp.end) for pp in r.periods]
            assert ends == list(months(ends[0].start, ends[-1].start))
            params = dict(r.params)
            if r.report != "budget_summary":
                newest = r.periods[-1].end.isoformat()
                assert newest in (params.get("toDate"), params.get("date"))
                assert params["periods"] == str(len(r.periods) - 1)
            else:  # the first month and how many
                assert params["date"] == r.periods[0].start.isoformat()
                assert params["periods"] == str(len(r.periods))
        if f.org.created and r.periods:
            assert max(pp.end for pp in r.periods) >= f.org.created


def read(request: ReportRequest, done: set[str]) -> bool:
    return bool(request.periods) and set(request.period_keys) <= done


@settings(max_examples=100, deadline=None)
@given(FACTS, TODAY, st.lists(st.integers(0, 40), min_size=1, max_size=12))
def test_runs_within_budget_read_every_final_period_exactly_once(
    f: Facts, today: dt.date, budgets: list[int]
) -> None:
    """Run after run on the same day: each run within its calls, the remainder first next
    time; final periods are read once, and once every run had room nothing is left."""
    done: set[str] = set()
    final_reads: Counter[str] = Counter()
    remainder: tuple[str, ...] = ()
    full = plan(f, today)
    all_final = {k for r in full.requests if r.key in full.final for k in r.period_keys}
    for calls in [*budgets, 10_000]:
        p = plan(f, today, done=done, calls_left=calls, first=remainder)
        assert len(p.requests) <= calls
        assert {r.key for r in p.requests} | {r.key for r in p.remainder} == (
            {r.key for r in full.requests if not read(r, done)}
        )
        newly = p.done_after(p.requests)
        final_reads.update(newly)
        done |= newly
        remainder = tuple(r.key for r in p.remainder)
        if remainder:  # what waited goes first next run
            nxt = plan(f, today, done=done, calls_left=len(remainder), first=remainder)
            assert {r.key for r in nxt.requests} == set(remainder) - {
                r.key for r in full.requests if read(r, done)
            }
    assert done == all_final and set(final_reads.values()) <= {1}
    assert not plan(f, today, done=done, calls_left=0).remainder or all(
        r.key not in full.final for r in plan(f, today, done=done).requests
    )

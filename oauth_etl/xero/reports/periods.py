"""The report planner: which report calls a run makes for one tenant (pure).

History: the current and the previous financial year by default (`PlanOptions.years`),
from the organisation's FinancialYearEndDay/Month, never before the month it was created.

- ProfitAndLoss: months, up to 12 a call (`fromDate`/`toDate` the newest month,
  `periods` the earlier ones, `timeframe=MONTH`: spec getReportProfitAndLoss, periods "The
  number of periods to compare (integer between 1 and 12)"; Xero answers the asked month
  and then each earlier one, newest first: Xero-Java issue #107, maintainer, "the months
  are comparisons to the previous month"), accrual and cash (`paymentsOnly`). Split by a
  tracking category (`trackingCategoryID`): one month a call, the columns being the
  options (the sandbox's reading; no Xero page shows a split with periods).
- BalanceSheet: month-ends, up to 12 a call (`date` the newest, `periods`,
  `timeframe=MONTH`, spec getReportBalanceSheet; 11 comparisons: see reports/catalog.py).
- TrialBalance, ExecutiveSummary, BankSummary: one month (or month-end) a call, as their
  operations take one `date` or one `fromDate`/`toDate`.
- BudgetSummary: each financial year in one call (`date` its first month, `periods` up to
  12, `timeframe=1`); only where the organisation has a budget; never final (a budget is
  not a posting: lock dates do not hold it).
- Aged reports: one call per contact (`contactId` is required) at each of the last
  `aged_month_ends` month-ends.
- TenNinetyNine: each calendar year, US organisations only. Published reports: the list
  each run, and each listed report.

Finality: a period is final once it ends on or before the organisation's lock date (the
later of PeriodLockDate and EndOfYearLockDate: nothing dated then can change). A call
holds only final or only open periods; final periods already read (`done`, period keys)
are left out, every open one is planned on every run.

Budget: with `calls_left`, the plan holds that many calls (one a request) and returns the
rest as `remainder`; the next run puts the previous remainder first (`first`), so
nothing waits for ever, and since a final period only leaves the plan once read (`done`)
none is lost and none read twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from oauth_etl.xero.reports.catalog import REPORTS, report
from oauth_etl.xero.reports.model import Basis, Period, ReportRequest
from oauth_etl.xero.reports.months import chunks, history_start, months, runs, year_of
from oauth_etl.xero.reports.org import Organisation

Params = tuple[tuple[str, str], ...]
ORDER = {r.name: i for i, r in enumerate(REPORTS)}


@dataclass(frozen=True)
class PlanOptions:
    years: int = 2  # financial years of history, the current one included
    reports: tuple[str, ...] = tuple(r.name for r in REPORTS)
    bases: tuple[Basis, ...] = (Basis.ACCRUAL, Basis.CASH)
    tracking_bases: tuple[Basis, ...] = (Basis.ACCRUAL,)
    aged_month_ends: int = 2  # this month's end and the one before

    def __post_init__(self) -> None:
        for name in self.reports:
            report(name)  # an unknown name fails here, naming the known ones


@dataclass(frozen=True)
class Facts:
    """What the tenant has, from its other endpoints."""

    org: Organisation
    tracking_category_ids: tuple[str, ...] = ()  # TrackingCategories, ACTIVE
    customers: tuple[str, ...] = ()  # ContactIDs for aged receivables
    suppliers: tuple[str, ...] = ()  # ContactIDs for aged payables
    has_budget: bool = False  # Budgets holds at least one
    published: Mapping[str, Period] = field(default_factory=dict, hash=False)  # ReportID ->

    def __post_init__(self) -> None:
        object.__setattr__(self, "published", MappingProxyType(dict(self.published)))

    @classmethod
    def from_records(
        cls,
        org: Organisation,
        *,
        tracking_categories: Iterable[Mapping[str, Any]] = (),
        contacts: Iterable[Mapping[str, Any]] = (),
        budgets: Iterable[Mapping[str, Any]] = (),
        published: Mapping[str, Period] | None = None,
    ) -> Facts:
        """From the records as Xero answers them (TrackingCategories Status ACTIVE,
        Contacts IsCustomer/IsSupplier and ContactStatus ACTIVE: xero_accounting.yaml)."""
        people = [c for c in contacts if c.get("ContactStatus", "ACTIVE") == "ACTIVE"]
        return cls(
            org,
            tracking_category_ids=tuple(
                str(t["TrackingCategoryID"])
                for t in tracking_categories
                if t.get("Status", "ACTIVE") == "ACTIVE"
            ),
            customers=tuple(str(c["ContactID"]) for c in people if c.get("IsCustomer")),
            suppliers=tuple(str(c["ContactID"]) for c in people if c.get("IsSupplier")),
            has_budget=any(True for _ in budgets),
            published=published or {},
        )


@dataclass(frozen=True)
class Plan:
    requests: tuple[ReportRequest, ...]  # read now, in this order
    remainder: tuple[ReportRequest, ...]  # beyond the calls left: put first next run
    final: frozenset[str]  # keys of the requests whose every period is final
    already_read: int  # final periods left out because `done` holds them

    def done_after(self, landed: Iterable[ReportRequest]) -> frozenset[str]:
        """The period keys that `landed` requests make done (the final ones)."""
        return frozenset(k for r in landed if r.key in self.final for k in r.period_keys)


def is_final(period: Period, org: Organisation) -> bool:
    lock = org.lock_date
    return lock is not None and period.end <= lock


def _basis(basis: Basis) -> Params:
    return (("paymentsOnly", "true" if basis is Basis.CASH else "false"),)


def _span(chunk: Sequence[Period], anchor: Period, date_only: bool) -> Params:
    """Dates of a multi-column call: the newest period, and how many before it."""
    dates: Params = (
        (("date", anchor.end.isoformat()),)
        if date_only
        else (("fromDate", anchor.start.isoformat()), ("toDate", anchor.end.isoformat()))
    )
    if len(chunk) > 1:
        dates += (("periods", str(len(chunk) - 1)), ("timeframe", "MONTH"))
    return dates


@dataclass
class _Builder:
    facts: Facts
    today: dt.date
    done: frozenset[str]
    skipped: int = 0
    out: list[tuple[ReportRequest, bool]] = field(default_factory=list)

    @property
    def org(self) -> Organisation:
        return self.facts.org

    def add(
        self,
        name: str,
        periods: Iterable[Period],
        slice_: Params,
        dates: Callable[[Sequence[Period]], Params],
        *,
        size: int = 1,
        basis: Basis = Basis.ACCRUAL,
        tracking: str | None = None,
        finality: bool = True,
    ) -> None:
        """Plan `periods` of one slice: drop final ones already read, group the rest by
        financial year and finality into consecutive runs, at most `size` a call."""
        groups: dict[tuple[Period, bool], list[Period]] = {}
        for period in periods:
            final = finality and is_final(period, self.org)
            if final and ReportRequest(name, slice_, (period,)).period_keys[0] in self.done:
                self.skipped += 1
                continue
            groups.setdefault((year_of(self.org, period.end), final), []).append(period)
        for (_, final), group in sorted(groups.items()):
            for run in runs(group):
                for chunk in chunks(run, size):
                    params = dates(chunk) + slice_
                    request = ReportRequest(name, params, tuple(chunk), basis, tracking)
                    self.out.append((request, final))


def _plan_all(facts: Facts, today: dt.date, options: PlanOptions, done: frozenset[str]) -> _Builder:
    org = facts.org
    b = _Builder(facts, today, done)
    start = history_start(org, today, options.years)
    month_list = list(months(start, today))
    ends = [Period(m.end, m.end) for m in month_list]
    wanted = set(options.reports)

    def size(name: str) -> int:
        return report(name).max_columns

    if "profit_and_loss" in wanted:
        for basis in options.bases:
            b.add(
                "profit_and_loss", month_list, _basis(basis),
                lambda c: _span(c, c[-1], False), size=size("profit_and_loss"), basis=basis,
            )  # fmt: skip
        for category in facts.tracking_category_ids:
            for basis in options.tracking_bases:
                b.add(
                    "profit_and_loss", month_list,
                    (*_basis(basis), ("trackingCategoryID", category)),
                    lambda c: _span(c, c[-1], False), basis=basis, tracking=category,
                )  # fmt: skip
    for name in ("balance_sheet", "trial_balance"):
        if name in wanted:
            for basis in options.bases:
                b.add(
                    name, ends, _basis(basis), lambda c: _span(c, c[-1], True),
                    size=size(name), basis=basis,
                )  # fmt: skip
    if "bank_summary" in wanted:
        b.add("bank_summary", month_list, (), lambda c: _span(c, c[-1], False))
    if "executive_summary" in wanted:
        b.add("executive_summary", month_list, (), lambda c: (("date", c[-1].end.isoformat()),))
    if "budget_summary" in wanted and facts.has_budget:
        # The whole current year: a budget is read against the months still to come.
        b.add(
            "budget_summary", list(months(start, year_of(org, today).end)), (),
            lambda c: (("date", c[0].start.isoformat()), ("periods", str(len(c))),
                       ("timeframe", "1")),
            size=size("budget_summary"), finality=False,
        )  # fmt: skip
    recent = ends[-options.aged_month_ends :] if options.aged_month_ends > 0 else []
    for name, contacts in (
        ("aged_receivables_by_contact", facts.customers),
        ("aged_payables_by_contact", facts.suppliers),
    ):
        if name in wanted:
            for contact in contacts:
                b.add(
                    name, recent, (("contactId", contact),),
                    lambda c: (("date", c[-1].end.isoformat()),),
                )  # fmt: skip
    if "ten_ninety_nine" in wanted and org.country == "US":
        years = [
            Period(dt.date(y, 1, 1), dt.date(y, 12, 31)) for y in range(start.year, today.year + 1)
        ]
        b.add("ten_ninety_nine", years, (), lambda c: (("reportYear", str(c[-1].end.year)),))
    if "published_reports" in wanted:
        b.out.append((ReportRequest("published_reports", (), ()), False))
    if "published_report" in wanted:
        for report_id, period in sorted(facts.published.items()):
            b.add("published_report", [period], (("ReportID", report_id),), lambda c: ())
    return b


def plan(
    facts: Facts,
    today: dt.date,
    options: PlanOptions | None = None,
    *,
    done: Iterable[str] = (),
    calls_left: int | None = None,
    first: Iterable[str] = (),
) -> Plan:
    """The calls of one run for one tenant; `done`: period keys read while final;
    `first`: keys of the previous run's remainder, read before the rest."""
    b = _plan_all(facts, today, options or PlanOptions(), frozenset(done))
    front = set(first)
    # The previous remainder first; then open periods (re-read every run), then final
    # ones; by catalog order; newest first.
    ordered = sorted(
        b.out,
        key=lambda item: (
            item[0].key not in front,
            item[1],
            ORDER[item[0].report],
            -max((p.end.toordinal() for p in item[0].periods), default=today.toordinal()),
            item[0].key,
        ),
    )
    requests = tuple(r for r, _ in ordered)
    keep = len(requests) if calls_left is None else max(0, calls_left)
    return Plan(
        requests=requests[:keep],
        remainder=requests[keep:],
        final=frozenset(r.key for r, final in b.out if final),
        already_read=b.skipped,
    )


__all__ = ["Facts", "Plan", "PlanOptions", "is_final", "plan"]

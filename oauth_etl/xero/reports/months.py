"""Calendar arithmetic the report planner needs: months, month-ends, financial years."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator, Sequence

from oauth_etl.xero.reports.model import Period
from oauth_etl.xero.reports.org import Organisation


def month_of(day: dt.date) -> Period:
    """The calendar month holding `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return Period(day.replace(day=1), day.replace(day=last))


def next_month(period: Period) -> Period:
    return month_of(period.end + dt.timedelta(days=1))


def months(first: dt.date, last: dt.date) -> Iterator[Period]:
    """Every calendar month from the one holding `first` to the one holding `last`."""
    current = month_of(first)
    while current.start <= last:
        yield current
        current = next_month(current)


def year_of(org: Organisation, day: dt.date) -> Period:
    """The organisation's financial year holding `day` (FinancialYearEndDay/Month)."""
    end = org.year_end(day.year)
    if end < day:
        end = org.year_end(day.year + 1)
    start = org.year_end(end.year - 1) + dt.timedelta(days=1)
    return Period(start, end)


def history_start(org: Organisation, today: dt.date, years: int) -> dt.date:
    """The first day of the month that starts `years` financial years, this one included,
    clamped to the organisation's creation month (nothing is posted before it)."""
    if years < 1:
        raise ValueError("history must cover at least the current financial year")
    year = year_of(org, today)
    for _ in range(years - 1):
        year = year_of(org, year.start - dt.timedelta(days=1))
    start = year.start.replace(day=1)
    if org.created is not None and org.created > start:
        start = org.created.replace(day=1)
    return start


def runs(periods: Sequence[Period]) -> list[list[Period]]:
    """Consecutive months (or consecutive month-ends) grouped, oldest first."""
    out: list[list[Period]] = []
    for period in sorted(periods):
        if out and _adjacent(out[-1][-1], period):
            out[-1].append(period)
        else:
            out.append([period])
    return out


def _adjacent(before: Period, after: Period) -> bool:
    return next_month(month_of(before.end)) == month_of(after.end)


def chunks(run: Sequence[Period], size: int) -> list[list[Period]]:
    """`run` cut into pieces of at most `size`, counted from the newest (the anchor Xero
    counts back from), oldest piece first."""
    out = []
    items = list(run)
    while items:
        out.append(items[-size:])
        items = items[:-size]
    return out[::-1]

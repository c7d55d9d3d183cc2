"""The reports within a tenant's day through Dagster (sandbox Xero with a day limit, Azurite).

With many contacts and a small day the financial statements still land whole and the
aged reports share what is left, the cut requests read first the next day; a day-limit
stop resumes the rest next run, and over the runs every period the plan must cover
(worked out here from the organisation's own record) is read, none twice.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import Any

import pytest

from oauth_etl.tables.writes import open_table
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl_tests.reports.dagster_run import UNPACED_MINUTE, ReportRun, ReportRuns, metadata

AGED = ("aged_payables_by_contact", "aged_receivables_by_contact")
STATEMENTS = ("balance_sheet", "profit_and_loss")
KEY = re.compile(
    r"contactId=([0-9a-fA-F-]+).*?(\d{4}-\d\d-\d\d)|(\d{4}-\d\d-\d\d).*?contactId=([0-9a-fA-F-]+)"
)


def contact_dates(keys: list[str]) -> list[tuple[str, str]]:
    """(contact, date) of aged request keys (`date=...&contactId=...`) and period keys
    (`contactId=...@start/end`), in their order."""
    out = []
    for key in keys:
        found = KEY.search(key)
        assert found is not None, key
        contact, day, day2, contact2 = found.groups()
        out.append((contact or contact2, day or day2))
    return out


def organisation(run: ReportRun, tenant: str) -> dict[str, Any]:
    """The sandbox's Organisation record, from its admin API (no Xero call spent)."""
    response = run.sandbox.admin.get(
        "/_sandbox/records", params={"tenant_id": tenant, "endpoint": "Organisation"}
    )
    response.raise_for_status()
    (record,) = response.json()
    return dict(record)


@pytest.mark.timeout(900)
def test_many_contacts_on_a_small_day_the_statements_land_and_the_aged_reports_share(
    report_runs: ReportRuns,
) -> None:
    # 60 contacts, 22 of them suppliers: ~164 aged calls against a 100-call day, the P&L
    # and balance sheet ~20. The steps run alphabetically: the aged reports first.
    flags = ("--tenants", "1", "--records", "60", "--day-limit", "100")
    with report_runs(*flags, "--minute-limit", str(UNPACED_MINUTE), limits=True) as run:
        tenant = run.tenants[0]
        names = (*AGED, *STATEMENTS)
        first = run.reports(tenant, names)
        for name in STATEMENTS:
            found = metadata(first, name)
            assert found["reports/skipped_for_budget"] == 0, (name, found.get("reports/cut"))
            assert found["reports/landed"] == found["reports/requests_planned"] > 0
        aged = {name: metadata(first, name) for name in AGED}
        for name, found in aged.items():
            assert 0 < found["reports/landed"] < found["reports/requests_planned"], name
            assert found["reports/first"] and found["resumes"]
            cut = found["reports/cut"]
            assert "profit_and_loss" in cut and "read first on the next run" in cut
        spent = sum(metadata(first, n)["reports/calls"] for n in names)
        assert spent <= 100

        run.sandbox.advance_clock(86_400)  # the next day
        second = run.reports(tenant, names)
        for name in STATEMENTS:
            assert metadata(second, name)["reports/skipped_for_budget"] == 0
        for name, before in aged.items():
            cut = contact_dates(before["reports/first"])
            read = contact_dates(metadata(second, name)["periods_read_list"])
            assert read, name
            # What the first day cut is what the second reads first.
            n = min(len(cut), len(read))
            assert set(read[:n]) == set(cut[:n]), name


def _planned_month_ends(record: dict[str, Any], today: dt.date, years: int = 2) -> list[dt.date]:
    """The month-ends a two-year history covers, worked out from the Organisation record:
    from the first month of the previous financial year (FinancialYearEndDay/Month),
    never before the month of CreatedDateUTC, to this month."""
    day, month = int(record["FinancialYearEndDay"]), int(record["FinancialYearEndMonth"])

    def year_end(year: int) -> dt.date:
        return dt.date(year, month, min(day, calendar.monthrange(year, month)[1]))

    end = year_end(today.year) if year_end(today.year) >= today else year_end(today.year + 1)
    start = (year_end(end.year - years) + dt.timedelta(days=1)).replace(day=1)
    created = parse_xero_datetime(record["CreatedDateUTC"]).date().replace(day=1)
    first = max(start, created)
    out = []
    y, m = first.year, first.month
    while (y, m) <= (today.year, today.month):
        out.append(dt.date(y, m, calendar.monthrange(y, m)[1]))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _basis_end(period_key: str) -> tuple[str, dt.date]:
    """(basis, end) of a trial balance period key (`...paymentsOnly=true@start/end`)."""
    basis = "cash" if "paymentsOnly=true" in period_key else "accrual"
    return basis, dt.date.fromisoformat(period_key.rsplit("/", 1)[-1])


@pytest.mark.timeout(900)
def test_a_day_limit_stop_resumes_without_losing_or_repeating_a_period(
    report_runs: ReportRuns,
) -> None:
    with report_runs("--tenants", "1", "--records", "20", "--day-limit", "12", limits=True) as run:
        sandbox = run.sandbox
        tenant = run.tenants[0]
        today = dt.datetime.now(dt.UTC).date()
        lock = today.replace(day=1) - dt.timedelta(days=1)  # every month before this one final
        sandbox.post("/_sandbox/lock", {"tenant_id": tenant, "period_lock_date": lock.isoformat()})
        # What the plan must cover, from the organisation's facts, not from any run: each
        # month-end of the history, accrual and cash (one trial balance call each).
        ends = _planned_month_ends(organisation(run, tenant), today)
        planned = {(basis, end) for basis in ("accrual", "cash") for end in ends}
        planned_final = {(basis, end) for basis, end in planned if end <= lock}
        names = ("trial_balance",)
        runs = [metadata(run.reports(tenant, names), "trial_balance")]
        assert runs[0]["reports/skipped_for_budget"] > 0 and runs[0]["reports/first"]
        while runs[-1]["reports/skipped_for_budget"] and len(runs) < 12:
            sandbox.advance_clock(86_400)  # a new day: the day's calls are back
            runs.append(metadata(run.reports(tenant, names), "trial_balance"))
        assert len(runs) >= 2 and runs[-1]["reports/skipped_for_budget"] == 0
        finals = [[_basis_end(k) for k in r["periods_final_list"]] for r in runs]
        read_final = [p for f in finals for p in f]
        assert len(read_final) == len(set(read_final))  # none read twice
        assert set(read_final) == planned_final  # none lost, nothing beyond the plan
        read = {_basis_end(k) for r in runs for k in r["periods_read_list"]}
        assert read == planned  # the open month-ends too
        table = open_table(run.store, "report_trial_balance")
        assert table is not None
        everything = table.to_pyarrow_table().to_pylist()
        # The table agrees: each final date has exactly one reading.
        landed_final = {
            (r["basis"], r["period_end"]) for r in everything if r["period_end"] <= lock
        }
        assert landed_final == planned_final
        for basis, end in planned_final:
            moments = {
                r["as_read_at"] for r in everything if (r["basis"], r["period_end"]) == (basis, end)
            }
            assert len(moments) == 1, (basis, end)

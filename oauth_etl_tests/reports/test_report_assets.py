"""The report assets through Dagster (`dg.materialize`): sandbox Xero over HTTP, Azurite.

A run lands every report's answers, tabulates them and passes every check; a figure
served a cent off fails its check; a back-dated change in an open month is re-read and
changes the table, a month locked (PeriodLockDate, or EndOfYearLockDate alone) is not
re-read. The day's budget and its resumes: test_report_day_budget.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import dagster as dg
import pyarrow as pa
import pytest

from oauth_etl.defs.reports import organisation
from oauth_etl.defs.reports.assets import NOTHING
from oauth_etl.defs.reports.jobs import xero_reports_after_tables
from oauth_etl.tables import reports
from oauth_etl.tables.reports_layout import monthly_name
from oauth_etl.tables.writes import open_table
from oauth_etl.xero.reports.catalog import granular_scopes
from oauth_etl.xero.scopes import DEFAULT_SCOPES
from oauth_etl_tests.reports.dagster_run import (
    ReportRun,
    ReportRuns,
    checks,
    metadata,
    value,
)

CHECK_NAMES = {
    "trial_balance_balances",
    "journals_match_trial_balance",
    "balance_sheet_balances",
    "net_profit_matches_earnings",
    "bank_summary_matches_balance_sheet",
    "aged_receivables_match_balance_sheet",
}


@pytest.fixture
def run(report_runs: ReportRuns) -> Iterator[ReportRun]:
    with report_runs("--tenants", "2", "--records", "12") as ready:
        yield ready


def _month_ends(today: dt.date, count: int) -> list[dt.date]:
    out, first = [], today.replace(day=1)
    for _ in range(count):
        last = first - dt.timedelta(days=1)
        out.append(last)
        first = last.replace(day=1)
    return sorted(out)


@pytest.mark.timeout(900)
def test_reports_land_tabulate_and_every_check_passes(run: ReportRun) -> None:
    # The Australian organisation: its financial year ends in June, inside the history.
    which = 1
    tenant = run.tenants[which]
    run.ledger(tenant)
    result = run.reports(tenant)
    found = checks(result)
    assert set(found) == CHECK_NAMES
    for name, evaluation in found.items():
        assert evaluation.passed, (name, evaluation.description)
        assert value(evaluation, "compared") > 0 or name == "journals_match_trial_balance"
    assert value(found["journals_match_trial_balance"], "compared") > 0

    pl = metadata(result, "profit_and_loss")
    assert pl["reports/calls"] >= pl["reports/landed"] > 0
    assert pl["reports/failed"] == 0 and pl["reports/skipped_for_budget"] == 0
    assert pl["periods_read"] > 0 and pl["periods_reread"] == 0  # the first run
    # The 1099 is a US form: planned for the US organisation only, and the step says why.
    assert (metadata(result, "ten_ninety_nine")["reports/landed"] > 0) == (which == 0)
    why = metadata(result, "ten_ninety_nine")[NOTHING]
    assert "ten_ninety_nine" in why and "US" in why and "AU" in why

    wide = open_table(run.store, monthly_name("profit_and_loss"))
    assert wide is not None
    months = [c for c in wide.schema().to_arrow().names if c[:2] == "20"]
    assert len(months) >= 6
    # Every reading is in the long table; the monthly view holds the latest.
    rows = reports.readings(run.store, "profit_and_loss", tenant)
    assert rows.num_rows > 0

    again = run.reports(tenant, ("profit_and_loss",))
    second = metadata(again, "profit_and_loss")
    assert second["periods_reread"] == second["periods_read"] > 0  # no lock: all open


SKEWS = [
    (
        "BalanceSheet",
        "Accounts Receivable",
        {"balance_sheet_balances", "aged_receivables_match_balance_sheet"},
    ),
    ("TrialBalance", "Sales (200)", {"trial_balance_balances", "journals_match_trial_balance"}),
    ("ProfitAndLoss", "Sales", {"net_profit_matches_earnings"}),
    ("BankSummary", "Business Bank Account", {"bank_summary_matches_balance_sheet"}),
]


@pytest.mark.timeout(900)
def test_a_figure_a_cent_off_fails_its_asset_check(run: ReportRun) -> None:
    tenant = run.tenants[0]
    run.ledger(tenant)
    names = (
        "balance_sheet",
        "trial_balance",
        "profit_and_loss",
        "bank_summary",
        "aged_receivables_by_contact",
    )
    assert all(e.passed for e in checks(run.reports(tenant, names)).values())
    for report, row, _ in SKEWS:
        run.sandbox.post(
            "/_sandbox/skew", {"tenant_id": tenant, "report": report, "row": row, "delta": "0.01"}
        )
    found = checks(run.reports(tenant, names))  # every period is open: all are read again
    failing = {name for name, evaluation in found.items() if not evaluation.passed}
    assert failing == CHECK_NAMES
    for name in failing:
        evaluation = found[name]
        assert "differ" in (evaluation.description or "")
        figures = value(evaluation, "figures")
        assert isinstance(figures, list) and Decimal(figures[0]["difference"]) != 0


@pytest.mark.timeout(900)
def test_an_open_month_is_reread_and_a_locked_one_is_not(run: ReportRun) -> None:
    tenant = run.tenants[0]
    today = dt.datetime.now(dt.UTC).date()
    ends = _month_ends(today, 4)
    locked, open_month = ends[0], ends[2]
    run.sandbox.post(
        "/_sandbox/lock", {"tenant_id": tenant, "period_lock_date": locked.isoformat()}
    )
    ran = run.reports(tenant, ("profit_and_loss",))
    first = metadata(ran, "profit_and_loss")
    assert first["periods_final_read"] > 0
    # After a successful run of the tenant's tables, the sensor asks for its reports.
    context = dg.build_run_status_sensor_context(
        sensor_name="xero_reports_after_tables",
        dagster_instance=run.instance,
        dagster_run=ran.dagster_run,
        dagster_event=ran.get_run_success_event(),
    )
    request = xero_reports_after_tables(context)
    assert isinstance(request, dg.RunRequest)
    assert (request.partition_key, request.run_key) == (tenant, ran.run_id)
    assert request.tags["xero/tenant"] == tenant
    before = reports.readings(run.store, "profit_and_loss", tenant)

    # A back-dated sale in the open month; one in the locked month is refused by Xero.
    change = {"endpoint": "Invoices", "kind": "insert", "tenant_id": tenant}
    run.sandbox.post("/_sandbox/change", {**change, "date": open_month.replace(day=5).isoformat()})
    refused = run.sandbox.admin.post(
        "/_sandbox/change", json={**change, "date": locked.replace(day=5).isoformat()}
    )
    assert refused.status_code == 400

    second = metadata(run.reports(tenant, ("profit_and_loss",)), "profit_and_loss")
    assert second["periods_final_already_read"] == first["periods_final_read"]
    read = second["periods_read_list"]
    assert read and not any(f"/{locked.isoformat()}" in key for key in read)
    after = reports.readings(run.store, "profit_and_loss", tenant)

    def income(rows: pa.Table, end: dt.date) -> Decimal:
        (value,) = [
            r["value"]
            for r in rows.to_pylist()
            if r["label"] == "Total Income"
            and r["period_end"] == end
            and r["basis"] == "accrual"
            and r["tracking_category_id"] is None
        ]
        return Decimal(value)

    assert income(after, open_month) > income(before, open_month)
    assert income(after, locked) == income(before, locked)
    moments = {
        r["as_read_at"]
        for r in after.to_pylist()
        if r["period_end"] == locked
        and r["basis"] == "accrual"
        and r["tracking_category_id"] is None
    }
    assert len(moments) == 1  # the locked month's one reading, from the first run


@pytest.mark.timeout(900)
def test_a_period_before_the_end_of_year_lock_is_read_once_then_never(run: ReportRun) -> None:
    tenant = run.tenants[0]
    today = dt.datetime.now(dt.UTC).date()
    ends = _month_ends(today, 4)
    # Only the end-of-year lock: the period lock stays unset.
    lock = run.sandbox.post(
        "/_sandbox/lock", {"tenant_id": tenant, "end_of_year_lock_date": ends[1].isoformat()}
    ).json()
    assert lock["period_lock_date"] is None
    locked = {e for e in ends if e <= ends[1]}
    names = ("trial_balance",)  # one call per month-end and basis

    def ends_of(keys: list[str]) -> set[dt.date]:
        return {dt.date.fromisoformat(k.rsplit("/", 1)[-1]) for k in keys}

    first = metadata(run.reports(tenant, names), "trial_balance")
    assert locked <= ends_of(first["periods_final_list"])
    assert max(ends_of(first["periods_final_list"])) == ends[1]
    for _ in range(2):
        again = metadata(run.reports(tenant, names), "trial_balance")
        assert again["periods_final_already_read"] == first["periods_final_read"]
        assert not ends_of(again["periods_read_list"]) & ends_of(first["periods_final_list"])
        assert ends[2] in ends_of(again["periods_read_list"])  # after the lock: re-read
    table = open_table(run.store, "report_trial_balance")
    assert table is not None
    rows = table.to_pyarrow_table().to_pylist()

    def readings(end: dt.date) -> int:
        return len(
            {r["as_read_at"] for r in rows if (r["period_end"], r["basis"]) == (end, "cash")}
        )

    assert all(readings(end) == 1 for end in locked)
    assert readings(ends[2]) == 3


@pytest.mark.timeout(600)
def test_no_budget_and_no_budgets_scope_are_told_apart(report_runs: ReportRuns) -> None:
    missing = "accounting.budgets.read"
    scopes = [s for s in [*DEFAULT_SCOPES, *granular_scopes()] if s != missing]
    with report_runs("--tenants", "1", "--records", "4", scopes=scopes) as run:
        result = run.reports(run.tenants[0], ("budget_summary",))
        why = metadata(result, "budget_summary")[NOTHING]
        assert missing in why and "oauth-etl authorize" in why
        assert "has no budget" not in why


@pytest.mark.timeout(600)
def test_an_organisation_without_a_budget_is_said_to_have_none(
    report_runs: ReportRuns, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox always keeps two budgets: its Budgets answer is emptied on the way in.
    read = organisation.organisation_record

    def without_budgets(*args: Any) -> dict[str, Any]:
        return {**read(*args), "Budgets": []}

    monkeypatch.setattr(organisation, "organisation_record", without_budgets)
    with report_runs("--tenants", "1", "--records", "4") as run:
        result = run.reports(run.tenants[0], ("budget_summary",))
        found = metadata(result, "budget_summary")
        assert found[NOTHING] == "the organisation has no budget"
        assert found["reports/landed"] == 0


@pytest.mark.timeout(600)
def test_a_report_without_its_scope_fails_naming_it_and_the_others_land(
    report_runs: ReportRuns,
) -> None:
    missing = "accounting.reports.profitandloss.read"
    scopes = [s for s in [*DEFAULT_SCOPES, *granular_scopes()] if s != missing]
    with report_runs("--tenants", "1", "--records", "8", scopes=scopes) as run:
        tenant = run.tenants[0]
        result = run.reports(tenant, ("profit_and_loss", "balance_sheet"), succeed=False)
        assert not result.success
        (failure,) = [
            e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE
        ]
        assert failure.step_key == "xero_reports__profit_and_loss"
        message = str(failure.event_specific_data.error.message)  # type: ignore[union-attr]
        assert missing in message and "oauth-etl authorize" in message
        assert "Traceback" not in message.splitlines()[0]
        sheet = metadata(result, "balance_sheet")
        assert sheet["reports/landed"] > 0 and sheet["reports/failed"] == 0
        assert reports.readings(run.store, "balance_sheet", tenant).num_rows > 0

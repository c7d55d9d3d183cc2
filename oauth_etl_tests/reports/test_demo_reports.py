"""The demo's statements: a 12-month P&L and a balance sheet per tenant, next to the check
results, read from the monthly views the reports job wrote, on a sandbox started with the
demo's flags (an app created in 2026: no Journals)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

import pytest

from oauth_etl.defs.tables.assets import TABLE_ASSETS, table_key
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.tables import reports
from oauth_etl.xero.scopes import DEFAULT_SCOPES
from oauth_etl_dev.demo_reports import SANDBOX_ARGS, run_reports
from oauth_etl_tests.reports.conftest import months_before
from oauth_etl_tests.reports.dagster_run import ReportRun, ReportRuns
from oauth_etl_tests.sandbox.books import first, open_session
from oauth_etl_tests.sandbox.conftest import Xero

CHECKS = (
    "aged_receivables_match_balance_sheet",
    "balance_sheet_balances",
    "bank_summary_matches_balance_sheet",
    "net_profit_matches_earnings",
    "trial_balance_balances",
)


@pytest.fixture
def run(report_runs: ReportRuns) -> Iterator[ReportRun]:
    flags = ("--tenants", "1", "--records", "40", "--scopes", "new-app", *SANDBOX_ARGS)
    with report_runs(*flags, scopes=list(DEFAULT_SCOPES)) as ready:
        # The accounts table, as the demo's extraction lands it before the reports (the aged
        # check finds the receivables account there).
        landed = [a for a in ENDPOINT_ASSETS if a.key.path[-1] == "accounts"]
        tabled = [a for a in TABLE_ASSETS if table_key("accounts") in a.keys]
        ready.materialize(ready.tenants[0], [k for a in [*landed, *tabled] for k in a.keys])
        yield ready


def columns(header: str, labels: list[str], line: str) -> list[str]:
    """The line's figures under each label of the header (right-aligned columns)."""
    ends = [header.index(label) + len(label) for label in labels]
    starts = [4 + 30, *ends[:-1]]
    return [line[a:b].strip() for a, b in zip(starts, ends, strict=True)]


def span_net_profit(run: ReportRun, start: dt.date, end: dt.date) -> Decimal:
    """Xero's (the sandbox's) Net Profit over the whole span, one period, over HTTP."""
    sandbox = run.sandbox
    xero = Xero(sandbox.url, sandbox.client_id, sandbox.client_secret)
    try:
        session = open_session(xero, "offline_access accounting.reports.profitandloss.read")
        answer = session.report(
            "ProfitAndLoss", run.tenants[0], fromDate=start.isoformat(), toDate=end.isoformat()
        )
        return first(answer, "Net Profit")
    finally:
        xero.close()


@pytest.mark.timeout(600)
def test_the_demo_prints_twelve_months_and_passed_month_ends_next_to_every_check(
    run: ReportRun,
) -> None:
    lines: list[str] = []
    today = dt.datetime.now(dt.UTC).date()  # the sandbox's today (its books end there)
    failed = run_reports(run.resources, run.instance, run.tenants, lines.append, today)
    text = "\n".join(lines)
    assert failed == [], text
    # Exactly the 12 complete months before this one, each with figures.
    months = months_before(today, 12)
    labels = [f"{m.start:%Y-%m}" for m in months]
    title = next(i for i, line in enumerate(lines) if "Profit and loss, the 12 months" in line)
    header, body = lines[title + 1], []
    for line in lines[title + 2 :]:
        if not line.startswith("    "):  # the next title
            break
        body.append(line)
    assert "no books in" not in text
    assert header.split() == labels, text
    grid = [columns(header, labels, line) for line in body]
    for i, month in enumerate(labels):
        assert any(row[i] not in ("", "0.00") for row in grid), f"{month} has no figure\n{text}"
    (net,) = [line for line in body if line.strip().startswith("Net Profit")]
    printed = [Decimal(v.replace(",", "")) for v in columns(header, labels, net)]
    # Each month's figure is the table's Net Profit for that month ...
    rows = reports.readings(run.store, "profit_and_loss", run.tenants[0]).to_pylist()
    table = {
        r["period_end"]: Decimal(r["value"])
        for r in rows
        if r["label"] == "Net Profit" and r["basis"] == "accrual"
        if r["tracking_category_id"] is None
    }
    assert printed == [table[m.end] for m in months]
    # ... and the 12 add up to Xero's Net Profit for the whole span, asked in one call.
    assert sum(printed, Decimal(0)) == span_net_profit(run, months[0].start, months[-1].end)
    # The balance sheet at the last two month-ends that have passed, none to come.
    sheet = next(i for i, line in enumerate(lines) if "Balance sheet at the last two" in line)
    ends = [m.end for m in months[-2:]]
    assert lines[sheet + 1].split() == [e.isoformat() for e in ends] and ends[-1] < today
    assert "Total Assets" in text and "Total Equity" in text
    # Every check the demo's scopes allow, passed; the journals one skipped, saying why.
    ok = sorted(line.split()[1].rstrip(":") for line in lines if line.startswith("    ok "))
    assert ok == sorted(CHECKS) and "FAIL" not in text, text
    (skipped,) = [line for line in lines if line.startswith("    skip ")]
    assert "journals_match_trial_balance" in skipped and "accounting.journals.read" in skipped
    assert "report calls" in text

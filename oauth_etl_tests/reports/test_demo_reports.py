"""The demo's statements: a 12-month P&L and a balance sheet per tenant, next to the check
results, read from the monthly views the reports job wrote."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from oauth_etl.tables import reports
from oauth_etl_dev.demo_reports import run_reports
from oauth_etl_tests.reports.dagster_run import (
    ReportRun,
    ReportRuns,
)


@pytest.fixture
def run(report_runs: ReportRuns) -> Iterator[ReportRun]:
    with report_runs("--tenants", "1", "--records", "12") as ready:
        yield ready


@pytest.mark.timeout(600)
def test_the_demo_prints_each_statement_next_to_its_checks(run: ReportRun) -> None:
    lines: list[str] = []
    failed = run_reports(run.resources, run.instance, run.tenants, lines.append)
    assert failed == [], "\n".join(lines)
    text = "\n".join(lines)
    assert "Profit and loss, last 12 months" in text and "Balance sheet" in text
    (net,) = [line for line in lines if line.strip().startswith("Net Profit")]
    # The printed figures are the table's latest Net Profit, month by month.
    rows = reports.readings(run.store, "profit_and_loss", run.tenants[0]).to_pylist()
    expected = sorted(
        (r["period_end"], Decimal(r["value"]))
        for r in rows
        if r["label"] == "Net Profit"
        and r["basis"] == "accrual"
        and r["tracking_category_id"] is None
    )
    assert net.split()[2:] == [f"{v:,.2f}" for _, v in expected][-12:]
    checks = [line for line in lines if line.startswith("    ok ")]
    assert len(checks) == 5 and not any("FAIL" in line for line in lines)
    assert "Total Assets" in text and "Total Equity" in text

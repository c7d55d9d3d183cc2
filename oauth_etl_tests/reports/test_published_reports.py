"""The published returns (GST/BAS) through Dagster (`dg.materialize`): sandbox Xero over
HTTP, Azurite.

An Australian organisation's list lands, each activity statement it names lands and its
Fields are the long table's rows, each to the cent of Xero's own answer; once locked, a
return is read once more, then not again; a US organisation has none: nothing lands,
the run succeeds and the metadata says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from oauth_etl.defs.reports.assets import NOTHING
from oauth_etl.tables import reports
from oauth_etl.tables.reports_layout import monthly_name
from oauth_etl.tables.writes import open_table
from oauth_etl.xero.reports.model import ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.read import read_report
from oauth_etl_tests.reports.dagster_run import (
    ReportRun,
    ReportRuns,
    metadata,
)

PUBLISHED = ("published_reports", "published_report")


@pytest.fixture
def run(report_runs: ReportRuns) -> Iterator[ReportRun]:
    with report_runs("--tenants", "2", "--records", "12") as ready:
        yield ready


def _fields(run: ReportRun, tenant: str, report_id: str) -> dict[str, Decimal]:
    """One return's Fields as Xero answers them, read again over HTTP."""
    request = ReportRequest("published_report", (("ReportID", report_id),), ())
    reading = read_report(run.resources["xero"].client(), Organisation(tenant), request)
    (answer,) = reading.document["Reports"]
    return {f["FieldID"]: Decimal(f["Value"]) for f in answer["Fields"]}


@pytest.mark.timeout(600)
def test_published_returns_land_as_fields_and_a_us_tenant_has_none(run: ReportRun) -> None:
    us, au = run.tenants[0], run.tenants[1]  # sandbox tenants: US, then AU
    result = run.reports(au, PUBLISHED)
    listed, got = metadata(result, "published_reports"), metadata(result, "published_report")
    assert listed["reports/landed"] == 1 and listed["reports/failed"] == 0
    assert got["reports/failed"] == 0
    assert got["reports/landed"] == got["reports/requests_planned"] > 0
    rows = reports.readings(run.store, "published_report", au).to_pylist()
    ids = {r["report_id"] for r in rows}
    assert len(ids) == got["reports/landed"]
    assert {r["row_type"] for r in rows} == {"Field"}
    for report_id in ids:
        mine = [r for r in rows if r["report_id"] == report_id]
        assert {r["column"]: r["value"] for r in mine} == _fields(run, au, report_id)
        # A quarter, as the list gave it (getReportsList's ReportDate).
        (period,) = {(r["period_start"], r["period_end"]) for r in mine}
        assert (period[1] - period[0]).days > 85 and period[0].day == 1
    assert open_table(run.store, monthly_name("published_report")) is None  # no months
    assert open_table(run.store, "report_published_reports") is None  # the list: landed only

    # Locked after the last return: each is read once more, now final, then never again.
    last_end = max(r["period_end"] for r in rows)
    run.sandbox.post("/_sandbox/lock", {"tenant_id": au, "period_lock_date": str(last_end)})
    final = metadata(run.reports(au, PUBLISHED), "published_report")
    assert final["reports/landed"] == final["periods_final_read"] == len(ids)
    again = metadata(run.reports(au, PUBLISHED), "published_report")
    assert again["reports/landed"] == 0 and again["reports/calls"] == 0
    assert again["periods_final_already_read"] == len(ids) and NOTHING not in again

    none = run.reports(us, PUBLISHED)
    assert metadata(none, "published_reports")["reports/landed"] == 1  # an empty list
    us_got = metadata(none, "published_report")
    assert us_got["reports/landed"] == us_got["reports/calls"] == 0
    assert "empty" in us_got[NOTHING]
    assert reports.readings(run.store, "published_report", us).num_rows == 0

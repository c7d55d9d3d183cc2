"""The reports within a tenant's day through Dagster (sandbox Xero with a day limit, Azurite).

With many contacts and a small day the financial statements still land whole and the
aged reports share what is left, the cut requests read first the next day.
"""

from __future__ import annotations

import re

import pytest

from oauth_etl_tests.reports.dagster_run import UNPACED_MINUTE, ReportRuns, metadata

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

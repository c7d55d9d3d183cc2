"""Report scopes: `authorize` asks by default for every report scope a new app may have,
`report_access` says which reports a grant allows (and agrees with Xero's refusals), and
the doctor's "report scopes" check says so with the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from oauth_etl.doctor.reports import check_report_scopes, granted_scope
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.reports.catalog import BROAD_SCOPE, REPORTS, granular_scopes
from oauth_etl.xero.reports.errors import ReportScopeMissing
from oauth_etl.xero.reports.model import ReportRequest
from oauth_etl.xero.reports.read import read_report
from oauth_etl.xero.scopes import DEFAULT_SCOPES, NEW_APP_SCOPES, report_access, scopes_for
from oauth_etl_dev.sandbox import grants
from oauth_etl_tests.oauth.test_sandbox_integration import authorized
from oauth_etl_tests.xero.reports.conftest import Books, BooksFactory
from oauth_etl_tests.xero.reports.test_read import TODAY, last_months, pl_request
from oauth_etl_tests.xero.test_sandbox import unpaced


def test_defaults_ask_for_every_report_scope_a_new_app_has() -> None:
    assert set(granular_scopes()) <= set(DEFAULT_SCOPES)
    assert set(granular_scopes()) <= NEW_APP_SCOPES
    assert set(granular_scopes()) <= grants.NEW_APP_SCOPES  # the sandbox's new app too
    assert BROAD_SCOPE not in DEFAULT_SCOPES  # not offered to apps created from March 2026
    # The selection of endpoints alone does not pull the reports in.
    assert not set(granular_scopes()) & set(scopes_for([]).scopes)


def test_report_access_by_grant() -> None:
    names = tuple(r.name for r in REPORTS)
    assert report_access([BROAD_SCOPE]).allowed == names  # an older app
    assert report_access(DEFAULT_SCOPES).missing == {}
    some = report_access(["accounting.reports.profitandloss.read", "accounting.reports.aged.read"])
    assert some.allowed == (
        "profit_and_loss", "aged_receivables_by_contact", "aged_payables_by_contact"
    )  # fmt: skip
    assert some.missing["trial_balance"] == "accounting.reports.trialbalance.read"
    assert some.missing["published_report"] == "accounting.reports.taxreports.read"
    assert set(some.allowed) | set(some.missing) == set(names)
    assert "oauth-etl authorize" in some.fix()
    unknown = report_access([])
    assert not unknown.known and unknown.allowed == names


def test_the_doctor_check() -> None:
    assert check_report_scopes(" ".join(DEFAULT_SCOPES)).status == "ok"
    assert check_report_scopes(BROAD_SCOPE).status == "ok"
    partial = check_report_scopes("offline_access accounting.reports.balancesheet.read")
    assert partial.status == "warn" and partial.name == "report scopes"
    assert "trial_balance needs accounting.reports.trialbalance.read" in partial.detail
    assert "oauth-etl authorize" in partial.fix
    none = check_report_scopes("offline_access accounting.settings.read")
    assert none.status == "fail" and "no report is readable" in none.detail
    assert check_report_scopes("").status == "warn"


def test_a_new_app_authorized_with_the_defaults_reads_every_report(
    books_factory: BooksFactory, tmp_path: Path
) -> None:
    books = books_factory(" ".join(DEFAULT_SCOPES), scopes=grants.NEW_APP_SCOPES)
    manager = authorized(books.xero, tmp_path / "token.json")  # oauth-etl authorize's path
    assert check_report_scopes(granted_scope(manager)).status == "ok"
    with XeroClient(books.xero.url, BearerAuth(manager), budget_factory=unpaced) as client:
        tenant = books.by_country("NZ")
        org = books.org(tenant)
        end = last_months(TODAY, 1)[0]
        for request in (
            pl_request((end,)),
            ReportRequest("trial_balance", (("date", end.end.isoformat()),), (end,)),
            ReportRequest("published_reports", (), ()),
        ):
            assert read_report(client, org, request).document["Status"] == "OK"


@pytest.mark.parametrize("granted", ["accounting.reports.trialbalance.read", BROAD_SCOPE])
def test_report_access_predicts_xeros_refusals(books: Books, granted: str) -> None:
    client = books.client_with(f"offline_access accounting.settings.read {granted}")
    tenant = books.by_country("NZ")
    org = books.org(tenant)
    end = last_months(TODAY, 1)[0]
    requests = {
        "profit_and_loss": pl_request((end,)),
        "trial_balance": ReportRequest("trial_balance", (), (end,)),
        "balance_sheet": ReportRequest("balance_sheet", (), (end,)),
        "published_reports": ReportRequest("published_reports", (), ()),
    }
    access = report_access(granted.split())
    for name, request in requests.items():
        if name in access.allowed:
            read_report(client, org, request)
        else:
            with pytest.raises(ReportScopeMissing) as refused:
                read_report(client, org, request)
            assert access.missing[name] in str(refused.value)

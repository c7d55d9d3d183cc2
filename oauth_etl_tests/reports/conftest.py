"""Report answers from the sandbox over HTTP, flattened into cells by the client's parser,
for the checks' and tables' tests."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest

from oauth_etl.tables.report_checks import Posting
from oauth_etl.tables.reports_layout import PROFIT_AND_LOSS_TYPES
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl.xero.reports.catalog import report as report_spec
from oauth_etl.xero.reports.model import Basis, Period, Reading, ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.parse import cells
from oauth_etl_dev.sandbox import SandboxConfig, SandboxServer
from oauth_etl_tests.reports.dagster_run import report_runs  # noqa: F401 - a fixture
from oauth_etl_tests.sandbox.books import REPORTS_SCOPE, Session, journals, open_session
from oauth_etl_tests.sandbox.conftest import CLIENT_ID, CLIENT_SECRET, Xero
from oauth_etl_tests.tables.conftest import relay, store  # noqa: F401 - the fixtures

XERO_NAMES = {
    "profit_and_loss": "ProfitAndLoss",
    "balance_sheet": "BalanceSheet",
    "trial_balance": "TrialBalance",
    "bank_summary": "BankSummary",
    "aged_receivables_by_contact": "AgedReceivablesByContact",
}


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def months_before(today: dt.date, count: int) -> list[Period]:
    """The `count` whole months before `today`'s month, oldest first."""
    out = []
    first = today.replace(day=1)
    for _ in range(count):
        last = first - dt.timedelta(days=1)
        first = last.replace(day=1)
        out.append(Period(first, last))
    return sorted(out)


@dataclass
class Books:
    """One sandbox organisation's reports, read over HTTP as the client reads them."""

    session: Session
    tenant: str

    @property
    def xero(self) -> Xero:
        return self.session.xero

    def read(self, report: str, params: dict[str, str], periods: list[Period]) -> Reading:
        request = ReportRequest(report, tuple(params.items()), tuple(periods), Basis.ACCRUAL)
        answer = self.xero.api(
            f"Reports/{XERO_NAMES[report]}", self.session.token, self.tenant, params
        )
        assert answer.status_code == 200, answer.text
        moment = dt.datetime.now(dt.UTC)
        found = cells(answer.json(), report_spec(report), request, self.organisation(), moment)
        return Reading(request, tuple(found))

    def organisation(self) -> Organisation:
        found = self.xero.api("Organisation", self.session.token, self.tenant).json()
        accounts = self.xero.records(self.tenant, "Accounts")
        return Organisation.from_records(self.tenant, found["Organisations"][0], accounts)

    def profit_and_loss(self, months: list[Period]) -> Reading:
        newest = months[-1]
        params = {
            "fromDate": newest.start.isoformat(),
            "toDate": newest.end.isoformat(),
            "periods": str(len(months) - 1),
            "timeframe": "MONTH",
        }
        return self.read("profit_and_loss", params, months)

    def balance_sheet(self, months: list[Period]) -> Reading:
        ends = [Period(m.end, m.end) for m in months]
        params = {"date": ends[-1].end.isoformat(), "periods": str(len(ends) - 1)}
        params["timeframe"] = "MONTH"
        return self.read("balance_sheet", params, ends)

    def trial_balance(self, day: dt.date) -> Reading:
        return self.read("trial_balance", {"date": day.isoformat()}, [Period(day, day)])

    def bank_summary(self, month: Period) -> Reading:
        params = {"fromDate": month.start.isoformat(), "toDate": month.end.isoformat()}
        return self.read("bank_summary", params, [month])

    def aged_receivables(self, day: dt.date) -> list[Reading]:
        return [
            self.read(
                "aged_receivables_by_contact",
                {"contactId": contact["ContactID"], "date": day.isoformat()},
                [Period(day, day)],
            )
            for contact in self.xero.records(self.tenant, "Contacts")
        ]

    def system_account(self, system: str) -> str:
        (found,) = [
            a["AccountID"].lower()
            for a in self.xero.records(self.tenant, "Accounts")
            if a.get("SystemAccount") == system
        ]
        return str(found)

    def postings(self) -> list[Posting]:
        out = []
        for journal in journals(self.session, self.tenant):
            day = parse_xero_datetime(journal["JournalDate"]).date()
            for line in journal["JournalLines"]:
                out.append(
                    Posting(
                        day,
                        line["AccountID"],
                        Decimal(str(line["NetAmount"])),
                        line["AccountType"] in PROFIT_AND_LOSS_TYPES,
                    )
                )
        return out

    def skew(self, report: str, row: str, delta: str = "0.01") -> None:
        self.xero.admin(
            "skew", {"tenant_id": self.tenant, "report": report, "row": row, "delta": delta}
        )

    def unskew(self) -> None:
        self.xero.http.delete("/_sandbox/skew").raise_for_status()

    def today(self) -> dt.date:
        return self.session.today()


@pytest.fixture(scope="module")
def sandbox_books() -> Iterator[Session]:
    """An in-process sandbox (two organisations: a US one, an Australian one whose
    financial year ends in June), read with the broad reports scope."""
    server = SandboxServer(
        SandboxConfig(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, records=40, tenants=2, limits=False
        )
    )
    xero = Xero(server.start(), CLIENT_ID, CLIENT_SECRET)
    try:
        yield open_session(xero, REPORTS_SCOPE)
    finally:
        xero.close()
        server.stop()


@pytest.fixture(params=[0, 1], ids=["us", "au"])
def books(sandbox_books: Session, request: pytest.FixtureRequest) -> Iterator[Books]:
    found = Books(sandbox_books, sandbox_books.tenants[request.param])
    try:
        yield found
    finally:
        found.unskew()

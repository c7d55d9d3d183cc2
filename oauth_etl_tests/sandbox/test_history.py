"""`--history-days`: the generated books span that many days before today, and the
organisation, its ledger, its budget and its lock dates follow (the demo's 12-month P&L
needs more than the default 180 days). Over real HTTP against an in-process sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner

from oauth_etl_dev.sandbox import SandboxConfig, cli
from oauth_etl_tests.sandbox.books import (
    ZERO,
    Session,
    day_of,
    first,
    journals,
    month_ends,
    open_session,
    sales,
)
from oauth_etl_tests.sandbox.conftest import XeroFactory

HISTORY = 400
DATED = ("Invoices", "BankTransactions", "CreditNotes", "ManualJournals", "Payments")


@pytest.fixture
def books(xero_factory: XeroFactory) -> Session:
    return open_session(xero_factory(records=60, tenants=1, history_days=HISTORY))


def test_the_flag_sets_the_history_and_refuses_an_empty_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served: list[SandboxConfig] = []
    monkeypatch.setattr(cli, "serve_forever", lambda config, announce: served.append(config))
    runner = CliRunner()
    assert runner.invoke(cli.sandbox_command, ["--client-id", "x"]).exit_code == 0
    flagged = runner.invoke(cli.sandbox_command, ["--client-id", "x", "--history-days", "400"])
    assert flagged.exit_code == 0 and [c.history_days for c in served] == [180, 400]
    refused = runner.invoke(cli.sandbox_command, ["--client-id", "x", "--history-days", "0"])
    assert refused.exit_code == 2 and "--history-days" in refused.output


def test_the_books_span_the_history_asked_for(books: Session) -> None:
    tenant, today = books.tenants[0], books.today()
    start = today - timedelta(days=HISTORY)
    org = books.xero.records(tenant, "Organisation")[0]
    created = day_of(org["CreatedDateUTC"])
    assert created == start - timedelta(days=30)  # before every document
    dated = [day_of(r["Date"]) for name in DATED for r in books.xero.records(tenant, name)]
    # Spread over the whole history: from its first weeks (a document's date is up to ten
    # days before its stamp) to its last.
    assert created < min(dated) <= start + timedelta(days=20) and max(dated) <= today
    assert max(dated) >= today - timedelta(days=20)
    # The ledger follows the documents: journals from the history's first weeks.
    posted = [day_of(j["JournalDate"]) for j in journals(books, tenant)]
    assert created < min(posted) <= start + timedelta(days=30)
    # Each of the 12 complete months before this one has books, which the P&L reports: its
    # income equals what the records say (the posting rules restated in books.py).
    for end in month_ends(today, 12):
        month = {"fromDate": end.replace(day=1).isoformat(), "toDate": end.isoformat()}
        income = first(books.report("ProfitAndLoss", tenant, **month), "Total Income")
        assert income == sales(books.xero, tenant, end, end.replace(day=1)), end
        assert income != ZERO, end
    # The budget covers every month of the books and the next five.
    (budget, *_) = books.xero.records(tenant, "Budgets")
    periods = [b["Period"] for b in budget["BudgetLines"][0]["BudgetBalances"]]
    ahead = today.year * 12 + today.month - 1 + 5
    assert periods[0] <= f"{start:%Y-%m}" and periods[-1] == f"{ahead // 12}-{ahead % 12 + 1:02d}"


def test_a_lock_date_a_year_back_holds_in_the_longer_history(books: Session) -> None:
    tenant, today = books.tenants[0], books.today()
    locked = month_ends(today, 12)[0]  # the oldest of the 12 months: before it, locked
    books.xero.admin("lock", {"tenant_id": tenant, "period_lock_date": locked.isoformat()})
    change = {"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert"}
    inside = books.xero.http.post("/_sandbox/change", json={**change, "date": locked.isoformat()})
    assert inside.status_code == 400 and inside.json()["Type"] == "ValidationException"
    after = (locked + timedelta(days=1)).isoformat()
    assert books.xero.http.post("/_sandbox/change", json={**change, "date": after}).is_success

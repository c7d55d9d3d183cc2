"""Lock dates and back-dated changes in the sandbox's books (issue #21, part 5): a
back-dated change moves the figures of a closed month until the month is locked, then
Xero refuses it. Over real HTTP against in-process sandboxes."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from oauth_etl_tests.sandbox.books import (
    ZERO,
    Session,
    day_of,
    dec,
    first,
    journals,
    month_ends,
    open_session,
    sales,
)
from oauth_etl_tests.sandbox.conftest import XeroFactory


@pytest.fixture
def books(xero_factory: XeroFactory) -> Session:
    return open_session(xero_factory(records=60, tenants=2))


def test_a_back_dated_insert_changes_a_closed_month_until_it_is_locked(books: Session) -> None:
    tenant = books.tenants[0]
    closed = month_ends(books.today(), 3)[0]  # a month two months back: closed, not locked
    span = {"fromDate": closed.replace(day=1).isoformat(), "toDate": closed.isoformat()}
    income = first(books.report("ProfitAndLoss", tenant, **span), "Total Income")
    mid = closed.replace(day=15).isoformat()
    made = books.xero.admin(
        "change", {"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": mid}
    )
    invoice = next(
        i for i in books.xero.records(tenant, "Invoices") if i["InvoiceID"] == made["id"]
    )
    assert invoice["Status"] == "AUTHORISED" and day_of(invoice["Date"]).isoformat() == mid
    later = first(books.report("ProfitAndLoss", tenant, **span), "Total Income")
    expected = dec(invoice["SubTotal"]) if invoice["Type"] == "ACCREC" else ZERO
    assert later - income == expected
    assert later == sales(books.xero, tenant, closed, closed.replace(day=1))  # from the records
    journal = journals(books, tenant)[-1]
    assert journal["SourceID"] == made["id"] and day_of(journal["JournalDate"]).isoformat() == mid
    # Lock the month: a change dated in it is refused as Xero refuses it, a later one is not.
    lock = books.xero.admin("lock", {"tenant_id": tenant, "period_lock_date": closed.isoformat()})
    assert lock["period_lock_date"] == closed.isoformat()
    org = books.xero.records(tenant, "Organisation")[0]
    assert day_of(org["PeriodLockDate"]) == closed
    refused = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": mid},
    )
    assert refused.status_code == 400 and refused.json()["Type"] == "ValidationException"
    on_lock = books.xero.http.post(
        "/_sandbox/change",
        json={
            "tenant_id": tenant,
            "endpoint": "ManualJournals",
            "kind": "insert",
            "date": closed.isoformat(),
        },
    )
    assert on_lock.status_code == 400  # on the lock date itself: refused too
    edit = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "archive", "id": made["id"]},
    )
    assert edit.status_code == 400  # a document in the locked period cannot change
    assert first(books.report("ProfitAndLoss", tenant, **span), "Total Income") == later
    after_lock = (closed + timedelta(days=1)).isoformat()
    books.xero.admin(
        "mutate",
        {"tenant_id": tenant, "endpoint": "BankTransactions", "add": 1, "date": after_lock},
    )
    eoy = books.xero.admin(
        "lock", {"tenant_id": tenant, "end_of_year_lock_date": after_lock, "period_lock_date": None}
    )
    assert eoy == {
        "tenant_id": tenant,
        "period_lock_date": None,
        "end_of_year_lock_date": after_lock,
    }
    refused = books.xero.http.post(
        "/_sandbox/change",
        json={"tenant_id": tenant, "endpoint": "Invoices", "kind": "insert", "date": after_lock},
    )
    assert refused.status_code == 400


def test_back_dating_a_document_moves_its_journal(books: Session) -> None:
    tenant = books.tenants[0]
    txns = books.xero.records(tenant, "BankTransactions")
    pos = next(n for n, t in enumerate(txns) if t["Status"] == "AUTHORISED")
    target = month_ends(books.today(), 4)[0].replace(day=10)
    before = len(journals(books, tenant))
    books.xero.admin(
        "change",
        {
            "tenant_id": tenant,
            "endpoint": "BankTransactions",
            "kind": "backdate",
            "position": pos,
            "date": target.isoformat(),
        },
    )
    new = journals(books, tenant)[before:]
    assert len(new) == 2  # the reversal of the old posting, then the new one
    assert day_of(new[1]["JournalDate"]) == target
    old_lines = {li["AccountCode"]: dec(li["NetAmount"]) for li in new[0]["JournalLines"]}
    new_lines = {li["AccountCode"]: dec(li["NetAmount"]) for li in new[1]["JournalLines"]}
    assert {k: -v for k, v in old_lines.items()} == new_lines


def test_lock_date_flags_reach_every_organisation(
    xero_factory: XeroFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oauth_etl_tests.sandbox.test_limits import _config_of

    config = _config_of(
        monkeypatch, "--period-lock-date", "2026-03-31", "--end-of-year-lock-date", "2025-12-31"
    )
    assert (config.period_lock_date, config.end_of_year_lock_date) == ("2026-03-31", "2025-12-31")
    xero = xero_factory(records=5, tenants=2, period_lock_date="2026-03-31")
    for tenant in open_session(xero).tenants:
        org = xero.records(tenant, "Organisation")[0]
        assert day_of(org["PeriodLockDate"]) == date(2026, 3, 31)
        assert "EndOfYearLockDate" not in org
        refused = xero.http.post(
            "/_sandbox/mutate",
            json={"tenant_id": tenant, "endpoint": "Invoices", "add": 1, "date": "2026-03-31"},
        )
        assert refused.status_code == 400 and refused.json()["Type"] == "ValidationException"
    with pytest.raises(ValueError):
        xero_factory(period_lock_date="31/03/2026")


def test_the_edit_mode_leaves_locked_documents_alone(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=30, tenants=1, period_lock_date="2100-01-01")
    s = open_session(xero)
    xero.admin("edits", {"per_call": 5, "kinds": ["edit", "archive"], "endpoints": ["Invoices"]})
    before = xero.records(s.tenants[0], "Invoices")
    response = xero.api("Invoices", s.token, s.tenants[0], {"page": 1})
    assert response.status_code == 200
    assert xero.records(s.tenants[0], "Invoices") == before  # every invoice is locked

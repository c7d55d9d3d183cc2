"""Which scopes `authorize` asks for, and which endpoints a granted set leaves unreadable."""

from __future__ import annotations

from dataclasses import replace

from oauth_etl.xero.catalog import CATALOG, endpoint
from oauth_etl.xero.scopes import (
    CLASSIC_EXPENSES_SCOPE,
    DEFAULT_SCOPES,
    JOURNALS_SCOPE,
    NEW_APP_SCOPES,
    OFFLINE_ACCESS,
    missing_scope_message,
    scopes_for,
    selection,
    unreadable,
)


def test_defaults_are_granular_and_leave_journals_out() -> None:
    plan = scopes_for()
    assert plan.scopes[0] == OFFLINE_ACCESS
    assert JOURNALS_SCOPE not in plan.scopes and CLASSIC_EXPENSES_SCOPE not in plan.scopes
    assert "accounting.transactions.read" not in plan.scopes  # not offered to 2026 apps
    assert set(plan.scopes) <= NEW_APP_SCOPES  # a new app may ask for every one of them
    assert "journals" in plan.left_out and "Advanced" in plan.left_out["journals"]
    for needed in ("accounting.invoices.read", "accounting.settings.read"):
        assert needed in plan.scopes
    assert plan.text() == " ".join(plan.scopes)


def test_opt_in_adds_journals() -> None:
    plan = scopes_for(with_journals=True)
    assert JOURNALS_SCOPE in plan.scopes and "journals" not in plan.left_out


def test_the_selection_decides() -> None:
    plan = scopes_for([endpoint("contacts"), endpoint("contact_groups")])
    assert plan.scopes == (OFFLINE_ACCESS, "accounting.contacts.read")
    assert scopes_for([endpoint("journals")]).scopes == (OFFLINE_ACCESS,)


def test_classic_expenses_scope_is_opt_in() -> None:
    # The catalog row as the granular split has it (ExpenseClaims: classicexpenses).
    claims = replace(endpoint("expense_claims"), granular_scopes=(CLASSIC_EXPENSES_SCOPE,))
    plan = scopes_for([claims, endpoint("invoices")])
    assert CLASSIC_EXPENSES_SCOPE not in plan.scopes
    assert "classicexpenses" in plan.left_out["expense_claims"]
    opted = scopes_for([claims], with_classic_expenses=True)
    assert opted.scopes == (OFFLINE_ACCESS, CLASSIC_EXPENSES_SCOPE)


def test_unreadable_names_the_missing_scope() -> None:
    granted = scopes_for().scopes
    missing = unreadable(granted)
    assert missing["journals"] == JOURNALS_SCOPE
    readable = {e.name for e in CATALOG} - set(missing)
    assert "invoices" in readable and "accounts" in readable
    # A broad scope of an older app counts as well as the granular one.
    assert "invoices" not in unreadable(["accounting.transactions.read"], [endpoint("invoices")])


def test_authorize_defaults_are_the_new_app_plan_and_the_daily_selection() -> None:
    # Written out in authorize.py (token commands do not load the catalog): kept equal here.
    assert scopes_for().scopes == DEFAULT_SCOPES
    assert {e.name for e in selection()} == {e.name for e in CATALOG if not e.opt_in}
    assert {e.name for e in selection(with_journals=True)} - {e.name for e in selection()} == {
        "journals"
    }


def test_a_missing_scope_names_the_flag_that_asks_for_it() -> None:
    granted = scopes_for().scopes
    message = missing_scope_message(endpoint("receipts"), granted)
    assert message is not None and CLASSIC_EXPENSES_SCOPE in message
    assert "oauth-etl authorize --with-classic-expenses" in message
    assert missing_scope_message(endpoint("invoices"), granted) is None
    assert missing_scope_message(endpoint("journals"), []) is None  # grant unknown: no claim

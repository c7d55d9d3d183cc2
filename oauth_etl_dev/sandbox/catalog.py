"""What the sandbox serves: every accounting endpoint as data (paging, dates, scopes)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from oauth_etl_dev.sandbox.report_scopes import REPORT_SCOPES


class Paging(StrEnum):
    """How an endpoint pages, as Xero does it (spec v16.1.0)."""

    PAGE_SIZE = "page+pageSize"  # page & pageSize, response has `pagination`
    PAGE = "page"  # page only, 100 per page, no `pagination`
    OFFSET = "offset"  # Journals: JournalNumber > offset, 100 per call
    NONE = "none"  # one call returns everything


# Broad scopes (apps before March 2026) and granular ones (apps after): a token needs
# any one scope of its endpoint's set. Read-write scopes imply read access.
_TX = ("accounting.transactions", "accounting.transactions.read")
_INVOICES = ("accounting.invoices", "accounting.invoices.read")
_PAYMENTS = ("accounting.payments", "accounting.payments.read")
_BANK = ("accounting.banktransactions", "accounting.banktransactions.read")
_MANUAL = ("accounting.manualjournals", "accounting.manualjournals.read")
_CONTACTS = ("accounting.contacts", "accounting.contacts.read")
_SETTINGS = ("accounting.settings", "accounting.settings.read")
# developer.xero.com/faq/granular-scopes: ExpenseClaims and Receipts belong to classicexpenses.
_EXPENSES = ("accounting.classicexpenses", "accounting.classicexpenses.read")


@dataclass(frozen=True)
class Endpoint:
    name: str  # path segment under /api.xro/2.0/
    record_key: str  # the list's key in the envelope
    id_field: str
    paging: Paging
    date_field: str | None  # the field If-Modified-Since compares with
    modified_since: bool  # honours If-Modified-Since
    where_order: bool  # honours `where` and `order`
    sized: bool  # has --records N records (else a small fixed set)
    fixed_count: int = 0

    @property
    def scopes(self) -> frozenset[str]:
        return SCOPES_BY_ENDPOINT[self.name]


def _e(
    name: str,
    id_field: str,
    paging: Paging,
    *,
    date_field: str | None = "UpdatedDateUTC",
    modified_since: bool = True,
    where_order: bool = True,
    fixed: int = 0,
    record_key: str | None = None,
) -> Endpoint:
    return Endpoint(
        name=name,
        record_key=record_key or name,
        id_field=id_field,
        paging=paging,
        date_field=date_field,
        modified_since=modified_since,
        where_order=where_order,
        sized=fixed == 0,
        fixed_count=fixed,
    )


_P, _PG, _OFF, _NO = Paging.PAGE_SIZE, Paging.PAGE, Paging.OFFSET, Paging.NONE

ENDPOINTS: dict[str, Endpoint] = {
    e.name: e
    for e in (
        _e("Invoices", "InvoiceID", _P),
        _e("Contacts", "ContactID", _P),
        _e("BankTransactions", "BankTransactionID", _P),
        _e("CreditNotes", "CreditNoteID", _P),
        _e("ManualJournals", "ManualJournalID", _P),
        _e("Payments", "PaymentID", _P),
        _e("Overpayments", "OverpaymentID", _P),
        _e("Prepayments", "PrepaymentID", _P),
        _e("PurchaseOrders", "PurchaseOrderID", _P),
        _e("Quotes", "QuoteID", _PG),
        _e("LinkedTransactions", "LinkedTransactionID", _PG, modified_since=False),
        _e("Journals", "JournalID", _OFF, date_field="CreatedDateUTC", where_order=False),
        _e("Accounts", "AccountID", _NO, fixed=20),
        _e("Items", "ItemID", _NO, fixed=12),
        _e("Users", "UserID", _NO, fixed=5),
        _e("BankTransfers", "BankTransferID", _NO, date_field="CreatedDateUTC", fixed=15),
        _e("BatchPayments", "BatchPaymentID", _NO, fixed=8),
        _e("ExpenseClaims", "ExpenseClaimID", _NO, fixed=8),
        _e("Receipts", "ReceiptID", _NO, fixed=10),
        _e("TaxRates", "TaxType", _NO, date_field=None, modified_since=False, fixed=6),
        _e("Currencies", "Code", _NO, date_field=None, modified_since=False, fixed=3),
        _e(
            "TrackingCategories",
            "TrackingCategoryID",
            _NO,
            date_field=None,
            modified_since=False,
            fixed=2,
        ),
        _e("ContactGroups", "ContactGroupID", _NO, date_field=None, modified_since=False, fixed=4),
        _e(
            "RepeatingInvoices",
            "RepeatingInvoiceID",
            _NO,
            date_field=None,
            modified_since=False,
            fixed=5,
        ),
        _e(
            "Organisation",
            "OrganisationID",
            _NO,
            date_field="CreatedDateUTC",
            modified_since=False,
            where_order=False,
            fixed=1,
            record_key="Organisations",
        ),
        _e(
            "BrandingThemes",
            "BrandingThemeID",
            _NO,
            date_field="CreatedDateUTC",
            modified_since=False,
            where_order=False,
            fixed=2,
        ),
        _e("Budgets", "BudgetID", _NO, modified_since=False, where_order=False, fixed=2),
    )
}

# Endpoint -> the scopes any one of which grants read access. Broad scopes follow the
# spec's `security` blocks; granular ones follow Xero's 2026 split (invoices family,
# payments family, bank transactions, manual journals, classic expenses).
SCOPES_BY_ENDPOINT: dict[str, frozenset[str]] = {
    "Invoices": frozenset(_TX + _INVOICES),
    "CreditNotes": frozenset(_TX + _INVOICES),
    "Quotes": frozenset(_TX + _INVOICES),
    "PurchaseOrders": frozenset(_TX + _INVOICES),
    "RepeatingInvoices": frozenset(_TX + _INVOICES),
    "LinkedTransactions": frozenset(_TX + _INVOICES),
    "ExpenseClaims": frozenset(_TX + _EXPENSES),
    "Receipts": frozenset(_TX + _EXPENSES),
    "Payments": frozenset(_TX + _PAYMENTS),
    "BatchPayments": frozenset(_TX + _PAYMENTS),
    "Overpayments": frozenset(_TX + _PAYMENTS),
    "Prepayments": frozenset(_TX + _PAYMENTS),
    "BankTransactions": frozenset(_TX + _BANK),
    "BankTransfers": frozenset(_TX + _BANK),
    "ManualJournals": frozenset(_TX + _MANUAL),
    "Journals": frozenset({"accounting.journals.read"}),
    "Contacts": frozenset(_CONTACTS),
    "ContactGroups": frozenset(_CONTACTS),
    "Accounts": frozenset(_SETTINGS),
    "Items": frozenset(_SETTINGS),
    "Users": frozenset(_SETTINGS),
    "TaxRates": frozenset(_SETTINGS),
    "Currencies": frozenset(_SETTINGS),
    "TrackingCategories": frozenset(_SETTINGS),
    "Organisation": frozenset(_SETTINGS),
    "BrandingThemes": frozenset(_SETTINGS),
    "Budgets": frozenset({"accounting.budgets.read"}),
}

IDENTITY_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})

# Every scope the sandbox knows; an app may be limited to a subset with --scopes.
ALL_SCOPES: frozenset[str] = IDENTITY_SCOPES.union(*SCOPES_BY_ENDPOINT.values()) | {
    "accounting.attachments",
    "accounting.attachments.read",
    *REPORT_SCOPES,  # the reports' scopes (sandbox/report_scopes.py)
}

# Case-insensitive lookup: Xero's paths are not case sensitive.
ENDPOINTS_BY_LOWER: dict[str, Endpoint] = {name.lower(): e for name, e in ENDPOINTS.items()}

assert set(SCOPES_BY_ENDPOINT) == set(ENDPOINTS)

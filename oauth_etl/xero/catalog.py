"""The Xero Accounting endpoints we extract, as data.

Every row was checked against the official OpenAPI spec (xero_accounting.yaml,
v16.1.0): path, envelope key, id field, date fields, which query parameters and
headers the GET accepts (`page`, `pageSize`, `offset`, `order`,
`If-Modified-Since`), and the broad scope in its `security` block. Granular
scopes (mandatory for apps created from 2 March 2026) are not in the spec; they
follow Xero's published mapping (invoices / payments / banktransactions /
manualjournals / classicexpenses replace `accounting.transactions.read`; settings,
contacts, journals and budgets scopes were never broad and stay as they are).

`opt_in` marks endpoints a connection often cannot read (Xero's pricing pages; the
classic-expenses rule is reported by third parties): Journals need Xero's paid Advanced tier
and `accounting.journals.read`; ExpenseClaims and Receipts need
`accounting.classicexpenses.read`, which several sources say new apps cannot get. They are
read only when selected explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType


class Paging(Enum):
    """How an endpoint pages its results."""

    PAGE_SIZE = "page+pageSize"  # page=N&pageSize<=1000, response carries `pagination`
    PAGE = "page"  # page=N, 100 per page, stop at a short page
    OFFSET = "offset"  # Journals: offset=<last JournalNumber>, 100 per call
    NONE = "none"  # one call returns everything


UPDATED = "UpdatedDateUTC"
CREATED = "CreatedDateUTC"

# Order that makes a partial (stopped-early) paged extraction resumable: with
# pages sorted by UpdatedDateUTC ascending, everything before the last record
# yielded has been yielded, so its UpdatedDateUTC is a safe If-Modified-Since.
ORDER_BY_UPDATED = "UpdatedDateUTC ASC"

_TRANSACTIONS = ("accounting.transactions.read",)
_SETTINGS = ("accounting.settings.read",)
_CONTACTS = ("accounting.contacts.read",)
_JOURNALS = ("accounting.journals.read",)
_BUDGETS = ("accounting.budgets.read",)
_G_INVOICES = ("accounting.invoices.read",)
_G_PAYMENTS = ("accounting.payments.read",)
_G_BANK = ("accounting.banktransactions.read",)
_G_MANUAL = ("accounting.manualjournals.read",)
_G_EXPENSES = ("accounting.classicexpenses.read",)


@dataclass(frozen=True)
class Endpoint:
    """One Accounting API collection and how to read it."""

    name: str  # snake case, the asset name: "bank_transactions"
    path: str  # under /api.xro/2.0/: "BankTransactions"
    record_key: str  # envelope key holding the records
    id_field: str | None  # the record's stable id (None: no single id, e.g. TaxRates)
    paging: Paging
    cursor_field: str | None  # UpdatedDateUTC | CreatedDateUTC | None
    incremental: bool  # honours If-Modified-Since; False: full snapshot each run
    broad_scopes: tuple[str, ...]
    granular_scopes: tuple[str, ...]
    description: str
    offset_field: str | None = None  # Journals: JournalNumber
    order: str | None = None  # `order` query value, where the endpoint accepts one
    advanced_tier: bool = False  # needs Xero's paid Advanced tier (Journals since 2026)
    opt_in: bool = False  # read only when selected explicitly (see the module doc)
    # Extra query parameters; excluded from hash so the dataclass stays hashable.
    params: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        # A read-only view: catalog rows are shared and must not be mutated.
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def asset_key(self) -> tuple[str, str]:
        return ("xero", self.name)

    @property
    def scopes(self) -> tuple[str, ...]:
        """Every scope that may grant read access, broad first."""
        return self.broad_scopes + tuple(
            s for s in self.granular_scopes if s not in self.broad_scopes
        )


def _paged(
    name: str,
    path: str,
    id_field: str,
    granular: tuple[str, ...],
    description: str,
    *,
    paging: Paging = Paging.PAGE_SIZE,
    incremental: bool = True,
    order: str | None = ORDER_BY_UPDATED,
    broad: tuple[str, ...] = _TRANSACTIONS,
    params: Mapping[str, str] | None = None,
) -> Endpoint:
    # A paged endpoint is a one-call endpoint plus its paging and order.
    one_call = _single(
        name,
        path,
        id_field,
        broad,
        granular,
        description,
        cursor_field=UPDATED,
        incremental=incremental,
        params=params,
    )
    return replace(one_call, paging=paging, order=order)


def _single(
    name: str,
    path: str,
    id_field: str | None,
    broad: tuple[str, ...],
    granular: tuple[str, ...],
    description: str,
    *,
    cursor_field: str | None,
    incremental: bool,
    record_key: str | None = None,
    params: Mapping[str, str] | None = None,
    opt_in: bool = False,
) -> Endpoint:
    return Endpoint(
        name=name,
        path=path,
        record_key=record_key or path,
        id_field=id_field,
        paging=Paging.NONE,
        opt_in=opt_in,
        cursor_field=cursor_field,
        incremental=incremental,
        broad_scopes=broad,
        granular_scopes=granular,
        description=description,
        params=params or {},
    )


CATALOG: tuple[Endpoint, ...] = (
    # page + pageSize (max 1000), pagination in the envelope, If-Modified-Since, order.
    _paged(
        "invoices",
        "Invoices",
        "InvoiceID",
        _G_INVOICES,
        "Sales invoices and bills (ACCREC/ACCPAY) with line items, archived included.",
        params={"includeArchived": "true"},
    ),
    _paged(
        "contacts",
        "Contacts",
        "ContactID",
        _CONTACTS,
        "Customers and suppliers, archived included.",
        broad=_CONTACTS,
        params={"includeArchived": "true"},
    ),
    _paged(
        "bank_transactions",
        "BankTransactions",
        "BankTransactionID",
        _G_BANK,
        "Spend and receive money transactions on bank accounts.",
    ),
    _paged("credit_notes", "CreditNotes", "CreditNoteID", _G_INVOICES, "Credit notes."),
    _paged("manual_journals", "ManualJournals", "ManualJournalID", _G_MANUAL, "Manual journals."),
    _paged("payments", "Payments", "PaymentID", _G_PAYMENTS, "Payments against invoices etc."),
    _paged("overpayments", "Overpayments", "OverpaymentID", _G_PAYMENTS, "Overpayments."),
    _paged("prepayments", "Prepayments", "PrepaymentID", _G_PAYMENTS, "Prepayments."),
    _paged("purchase_orders", "PurchaseOrders", "PurchaseOrderID", _G_INVOICES, "Purchase orders."),
    # page only (100 per page, no pagination object in the spec).
    _paged("quotes", "Quotes", "QuoteID", _G_INVOICES, "Quotes.", paging=Paging.PAGE),
    _paged(
        "linked_transactions",
        "LinkedTransactions",
        "LinkedTransactionID",
        _G_INVOICES,
        "Billable expenses linked to sales invoices (no If-Modified-Since: full snapshot).",
        paging=Paging.PAGE,
        incremental=False,
        order=None,  # the spec accepts no `order` here
    ),
    # offset by JournalNumber, 100 per call, oldest first; journals are immutable.
    Endpoint(
        name="journals",
        path="Journals",
        record_key="Journals",
        id_field="JournalID",
        paging=Paging.OFFSET,
        cursor_field=CREATED,
        incremental=True,
        offset_field="JournalNumber",
        broad_scopes=_JOURNALS,
        granular_scopes=_JOURNALS,
        advanced_tier=True,
        opt_in=True,
        description="The general ledger: every posting, immutable, in JournalNumber order.",
    ),
    # One call, If-Modified-Since.
    _single(
        "accounts",
        "Accounts",
        "AccountID",
        _SETTINGS,
        _SETTINGS,
        "Chart of accounts.",
        cursor_field=UPDATED,
        incremental=True,
    ),
    _single(
        "items",
        "Items",
        "ItemID",
        _SETTINGS,
        _SETTINGS,
        "Products and services.",
        cursor_field=UPDATED,
        incremental=True,
    ),
    _single(
        "users",
        "Users",
        "UserID",
        _SETTINGS,
        _SETTINGS,
        "Users of the organisation.",
        cursor_field=UPDATED,
        incremental=True,
    ),
    _single(
        "bank_transfers",
        "BankTransfers",
        "BankTransferID",
        _TRANSACTIONS,
        _G_BANK,
        "Transfers between bank accounts, deleted ones included (CreatedDateUTC only).",
        cursor_field=CREATED,
        incremental=True,
        # Spec v16 getBankTransfers: includeDeleted ("status of DELETED will be included"),
        # so a soft delete lands as a new version rather than vanishing.
        params={"includeDeleted": "true"},
    ),
    _single(
        "batch_payments",
        "BatchPayments",
        "BatchPaymentID",
        _TRANSACTIONS,
        _G_PAYMENTS,
        "Batch payments.",
        cursor_field=UPDATED,
        incremental=True,
    ),
    _single(
        "expense_claims",
        "ExpenseClaims",
        "ExpenseClaimID",
        _TRANSACTIONS,
        _G_EXPENSES,  # developer.xero.com/faq/granular-scopes: classicexpenses
        "Expense claims (deprecated by Xero; older organisations only).",
        cursor_field=UPDATED,
        incremental=True,
        opt_in=True,
    ),
    _single(
        "receipts",
        "Receipts",
        "ReceiptID",
        _TRANSACTIONS,
        _G_EXPENSES,
        "Draft expense claim receipts (deprecated by Xero; older organisations only).",
        cursor_field=UPDATED,
        incremental=True,
        opt_in=True,
    ),
    # One call, no If-Modified-Since: a full snapshot every run.
    _single(
        "tax_rates",
        "TaxRates",
        "TaxType",  # the rate's code (e.g. OUTPUT2), unique within an organisation
        _SETTINGS,
        _SETTINGS,
        "Tax rates.",
        cursor_field=None,
        incremental=False,
    ),
    _single(
        "currencies",
        "Currencies",
        "Code",
        _SETTINGS,
        _SETTINGS,
        "Currencies enabled for the organisation.",
        cursor_field=None,
        incremental=False,
    ),
    _single(
        "tracking_categories",
        "TrackingCategories",
        "TrackingCategoryID",
        _SETTINGS,
        _SETTINGS,
        "Tracking categories and their options, archived included.",
        cursor_field=None,
        incremental=False,
        params={"includeArchived": "true"},
    ),
    _single(
        "contact_groups",
        "ContactGroups",
        "ContactGroupID",
        _CONTACTS,
        _CONTACTS,
        "Contact groups.",
        cursor_field=None,
        incremental=False,
    ),
    _single(
        "repeating_invoices",
        "RepeatingInvoices",
        "RepeatingInvoiceID",
        _TRANSACTIONS,
        _G_INVOICES,
        "Repeating invoice templates.",
        cursor_field=None,
        incremental=False,
    ),
    _single(
        "organisation",
        "Organisation",
        "OrganisationID",
        _SETTINGS,
        _SETTINGS,
        "The organisation itself (one record).",
        cursor_field=CREATED,
        incremental=False,
        record_key="Organisations",  # path is singular, envelope key plural
    ),
    _single(
        "branding_themes",
        "BrandingThemes",
        "BrandingThemeID",
        _SETTINGS,
        _SETTINGS,
        "Branding themes.",
        cursor_field=CREATED,
        incremental=False,
    ),
    _single(
        "budgets",
        "Budgets",
        "BudgetID",
        _BUDGETS,
        _BUDGETS,
        "Budgets (overall and tracking).",
        cursor_field=UPDATED,
        incremental=False,
    ),
)

_BY_NAME: dict[str, Endpoint] = {e.name: e for e in CATALOG}
_BY_PATH: dict[str, Endpoint] = {e.path.lower(): e for e in CATALOG}


def endpoint(name: str) -> Endpoint:
    """The catalog row for an asset name ("bank_transactions") or API path ("BankTransactions")."""
    found = _BY_NAME.get(name) or _BY_PATH.get(name.lower())
    if found is None:
        known = ", ".join(sorted(_BY_NAME))
        raise KeyError(f"unknown Xero endpoint {name!r}; known endpoints: {known}")
    return found

"""Deterministic Xero-shaped records per tenant and endpoint, generated lazily.

Every record is built from `(seed, tenant, endpoint, index)` only, so runs with the
same seed serve the same IDs and values; cross references (an invoice's contact, a
payment's invoice) use the same derivation and need no generation order. Records are
serialized once (orjson) so a page is a join of ready-made bytes.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from oauth_etl.sandbox.catalog import ENDPOINTS, Endpoint

Record = dict[str, Any]
DAY_MS = 86_400_000
HISTORY_DAYS = 180  # generated dates spread over this many days before the anchor


def stable_uuid(*parts: object) -> str:
    """A version-4-shaped UUID derived from `parts` (fast, deterministic)."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest, version=4))


def net_date(ms: int) -> str:
    """Xero's .NET JSON date with a zero offset: `/Date(1539993600000+0000)/`."""
    return f"/Date({ms}+0000)/"


def day_string(ms: int) -> str:
    return datetime.fromtimestamp(ms // DAY_MS * 86_400, UTC).strftime("%Y-%m-%dT00:00:00")


def day_ms(ms: int) -> int:
    return ms // DAY_MS * DAY_MS


def parse_net_date(value: str) -> int | None:
    """Milliseconds of `/Date(ms[+-hhmm])/`, None if `value` is not such a date."""
    if not value.startswith("/Date(") or not value.endswith(")/"):
        return None
    inner = value[6:-2]
    for sign in "+-":
        cut = inner.find(sign, 1)
        if cut > 0:
            inner = inner[:cut]
            break
    try:
        return int(inner)
    except ValueError:
        return None


FIRST = ("Ava", "Liam", "Mia", "Noah", "Zoe", "Kai", "Isla", "Leo", "Ruby", "Finn", "Ella", "Max")
LAST = ("Smith", "Ngata", "Brown", "Wilson", "Taylor", "Patel", "Chen", "Walker", "King", "Reid")
TRADES = ("Plumbing", "Bakery", "Design", "Cafe", "Hardware", "Garden", "Print", "Motors")
WORDS = ("Consulting", "Hosting", "Widgets", "Support", "Travel", "Catering", "Licences", "Repairs")

# (Code, Name, Type, Class, TaxType, SystemAccount)
ACCOUNTS: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("090", "Business Bank Account", "BANK", "ASSET", "NONE", None),
    ("091", "Business Savings Account", "BANK", "ASSET", "NONE", None),
    ("200", "Sales", "REVENUE", "REVENUE", "OUTPUT", None),
    ("260", "Other Revenue", "REVENUE", "REVENUE", "OUTPUT", None),
    ("270", "Interest Income", "REVENUE", "REVENUE", "NONE", None),
    ("310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", "INPUT", None),
    ("400", "Advertising", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("404", "Bank Fees", "OVERHEADS", "EXPENSE", "NONE", None),
    ("408", "Cleaning", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("412", "Consulting & Accounting", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("420", "Entertainment", "OVERHEADS", "EXPENSE", "NONE", None),
    ("429", "General Expenses", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("433", "Insurance", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("445", "Light, Power, Heating", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("469", "Rent", "OVERHEADS", "EXPENSE", "INPUT", None),
    ("610", "Accounts Receivable", "CURRENT", "ASSET", "NONE", "DEBTORS"),
    ("800", "Accounts Payable", "CURRLIAB", "LIABILITY", "NONE", "CREDITORS"),
    ("820", "Sales Tax", "CURRLIAB", "LIABILITY", "NONE", "GST"),
    ("960", "Retained Earnings", "EQUITY", "EQUITY", "NONE", "RETAINEDEARNINGS"),
    ("970", "Owner A Funds Introduced", "EQUITY", "EQUITY", "NONE", None),
)
SALES_CODES = ("200", "260")
EXPENSE_CODES = ("310", "400", "408", "412", "429", "433", "445", "469")
BANK_CODES = ("090", "091")
# (Name, TaxType, Rate)
TAX_RATES = (
    ("Tax Exempt", "NONE", 0.0),
    ("Tax on Sales", "OUTPUT", 15.0),
    ("Tax on Purchases", "INPUT", 15.0),
    ("Zero Rated", "ZERORATED", 0.0),
    ("Sales Tax on Imports", "GSTONIMPORTS", 15.0),
    ("Reduced Rate", "REDUCED", 5.0),
)
CURRENCIES = (
    ("USD", "United States Dollar"),
    ("NZD", "New Zealand Dollar"),
    ("AUD", "Australian Dollar"),
)


def money(rng: random.Random, low: int = 100, high: int = 500_000) -> float:
    return rng.randint(low, high) / 100


@dataclass
class TenantContext:
    """What records of one tenant refer to: IDs derived, never looked up."""

    seed: int
    index: int
    tenant_id: str
    name: str
    anchor_ms: int  # generated dates lie before this instant
    records: int

    def uid(self, endpoint: str, i: int) -> str:
        return stable_uuid(self.seed, self.tenant_id, endpoint, i)

    def account(self, code: str) -> Record:
        for acc in ACCOUNTS:
            if acc[0] == code:
                i = ACCOUNTS.index(acc)
                return {"AccountID": self.uid("Accounts", i), "Code": code, "Name": acc[1]}
        raise KeyError(code)

    def contact_ref(self, rng: random.Random) -> Record:
        j = rng.randrange(max(self.records, 1))
        return {
            "ContactID": self.uid("Contacts", j),
            "Name": contact_name(j),
            "HasValidationErrors": False,
        }

    def user_ref(self, j: int) -> Record:
        return {
            "UserID": self.uid("Users", j),
            "FirstName": FIRST[j % len(FIRST)],
            "LastName": LAST[j % len(LAST)],
            "EmailAddress": f"{FIRST[j % len(FIRST)].lower()}@example.com",
        }

    def line_items(self, rng: random.Random, codes: tuple[str, ...], key: str) -> list[Record]:
        lines = []
        for n in range(rng.randint(1, 3)):
            qty = float(rng.randint(1, 20))
            unit = money(rng, 100, 50_000)
            amount = round(qty * unit, 2)
            lines.append(
                {
                    "LineItemID": stable_uuid(self.seed, self.tenant_id, key, n),
                    "Description": f"{rng.choice(WORDS)} {rng.choice(TRADES).lower()}",
                    "Quantity": qty,
                    "UnitAmount": unit,
                    "AccountCode": rng.choice(codes),
                    "TaxType": "NONE",
                    "TaxAmount": 0.0,
                    "LineAmount": amount,
                    "Tracking": [],
                }
            )
        return lines


def contact_name(j: int) -> str:
    return (
        f"{FIRST[j % len(FIRST)]} {LAST[(j // len(FIRST)) % len(LAST)]} {TRADES[j % len(TRADES)]}"
    )


def _totals(lines: list[Record]) -> Record:
    sub = round(sum(line["LineAmount"] for line in lines), 2)
    return {"SubTotal": sub, "TotalTax": 0.0, "Total": sub}


Generator = Callable[[TenantContext, random.Random, int, int], Record]


def _dates(stamp: int, rng: random.Random) -> tuple[int, int]:
    """A document date a few days before the stamp, and a due date after it."""
    date = day_ms(stamp) - rng.randint(0, 10) * DAY_MS
    return date, date + rng.choice((7, 14, 20, 30)) * DAY_MS


def gen_invoice(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = "ACCREC" if rng.random() < 0.7 else "ACCPAY"
    iid = c.uid("Invoices", i)
    lines = c.line_items(rng, SALES_CODES if kind == "ACCREC" else EXPENSE_CODES, iid)
    totals = _totals(lines)
    status = rng.choice(
        ("AUTHORISED", "AUTHORISED", "PAID", "PAID", "DRAFT", "SUBMITTED", "VOIDED")
    )
    paid = totals["Total"] if status == "PAID" else 0.0
    date, due = _dates(stamp, rng)
    return {
        "Type": kind,
        "InvoiceID": iid,
        "InvoiceNumber": f"INV-{i + 1:05d}",
        "Reference": f"Ref {rng.randint(1000, 9999)}",
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": round(totals["Total"] - paid, 2),
        "AmountPaid": paid,
        "AmountCredited": 0.0,
        "CurrencyRate": 1.0,
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
        "SentToContact": rng.random() < 0.5,
        "Contact": c.contact_ref(rng),
        "DateString": day_string(date),
        "Date": net_date(date),
        "DueDateString": day_string(due),
        "DueDate": net_date(due),
        "Status": status,
        "LineAmountTypes": "Exclusive",
        "LineItems": lines,
        **totals,
        "UpdatedDateUTC": net_date(stamp),
        "CurrencyCode": "USD",
    }


def gen_contact(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
    city = rng.choice(("Wellington", "Auckland", "Palo Alto", "Sydney", "Denver"))
    return {
        "ContactID": c.uid("Contacts", i),
        "ContactNumber": f"C{i + 1:06d}",
        "AccountNumber": f"A{i + 1:06d}",
        "ContactStatus": "ACTIVE" if rng.random() < 0.95 else "ARCHIVED",
        "Name": contact_name(i),
        "FirstName": first,
        "LastName": last,
        "EmailAddress": f"{first.lower()}.{last.lower()}{i}@example.com",
        "BankAccountDetails": "",
        "TaxNumber": "",
        "Addresses": [
            {
                "AddressType": "POBOX",
                "AddressLine1": f"PO Box {rng.randint(1, 9999)}",
                "City": city,
                "Region": "",
                "PostalCode": f"{rng.randint(1000, 99999)}",
                "Country": "",
            },
            {"AddressType": "STREET", "City": "", "Region": "", "PostalCode": "", "Country": ""},
        ],
        "Phones": [
            {
                "PhoneType": "DEFAULT",
                "PhoneNumber": f"{rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
                "PhoneAreaCode": f"{rng.randint(10, 99)}",
                "PhoneCountryCode": "",
            },
            {"PhoneType": "DDI", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
            {"PhoneType": "FAX", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
            {"PhoneType": "MOBILE", "PhoneNumber": "", "PhoneAreaCode": "", "PhoneCountryCode": ""},
        ],
        "UpdatedDateUTC": net_date(stamp),
        "ContactGroups": [],
        "IsSupplier": rng.random() < 0.4,
        "IsCustomer": rng.random() < 0.8,
        "DefaultCurrency": "USD",
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }


def gen_bank_transaction(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = rng.choice(("RECEIVE", "SPEND", "SPEND"))
    bid = c.uid("BankTransactions", i)
    lines = c.line_items(rng, SALES_CODES if kind == "RECEIVE" else EXPENSE_CODES, bid)
    date, _ = _dates(stamp, rng)
    return {
        "BankTransactionID": bid,
        "Type": kind,
        "Contact": c.contact_ref(rng),
        "LineItems": lines,
        "BankAccount": c.account(rng.choice(BANK_CODES)),
        "IsReconciled": rng.random() < 0.6,
        "Date": net_date(date),
        "DateString": day_string(date),
        "Reference": f"Txn {rng.randint(1000, 9999)}",
        "CurrencyCode": "USD",
        "CurrencyRate": 1.0,
        "Status": "AUTHORISED" if rng.random() < 0.95 else "DELETED",
        "LineAmountTypes": "Inclusive",
        **_totals(lines),
        "UpdatedDateUTC": net_date(stamp),
        "HasAttachments": False,
    }


def gen_credit_note(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = rng.choice(("ACCRECCREDIT", "ACCPAYCREDIT"))
    cid = c.uid("CreditNotes", i)
    lines = c.line_items(rng, SALES_CODES if kind == "ACCRECCREDIT" else EXPENSE_CODES, cid)
    totals = _totals(lines)
    date, due = _dates(stamp, rng)
    return {
        "CreditNoteID": cid,
        "CreditNoteNumber": f"CN-{i + 1:05d}",
        "Type": kind,
        "Contact": c.contact_ref(rng),
        "Date": net_date(date),
        "DueDate": net_date(due),
        "Status": rng.choice(("AUTHORISED", "PAID", "DRAFT")),
        "LineAmountTypes": "Exclusive",
        "LineItems": lines,
        **totals,
        "UpdatedDateUTC": net_date(stamp),
        "CurrencyCode": "USD",
        "CurrencyRate": 1.0,
        "Reference": f"Credit {rng.randint(100, 999)}",
        "SentToContact": False,
        "RemainingCredit": totals["Total"],
        "Allocations": [],
        "Payments": [],
        "HasAttachments": False,
        "HasErrors": False,
    }


def gen_manual_journal(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    amount = money(rng)
    debit, credit = rng.choice(EXPENSE_CODES), rng.choice(("800", "970", "090"))
    date, _ = _dates(stamp, rng)
    return {
        "ManualJournalID": c.uid("ManualJournals", i),
        "Narration": f"Accrual {i + 1}: {rng.choice(WORDS).lower()}",
        "Date": net_date(date),
        "LineAmountTypes": "NoTax",
        "Status": rng.choice(("POSTED", "POSTED", "DRAFT")),
        "ShowOnCashBasisReports": True,
        "HasAttachments": False,
        "UpdatedDateUTC": net_date(stamp),
        "JournalLines": [
            {
                "LineAmount": amount,
                "AccountCode": debit,
                "Description": "Debit",
                "TaxType": "NONE",
                "TaxAmount": 0.0,
                "IsBlank": False,
                "Tracking": [],
            },
            {
                "LineAmount": -amount,
                "AccountCode": credit,
                "Description": "Credit",
                "TaxType": "NONE",
                "TaxAmount": 0.0,
                "IsBlank": False,
                "Tracking": [],
            },
        ],
    }


def gen_payment(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    j = rng.randrange(max(c.records, 1))
    date, _ = _dates(stamp, rng)
    amount = money(rng)
    return {
        "PaymentID": c.uid("Payments", i),
        "Date": net_date(date),
        "BankAmount": amount,
        "Amount": amount,
        "Reference": f"Pay {rng.randint(1000, 9999)}",
        "CurrencyRate": 1.0,
        "PaymentType": rng.choice(("ACCRECPAYMENT", "ACCPAYPAYMENT")),
        "Status": "AUTHORISED" if rng.random() < 0.95 else "DELETED",
        "UpdatedDateUTC": net_date(stamp),
        "HasAccount": True,
        "IsReconciled": rng.random() < 0.5,
        "HasValidationErrors": False,
        "Account": {"AccountID": c.uid("Accounts", 0), "Code": "090"},
        "Invoice": {
            "InvoiceID": c.uid("Invoices", j),
            "InvoiceNumber": f"INV-{j + 1:05d}",
            "Type": "ACCREC",
            "Contact": c.contact_ref(rng),
            "Payments": [],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "HasErrors": False,
            "IsDiscounted": False,
            "LineItems": [],
        },
    }


def _prepay_like(kind_key: str, types: tuple[str, ...]) -> Generator:
    def gen(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
        rid = c.uid(kind_key, i)
        lines = c.line_items(rng, SALES_CODES, rid)
        totals = _totals(lines)
        date, _ = _dates(stamp, rng)
        id_field = "OverpaymentID" if kind_key == "Overpayments" else "PrepaymentID"
        return {
            id_field: rid,
            "Type": rng.choice(types),
            "Contact": c.contact_ref(rng),
            "Date": net_date(date),
            "Status": rng.choice(("AUTHORISED", "PAID")),
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            **totals,
            "UpdatedDateUTC": net_date(stamp),
            "CurrencyCode": "USD",
            "CurrencyRate": 1.0,
            "RemainingCredit": totals["Total"],
            "Allocations": [],
            "Payments": [],
            "HasAttachments": False,
        }

    return gen


def gen_purchase_order(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    pid = c.uid("PurchaseOrders", i)
    lines = c.line_items(rng, EXPENSE_CODES, pid)
    date, due = _dates(stamp, rng)
    return {
        "PurchaseOrderID": pid,
        "PurchaseOrderNumber": f"PO-{i + 1:05d}",
        "Contact": c.contact_ref(rng),
        "LineItems": lines,
        "Date": net_date(date),
        "DateString": day_string(date),
        "DeliveryDate": net_date(due),
        "DeliveryDateString": day_string(due),
        "LineAmountTypes": "Exclusive",
        "Reference": f"Order {rng.randint(100, 999)}",
        "CurrencyCode": "USD",
        "CurrencyRate": 1.0,
        "Status": rng.choice(("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED")),
        "SentToContact": False,
        "DeliveryAddress": "23 Main Street, Central City",
        "AttentionTo": FIRST[i % len(FIRST)],
        "Telephone": "0800 1234 5678",
        "DeliveryInstructions": "",
        **_totals(lines),
        "TotalDiscount": 0.0,
        "HasAttachments": False,
        "UpdatedDateUTC": net_date(stamp),
    }


def gen_quote(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    qid = c.uid("Quotes", i)
    lines = c.line_items(rng, SALES_CODES, qid)
    date, expiry = _dates(stamp, rng)
    return {
        "QuoteID": qid,
        "QuoteNumber": f"QU-{i + 1:05d}",
        "Reference": f"Quote {rng.randint(100, 999)}",
        "Terms": "Valid for 30 days",
        "Contact": c.contact_ref(rng),
        "LineItems": lines,
        "Date": net_date(date),
        "DateString": day_string(date),
        "ExpiryDate": net_date(expiry),
        "ExpiryDateString": day_string(expiry),
        "Status": rng.choice(("DRAFT", "SENT", "ACCEPTED", "DECLINED", "INVOICED")),
        "CurrencyCode": "USD",
        "CurrencyRate": 1.0,
        **_totals(lines),
        "TotalDiscount": 0.0,
        "Title": "Quote",
        "Summary": rng.choice(WORDS),
        "UpdatedDateUTC": net_date(stamp),
        "LineAmountTypes": "EXCLUSIVE",
    }


def gen_linked_transaction(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    j = rng.randrange(max(c.records, 1))
    return {
        "LinkedTransactionID": c.uid("LinkedTransactions", i),
        "SourceTransactionID": c.uid("Invoices", j),
        "SourceLineItemID": stable_uuid(c.seed, c.tenant_id, c.uid("Invoices", j), 0),
        "ContactID": c.contact_ref(rng)["ContactID"],
        "TargetTransactionID": c.uid("Invoices", (j + 1) % max(c.records, 1)),
        "TargetLineItemID": stable_uuid(c.seed, c.tenant_id, "target", i),
        "Status": rng.choice(("APPROVED", "DRAFT", "BILLED")),
        "Type": "BILLABLEEXPENSE",
        "UpdatedDateUTC": net_date(stamp),
        "SourceTransactionTypeCode": rng.choice(("ACCPAY", "SPEND")),
    }


def gen_journal(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    amount = money(rng)
    source = rng.choice(("ACCREC", "ACCPAY", "CASHREC", "CASHPAID", "ACCRECPAYMENT"))
    revenue, debtors = ACCOUNTS[2], ACCOUNTS[15]
    jid = c.uid("Journals", i)
    return {
        "JournalID": jid,
        "JournalDate": net_date(day_ms(stamp)),
        "JournalNumber": i + 1,
        "CreatedDateUTC": net_date(stamp),
        "Reference": f"Journal {i + 1}",
        "SourceID": c.uid("Invoices", rng.randrange(max(c.records, 1))),
        "SourceType": source,
        "JournalLines": [
            {
                "JournalLineID": stable_uuid(c.seed, c.tenant_id, jid, n),
                "AccountID": c.uid("Accounts", ACCOUNTS.index(acc)),
                "AccountCode": acc[0],
                "AccountType": acc[2],
                "AccountName": acc[1],
                "Description": "",
                "NetAmount": sign * amount,
                "GrossAmount": sign * amount,
                "TaxAmount": 0.0,
                "TaxType": "NONE",
                "TaxName": "No Tax",
                "TrackingCategories": [],
            }
            for n, (acc, sign) in enumerate(((debtors, 1), (revenue, -1)))
        ],
    }


def gen_account(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    code, name, kind, klass, tax, system = ACCOUNTS[i % len(ACCOUNTS)]
    rec: Record = {
        "AccountID": c.uid("Accounts", i),
        "Code": code if i < len(ACCOUNTS) else f"{code}{i}",
        "Name": name if i < len(ACCOUNTS) else f"{name} {i}",
        "Status": "ACTIVE",
        "Type": kind,
        "TaxType": tax,
        "Class": klass,
        "EnablePaymentsToAccount": False,
        "ShowInExpenseClaims": kind == "OVERHEADS",
        "ReportingCode": klass[:3],
        "ReportingCodeName": klass.title(),
        "HasAttachments": False,
        "UpdatedDateUTC": net_date(stamp),
        "AddToWatchlist": False,
    }
    if kind == "BANK":
        rec.update(BankAccountNumber=f"0123{i:04d}", BankAccountType="BANK", CurrencyCode="USD")
    if system:
        rec["SystemAccount"] = system
    return rec


def gen_item(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    word = WORDS[i % len(WORDS)]
    price = money(rng, 500, 20_000)
    return {
        "ItemID": c.uid("Items", i),
        "Code": f"ITEM-{i + 1:03d}",
        "Name": f"{word} package {i + 1}",
        "Description": f"{word} for small business",
        "PurchaseDescription": f"{word} (purchase)",
        "PurchaseDetails": {
            "UnitPrice": round(price * 0.6, 2),
            "AccountCode": "310",
            "TaxType": "INPUT",
        },
        "SalesDetails": {"UnitPrice": price, "AccountCode": "200", "TaxType": "OUTPUT"},
        "IsTrackedAsInventory": False,
        "IsSold": True,
        "IsPurchased": True,
        "UpdatedDateUTC": net_date(stamp),
    }


def gen_user(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    return {
        **c.user_ref(i),
        "UpdatedDateUTC": net_date(stamp),
        "IsSubscriber": i == 0,
        "OrganisationRole": ("FINANCIALADVISER", "STANDARD", "READONLY", "INVOICEONLY")[i % 4]
        if i
        else "STANDARD",
    }


def gen_bank_transfer(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    date, _ = _dates(stamp, rng)
    return {
        "BankTransferID": c.uid("BankTransfers", i),
        "FromBankAccount": c.account("090"),
        "ToBankAccount": c.account("091"),
        "Amount": money(rng),
        "Date": net_date(date),
        "DateString": day_string(date),
        "CurrencyRate": 1.0,
        "FromBankTransactionID": stable_uuid(c.seed, c.tenant_id, "transfer-from", i),
        "ToBankTransactionID": stable_uuid(c.seed, c.tenant_id, "transfer-to", i),
        "FromIsReconciled": False,
        "ToIsReconciled": False,
        "Reference": f"Transfer {i + 1}",
        "HasAttachments": False,
        "CreatedDateUTC": net_date(stamp),
    }


def gen_batch_payment(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    date, _ = _dates(stamp, rng)
    payments: list[Record] = []
    for n in range(rng.randint(1, 3)):
        j = rng.randrange(max(c.records, 1))
        payments.append(
            {
                "PaymentID": stable_uuid(c.seed, c.tenant_id, "batch-payment", i, n),
                "Amount": money(rng),
                "Invoice": {
                    "InvoiceID": c.uid("Invoices", j),
                    "InvoiceNumber": f"INV-{j + 1:05d}",
                    "Payments": [],
                    "CreditNotes": [],
                    "Prepayments": [],
                    "Overpayments": [],
                    "HasErrors": False,
                    "IsDiscounted": False,
                    "LineItems": [],
                },
            }
        )
    total = round(sum(p["Amount"] for p in payments), 2)
    return {
        "BatchPaymentID": c.uid("BatchPayments", i),
        "Account": {"AccountID": c.uid("Accounts", 0)},
        "Reference": f"Batch {i + 1}",
        "Details": "Supplier run",
        "Narrative": "",
        "DateString": day_string(date),
        "Date": net_date(date),
        "Payments": payments,
        "Type": "PAYBATCH",
        "Status": "AUTHORISED",
        "TotalAmount": total,
        "UpdatedDateUTC": net_date(stamp),
        "IsReconciled": False,
    }


def gen_receipt(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    rid = c.uid("Receipts", i)
    lines = c.line_items(rng, EXPENSE_CODES, rid)
    date, _ = _dates(stamp, rng)
    return {
        "ReceiptID": rid,
        "ReceiptNumber": f"RCT-{i + 1:04d}",
        "Date": net_date(date),
        "Contact": c.contact_ref(rng),
        "LineItems": lines,
        "User": c.user_ref(i % 5),
        "Reference": f"Receipt {i + 1}",
        "LineAmountTypes": "Inclusive",
        **_totals(lines),
        "Status": rng.choice(("DRAFT", "SUBMITTED", "AUTHORISED")),
        "UpdatedDateUTC": net_date(stamp),
        "HasAttachments": False,
    }


def gen_expense_claim(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    total = money(rng)
    date, due = _dates(stamp, rng)
    return {
        "ExpenseClaimID": c.uid("ExpenseClaims", i),
        "Status": rng.choice(("SUBMITTED", "AUTHORISED", "PAID")),
        "Payments": [],
        "User": c.user_ref(i % 5),
        "Receipts": [{"ReceiptID": c.uid("Receipts", i), "Total": total}],
        "UpdatedDateUTC": net_date(stamp),
        "Total": total,
        "AmountDue": total,
        "AmountPaid": 0.0,
        "PaymentDueDate": net_date(due),
        "ReportingDate": net_date(date),
    }


def gen_tax_rate(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    name, tax_type, rate = TAX_RATES[i % len(TAX_RATES)]
    if i >= len(TAX_RATES):
        name, tax_type = f"{name} {i}", f"TAX{i:03d}"
    return {
        "Name": name,
        "TaxType": tax_type,
        "TaxComponents": [
            {"Name": "Tax", "Rate": rate, "IsCompound": False, "IsNonRecoverable": False}
        ],
        "Status": "ACTIVE",
        "CanApplyToAssets": True,
        "CanApplyToEquity": True,
        "CanApplyToExpenses": True,
        "CanApplyToLiabilities": True,
        "CanApplyToRevenue": True,
        "DisplayTaxRate": rate,
        "EffectiveRate": rate,
    }


def gen_currency(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    code, desc = CURRENCIES[i % len(CURRENCIES)]
    return {"Code": code, "Description": desc if i < len(CURRENCIES) else f"{desc} {i}"}


def gen_tracking_category(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    cid = c.uid("TrackingCategories", i)
    names = (("Region", ("North", "South", "East", "West")), ("Department", ("Sales", "Ops")))
    name, options = names[i % 2]
    return {
        "TrackingCategoryID": cid,
        "Name": name if i < 2 else f"{name} {i}",
        "Status": "ACTIVE",
        "Options": [
            {
                "TrackingOptionID": stable_uuid(c.seed, cid, opt),
                "Name": opt,
                "Status": "ACTIVE",
                "TrackingCategoryID": cid,
            }
            for opt in options
        ],
    }


def gen_contact_group(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    return {
        "ContactGroupID": c.uid("ContactGroups", i),
        "Name": ("Preferred suppliers", "VIP customers", "Wholesale", "Overseas")[i % 4]
        + ("" if i < 4 else f" {i}"),
        "Status": "ACTIVE",
        "Contacts": [],
    }


def gen_repeating_invoice(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    rid = c.uid("RepeatingInvoices", i)
    lines = c.line_items(rng, SALES_CODES, rid)
    date, _ = _dates(stamp, rng)
    return {
        "RepeatingInvoiceID": rid,
        "ID": rid,
        "Type": "ACCREC",
        "Contact": c.contact_ref(rng),
        "Schedule": {
            "Period": 1,
            "Unit": "MONTHLY",
            "DueDate": 20,
            "DueDateType": "OFFOLLOWINGMONTH",
            "StartDate": net_date(date),
            "NextScheduledDate": net_date(date + 30 * DAY_MS),
        },
        "LineItems": lines,
        "LineAmountTypes": "Exclusive",
        "Reference": f"Monthly {i + 1}",
        "CurrencyCode": "USD",
        "Status": "AUTHORISED",
        **_totals(lines),
        "HasAttachments": False,
        "ApprovedForSending": False,
        "SendCopy": False,
        "MarkAsSent": False,
        "IncludePDF": False,
    }


def gen_organisation(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    return {
        "OrganisationID": c.tenant_id if i == 0 else c.uid("Organisation", i),
        "APIKey": stable_uuid(c.seed, c.tenant_id, "apikey").replace("-", "").upper()[:30],
        "Name": c.name,
        "LegalName": f"{c.name} Limited",
        "PaysTax": True,
        "Version": "GLOBAL",
        "OrganisationType": "COMPANY",
        "BaseCurrency": "USD",
        "CountryCode": "US",
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": f"{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}",
        "FinancialYearEndDay": 31,
        "FinancialYearEndMonth": 12,
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        "CreatedDateUTC": net_date(stamp),
        "OrganisationEntityType": "COMPANY",
        "Timezone": "NEWZEALANDSTANDARDTIME",
        "ShortCode": f"!{c.tenant_id[:5]}",
        "Edition": "BUSINESS",
        "Class": "PREMIUM",
        "Addresses": [],
        "Phones": [],
        "ExternalLinks": [],
        "PaymentTerms": {},
    }


def gen_branding_theme(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    return {
        "BrandingThemeID": c.uid("BrandingThemes", i),
        "Name": "Standard" if i == 0 else f"Theme {i + 1}",
        "Type": "INVOICE",
        "SortOrder": i,
        "CreatedDateUTC": net_date(stamp),
    }


def gen_budget(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    month = datetime.fromtimestamp(stamp / 1000, UTC)
    return {
        "BudgetID": c.uid("Budgets", i),
        "Type": "OVERALL" if i == 0 else "TRACKING",
        "Description": "Overall Budget" if i == 0 else f"Budget {i + 1}",
        "UpdatedDateUTC": net_date(stamp),
        "BudgetLines": [
            {
                "AccountID": c.uid("Accounts", n),
                "AccountCode": ACCOUNTS[n][0],
                "BudgetBalances": [
                    {"Period": f"{month.year}-{m:02d}", "Amount": money(rng), "Notes": ""}
                    for m in range(1, 4)
                ],
            }
            for n in (2, 6)
        ],
        "Tracking": [],
    }


GENERATORS: dict[str, Generator] = {
    "Invoices": gen_invoice,
    "Contacts": gen_contact,
    "BankTransactions": gen_bank_transaction,
    "CreditNotes": gen_credit_note,
    "ManualJournals": gen_manual_journal,
    "Payments": gen_payment,
    "Overpayments": _prepay_like("Overpayments", ("RECEIVE-OVERPAYMENT", "SPEND-OVERPAYMENT")),
    "Prepayments": _prepay_like("Prepayments", ("RECEIVE-PREPAYMENT", "SPEND-PREPAYMENT")),
    "PurchaseOrders": gen_purchase_order,
    "Quotes": gen_quote,
    "LinkedTransactions": gen_linked_transaction,
    "Journals": gen_journal,
    "Accounts": gen_account,
    "Items": gen_item,
    "Users": gen_user,
    "BankTransfers": gen_bank_transfer,
    "BatchPayments": gen_batch_payment,
    "ExpenseClaims": gen_expense_claim,
    "Receipts": gen_receipt,
    "TaxRates": gen_tax_rate,
    "Currencies": gen_currency,
    "TrackingCategories": gen_tracking_category,
    "ContactGroups": gen_contact_group,
    "RepeatingInvoices": gen_repeating_invoice,
    "Organisation": gen_organisation,
    "BrandingThemes": gen_branding_theme,
    "Budgets": gen_budget,
}
assert set(GENERATORS) == set(ENDPOINTS)

# Fields a mutation edits (the first one a record has), so a change is visible.
_EDITABLE = ("Reference", "Narration", "Name", "Description", "Summary", "EmailAddress")


@dataclass
class Table:
    """The records of one tenant and endpoint, in serving order, with their bytes."""

    endpoint: Endpoint
    records: list[Record] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)  # ms of endpoint.date_field, or 0
    revisions: int = 0
    # Filtered/sorted index lists by (revision, query): paging re-asks the same query
    # once per page, and re-sorting a big table every time made the sandbox the bottleneck.
    selections: dict[tuple[object, ...], list[int] | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def append(self, record: Record) -> None:
        self.records.append(record)
        self.blobs.append(orjson.dumps(record))
        self.stamps.append(self._stamp(record))

    def replace(self, pos: int, record: Record) -> None:
        self.records[pos] = record
        self.blobs[pos] = orjson.dumps(record)
        self.stamps[pos] = self._stamp(record)

    def _stamp(self, record: Record) -> int:
        field_name = self.endpoint.date_field
        if field_name is None or field_name not in record:
            return 0
        return parse_net_date(record[field_name]) or 0


class TenantStore:
    """All tables of one tenant, each built on first use."""

    def __init__(self, context: TenantContext) -> None:
        self.context = context
        self._tables: dict[str, Table] = {}

    def table(self, name: str) -> Table:
        table = self._tables.get(name)
        if table is None:
            table = self._build(ENDPOINTS[name])
            self._tables[name] = table
        return table

    def built(self) -> Iterable[tuple[str, Table]]:
        return self._tables.items()

    def count(self, name: str) -> int:
        endpoint = ENDPOINTS[name]
        if name in self._tables:
            return len(self._tables[name].records)
        return self.context.records if endpoint.sized else endpoint.fixed_count

    def _build(self, endpoint: Endpoint) -> Table:
        c = self.context
        n = c.records if endpoint.sized else endpoint.fixed_count
        rng = random.Random(f"{c.seed}:{c.tenant_id}:{endpoint.name}")
        gen = GENERATORS[endpoint.name]
        table = Table(endpoint)
        span = HISTORY_DAYS * DAY_MS
        start = c.anchor_ms - span
        for i in range(n):
            # Increasing stamps: serving order is also UpdatedDateUTC order at first.
            stamp = start + (span * (i + 1)) // (n + 1) - rng.randint(0, 999)
            table.append(gen(c, rng, i, stamp))
        return table

    def mutate(self, name: str, modify: int, add: int, now_ms: int) -> tuple[list[str], list[str]]:
        """Edit `modify` records and add `add` new ones, all stamped `now_ms`."""
        endpoint = ENDPOINTS[name]
        table = self.table(name)
        if modify and endpoint.name == "Journals":
            raise ValueError("journals are immutable: use `add` for Journals")
        table.revisions += 1
        rng = random.Random(
            f"{self.context.seed}:{self.context.tenant_id}:{name}:{table.revisions}"
        )
        modified: list[str] = []
        if modify:
            size = len(table.records)
            picks = sorted(rng.sample(range(size), min(modify, size)))
            for pos in picks:
                record = dict(table.records[pos])
                for key in _EDITABLE:
                    if isinstance(record.get(key), str):
                        record[key] = f"{record[key]} (rev {table.revisions})"
                        break
                if endpoint.date_field and endpoint.date_field in record:
                    record[endpoint.date_field] = net_date(now_ms)
                table.replace(pos, record)
                modified.append(str(record[endpoint.id_field]))
        added: list[str] = []
        gen = GENERATORS[name]
        for _ in range(add):
            record = gen(self.context, rng, len(table.records), now_ms)
            if endpoint.date_field and endpoint.date_field in record:
                record[endpoint.date_field] = net_date(now_ms)
            table.append(record)
            added.append(str(record[endpoint.id_field]))
        return modified, added


@dataclass(frozen=True)
class Tenant:
    index: int
    tenant_id: str
    connection_id: str
    name: str


def make_tenants(seed: int, count: int) -> list[Tenant]:
    return [
        Tenant(
            index=t,
            tenant_id=stable_uuid(seed, "tenant", t),
            connection_id=stable_uuid(seed, "connection", t),
            name=f"Sandbox Company {t + 1} ({TRADES[t % len(TRADES)]})",
        )
        for t in range(count)
    ]


class DataStore:
    """Every tenant's records; `reset()` returns to the generated state."""

    def __init__(self, seed: int, tenants: list[Tenant], records: int, anchor_ms: int) -> None:
        self.seed = seed
        self.tenants = tenants
        self.records = records
        self.anchor_ms = anchor_ms
        self.by_id: dict[str, TenantStore] = {}
        self.reset()

    def reset(self) -> None:
        self.by_id = {
            t.tenant_id: TenantStore(
                TenantContext(self.seed, t.index, t.tenant_id, t.name, self.anchor_ms, self.records)
            )
            for t in self.tenants
        }

    def tenant(self, tenant_id: str) -> TenantStore | None:
        return self.by_id.get(tenant_id.lower())

"""Generators of transaction records: invoices, contacts, payments, journals and kin."""

from __future__ import annotations

import random
from decimal import Decimal

from oauth_etl_dev.sandbox.data import (
    ACCOUNTS,
    BANK_CODES,
    EXPENSE_CODES,
    FIRST,
    LAST,
    SALES_CODES,
    WORDS,
    Generator,
    Record,
    TenantContext,
    cents,
    contact_name,
    day_ms,
    day_string,
    doc_dates,
    money,
    net_date,
    stable_uuid,
    sum_totals,
)


def gen_invoice(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = "ACCREC" if rng.random() < 0.7 else "ACCPAY"
    iid = c.uid("Invoices", i)
    lines = c.line_items(rng, SALES_CODES if kind == "ACCREC" else EXPENSE_CODES, iid)
    totals = sum_totals(lines)
    status = rng.choice(
        ("AUTHORISED", "AUTHORISED", "PAID", "PAID", "DRAFT", "SUBMITTED", "VOIDED")
    )
    paid = totals["Total"] if status == "PAID" else 0.0
    if status == "AUTHORISED" and rng.random() < 0.4:  # part paid (links.py adds the Payment)
        paid = float(cents(Decimal(str(totals["Total"])) * Decimal(rng.choice(("0.25", "0.5")))))
    date, due = doc_dates(stamp, rng)
    return {
        "Type": kind,
        "InvoiceID": iid,
        "InvoiceNumber": f"INV-{i + 1:05d}",
        "Reference": f"Ref {rng.randint(1000, 9999)}",
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "AmountDue": float(Decimal(str(totals["Total"])) - Decimal(str(paid))),
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
        "CurrencyCode": c.currency,
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
        "DefaultCurrency": c.currency,
        "ContactPersons": [],
        "HasAttachments": False,
        "HasValidationErrors": False,
    }


def gen_bank_transaction(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = rng.choice(("RECEIVE", "RECEIVE", "SPEND"))
    bid = c.uid("BankTransactions", i)
    lines = c.line_items(rng, SALES_CODES if kind == "RECEIVE" else EXPENSE_CODES, bid, True)
    date, _ = doc_dates(stamp, rng)
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
        "CurrencyCode": c.currency,
        "CurrencyRate": 1.0,
        "Status": "AUTHORISED" if rng.random() < 0.95 else "DELETED",
        "LineAmountTypes": "Inclusive",
        **sum_totals(lines, inclusive=True),
        "UpdatedDateUTC": net_date(stamp),
        "HasAttachments": False,
    }


def gen_credit_note(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    kind = rng.choice(("ACCRECCREDIT", "ACCPAYCREDIT"))
    cid = c.uid("CreditNotes", i)
    codes = SALES_CODES if kind == "ACCRECCREDIT" else EXPENSE_CODES
    lines = c.line_items(rng, codes, cid, small=True)
    totals = sum_totals(lines)
    date, due = doc_dates(stamp, rng)
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
        "CurrencyCode": c.currency,
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
    # Never AR/AP: those carry contacts, and a journal line has none (no source: our
    # assumption; it keeps the aged reports equal to the balance sheet's AR/AP).
    debit, credit = rng.choice(EXPENSE_CODES), rng.choice(("970", "090", "091"))
    date, _ = doc_dates(stamp, rng)
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
    date, _ = doc_dates(stamp, rng)
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
        lines = c.line_items(rng, SALES_CODES, rid, small=True)
        totals = sum_totals(lines)
        date, _ = doc_dates(stamp, rng)
        id_field = "OverpaymentID" if kind_key == "Overpayments" else "PrepaymentID"
        return {
            id_field: rid,
            "Type": rng.choice(types),
            "Contact": c.contact_ref(rng),
            "Date": net_date(date),
            "Status": rng.choice(("AUTHORISED", "PAID", "PAID", "PAID")),
            "LineAmountTypes": "Exclusive",
            "LineItems": lines,
            **totals,
            "UpdatedDateUTC": net_date(stamp),
            "CurrencyCode": c.currency,
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
    date, due = doc_dates(stamp, rng)
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
        "CurrencyCode": c.currency,
        "CurrencyRate": 1.0,
        "Status": rng.choice(("DRAFT", "SUBMITTED", "AUTHORISED", "BILLED")),
        "SentToContact": False,
        "DeliveryAddress": "23 Main Street, Central City",
        "AttentionTo": FIRST[i % len(FIRST)],
        "Telephone": "0800 1234 5678",
        "DeliveryInstructions": "",
        **sum_totals(lines),
        "TotalDiscount": 0.0,
        "HasAttachments": False,
        "UpdatedDateUTC": net_date(stamp),
    }


def gen_quote(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    qid = c.uid("Quotes", i)
    lines = c.line_items(rng, SALES_CODES, qid)
    date, expiry = doc_dates(stamp, rng)
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
        "CurrencyCode": c.currency,
        "CurrencyRate": 1.0,
        **sum_totals(lines),
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

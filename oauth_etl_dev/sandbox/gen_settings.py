"""Generators of settings and small collections, and the table of every generator."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from oauth_etl_dev.sandbox.catalog import ENDPOINTS
from oauth_etl_dev.sandbox.data import (
    ACCOUNTS,
    CURRENCIES,
    DAY_MS,
    EXPENSE_CODES,
    SALES_CODES,
    TAX_RATES,
    WORDS,
    Generator,
    Record,
    TenantContext,
    day_string,
    doc_dates,
    money,
    net_date,
    stable_uuid,
    sum_totals,
)
from oauth_etl_dev.sandbox.gen_transactions import (
    _prepay_like,
    gen_bank_transaction,
    gen_contact,
    gen_credit_note,
    gen_invoice,
    gen_journal,
    gen_linked_transaction,
    gen_manual_journal,
    gen_payment,
    gen_purchase_order,
    gen_quote,
)


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
        rec.update(
            BankAccountNumber=f"0123{i:04d}", BankAccountType="BANK", CurrencyCode=c.currency
        )
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
    date, _ = doc_dates(stamp, rng)
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
        "Status": "AUTHORISED",  # spec v16: BankTransfer.Status, DELETED once soft-deleted
        "CreatedDateUTC": net_date(stamp),
    }


def gen_batch_payment(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    date, _ = doc_dates(stamp, rng)
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
    lines = c.line_items(rng, EXPENSE_CODES, rid, True)
    date, _ = doc_dates(stamp, rng)
    return {
        "ReceiptID": rid,
        "ReceiptNumber": f"RCT-{i + 1:04d}",
        "Date": net_date(date),
        "Contact": c.contact_ref(rng),
        "LineItems": lines,
        "User": c.user_ref(i % 5),
        "Reference": f"Receipt {i + 1}",
        "LineAmountTypes": "Inclusive",
        **sum_totals(lines, inclusive=True),
        "Status": rng.choice(("DRAFT", "SUBMITTED", "AUTHORISED")),
        "UpdatedDateUTC": net_date(stamp),
        "HasAttachments": False,
    }


def gen_expense_claim(c: TenantContext, rng: random.Random, i: int, stamp: int) -> Record:
    total = money(rng)
    date, due = doc_dates(stamp, rng)
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
    date, _ = doc_dates(stamp, rng)
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
        "CurrencyCode": c.currency,
        "Status": "AUTHORISED",
        **sum_totals(lines),
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
        "BaseCurrency": c.currency,
        "CountryCode": c.profile[0],
        "IsDemoCompany": False,
        "OrganisationStatus": "ACTIVE",
        "TaxNumber": f"{rng.randint(100, 999)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}",
        "FinancialYearEndDay": c.profile[2],
        "FinancialYearEndMonth": c.profile[3],
        "SalesTaxBasis": "ACCRUALS",
        "SalesTaxPeriod": "QUARTERLY1",
        "DefaultSalesTax": "Tax Exclusive",
        "DefaultPurchasesTax": "Tax Exclusive",
        # Before every generated document: the books start with the organisation.
        "CreatedDateUTC": net_date(c.anchor_ms - (c.history_days + 30) * DAY_MS),
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
    # From the history's first month (six back at least: 180 days, the default) to five
    # months after the anchor's: the months of the books and the ones still to come.
    anchor = datetime.fromtimestamp(c.anchor_ms / 1000, UTC)
    last = anchor.year * 12 + anchor.month - 1 + 5
    first = last - 5 - max(6, c.history_days // 30)
    months = [f"{m // 12}-{m % 12 + 1:02d}" for m in range(first, last + 1)]
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
                    {"Period": period, "Amount": money(rng), "Notes": ""} for period in months
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

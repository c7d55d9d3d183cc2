"""Payments that agree with their invoices, so the books add up.

Generated payment i pays invoice i: its amount is what the invoice says was paid
(`AmountPaid`), on a day between the invoice date and the payment's stamp. When
invoice i has nothing paid, payment i is a DELETED payment (one someone removed:
spec Payment.Status AUTHORISED/DELETED; a deleted payment leaves the invoice unpaid,
as in Xero). An inserted payment pays what an approved invoice still owes and marks
that invoice PAID, as Xero does when a payment settles an invoice (spec Invoice.Status
PAID, Invoice.AmountPaid/AmountDue; that only an approved invoice takes a payment is
our assumption).
"""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING

from oauth_etl_dev.sandbox.data import DAY_MS, Record, net_date, parse_net_date

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.store import TenantStore


def _invoice_ref(invoice: Record) -> Record:
    return {
        "InvoiceID": invoice["InvoiceID"],
        "InvoiceNumber": invoice.get("InvoiceNumber", ""),
        "Type": invoice.get("Type", "ACCREC"),
        "Contact": invoice.get("Contact", {}),
        "Payments": [],
        "CreditNotes": [],
        "Prepayments": [],
        "Overpayments": [],
        "HasErrors": False,
        "IsDiscounted": False,
        "LineItems": [],
    }


def _pay(payment: Record, invoice: Record, amount: float, date_ms: int) -> Record:
    out = dict(payment)
    out.update(
        Amount=amount,
        BankAmount=amount,
        Date=net_date(date_ms),
        PaymentType="ACCPAYPAYMENT" if invoice.get("Type") == "ACCPAY" else "ACCRECPAYMENT",
        Invoice=_invoice_ref(invoice),
    )
    return out


def link_generated(store: TenantStore, payment: Record, i: int) -> Record:
    """Generated payment i as a payment of invoice i (or a deleted one)."""
    invoices = store.table("Invoices").records
    if not invoices:
        return payment
    invoice = invoices[i % len(invoices)]
    paid = float(invoice.get("AmountPaid") or 0)
    day = (parse_net_date(str(invoice.get("Date"))) or 0) // DAY_MS * DAY_MS
    stamp = parse_net_date(str(payment.get("UpdatedDateUTC"))) or day
    rng = random.Random(f"{store.context.seed}:{store.context.tenant_id}:pay:{i}")
    latest = max(day, stamp // DAY_MS * DAY_MS)
    date = day + rng.randint(0, (latest - day) // DAY_MS) * DAY_MS
    out = _pay(payment, invoice, paid if paid > 0 else float(payment["Amount"]), date)
    out["Status"] = "AUTHORISED" if paid > 0 else "DELETED"
    return out


def link_inserted(store: TenantStore, payment: Record, date_ms: int, now_ms: int) -> Record:
    """A new payment of an approved invoice's amount due, which marks it PAID."""
    table = store.table("Invoices")
    rng = random.Random(f"{store.context.seed}:{store.context.tenant_id}:{len(table.records)}")
    open_ = [
        n
        for n, r in enumerate(table.records)
        if r.get("Status") == "AUTHORISED" and float(r.get("AmountDue") or 0) > 0
    ]
    if not open_:
        return {**payment, "Status": "DELETED"}
    pos = rng.choice(open_)
    invoice = dict(table.records[pos])
    due = Decimal(str(invoice["AmountDue"]))
    invoice.update(
        AmountPaid=float(Decimal(str(invoice.get("AmountPaid") or 0)) + due),
        AmountDue=0.0,
        Status="PAID",
        UpdatedDateUTC=net_date(now_ms),
    )
    table.revisions += 1
    table.replace(pos, invoice, changed_ms=now_ms)
    return {**_pay(payment, invoice, float(due), date_ms), "Status": "AUTHORISED"}


def unpay(store: TenantStore, payment: Record, now_ms: int) -> None:
    """A payment removed (voided or deleted): its invoice owes the amount again and is
    AUTHORISED if it was PAID, as Xero reverts an invoice whose payment is removed
    (spec Invoice.AmountDue/AmountPaid; our reading)."""
    table = store.table("Invoices")
    want = str((payment.get("Invoice") or {}).get("InvoiceID", "")).lower()
    for pos, invoice in enumerate(table.records):
        if str(invoice.get("InvoiceID", "")).lower() != want:
            continue
        amount = Decimal(str(payment.get("Amount") or 0))
        paid = max(Decimal(0), Decimal(str(invoice.get("AmountPaid") or 0)) - amount)
        out = dict(invoice)
        out.update(
            AmountPaid=float(paid),
            AmountDue=float(Decimal(str(invoice.get("Total") or 0)) - paid),
            UpdatedDateUTC=net_date(now_ms),
        )
        if out.get("Status") == "PAID":
            out["Status"] = "AUTHORISED"
        table.revisions += 1
        table.replace(pos, out, changed_ms=now_ms)
        return

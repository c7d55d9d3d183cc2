"""What each document posts to the books: balanced journal lines, accrual and cash basis.

One function per source endpoint turns a record into an `Entry` (or None: it posts
nothing). Debits are positive, credits negative, as in Xero's journals
(xero_accounting.yaml, schema JournalLine: NetAmount; ManualJournalLine.LineAmount
"Debits are positive, credits are negative"). Every entry's lines sum to zero, on both
bases (`check_balanced`).

Rules (statuses from the spec's enums; "posting" = AUTHORISED or PAID):
- Invoices ACCREC: debit AR (610, the DEBTORS system account) with the total, credit
  each line's account with its net amount and the GST account (820) with the tax.
  ACCPAY: the reverse against AP (800, CREDITORS). DRAFT, SUBMITTED, DELETED, VOIDED
  post nothing (an invoice posts once approved, a void takes it off the books: our
  reading of the spec's Invoice.Status values, no Xero text found).
- CreditNotes ACCRECCREDIT/ACCPAYCREDIT: the reverse of an invoice of the same side;
  AUTHORISED ones are open credits on the contact's account, PAID ones were refunded
  in cash on their date (spec CreditNote.Status; which of allocation or refund paid
  it is our assumption: the generated ones carry no Allocations).
- Payments (AUTHORISED, of a posting invoice): bank against AR/AP. A DELETED payment
  posts nothing (spec Payment.Status: AUTHORISED, DELETED).
- BankTransactions RECEIVE/SPEND (AUTHORISED): bank against the lines and tax.
- ManualJournals POSTED: their JournalLines as given (spec ManualJournal.Status).
- Overpayments/Prepayments RECEIVE-*/SPEND-* AUTHORISED: bank against AR/AP (held on
  the contact's account until allocated; no source: our assumption from Xero's
  guides). PAID ones (spent: refunded, as above) net to nothing and post nothing.
- BankTransfers AUTHORISED: to-account against from-account.
Cash basis (`paymentsOnly`): invoices and credit notes post nothing; each payment
posts the paid fraction of its invoice's lines and tax against the bank; bank
transactions, transfers and over/prepayments (against their lines) as on accrual;
manual journals only when ShowOnCashBasisReports (spec ManualJournal field).
ExpenseClaims, Receipts (classic expenses) and BatchPayments post nothing here: no
source, our simplification (a batch's payments are not in /Payments in the sandbox).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from oauth_etl_dev.sandbox.data import Record, cents, parse_net_date

AR, AP, TAX, BANK = "610", "800", "820", "090"
POSTING = frozenset({"AUTHORISED", "PAID"})
ZERO = Decimal(0)

Tracking = tuple[tuple[str, str], ...]  # ((TrackingCategoryID, TrackingOptionID), ...)


@dataclass(frozen=True)
class Line:
    code: str  # AccountCode
    net: Decimal  # debit > 0 > credit
    tax: Decimal = ZERO  # the tax on this line (its own line on the tax account)
    tax_type: str = "NONE"
    tracking: Tracking = ()
    doc: str | None = None  # AR/AP lines: the document they belong to (aged reports)
    contact: str | None = None


@dataclass(frozen=True)
class Doc:
    """An AR/AP document as the aged reports list it."""

    side: str  # "AR" or "AP"
    doc_id: str
    number: str
    contact_id: str
    contact_name: str
    date_ms: int
    due_ms: int
    total: Decimal  # signed as on the AR/AP account: debit > 0


@dataclass(frozen=True)
class Entry:
    source_type: str  # spec Journal.SourceType
    source_id: str
    date_ms: int  # JournalDate (a day)
    stamp_ms: int  # when the document last changed: CreatedDateUTC of its journal
    reference: str
    lines: tuple[Line, ...]
    cash: tuple[Line, ...]
    doc: Doc | None = None


class Unbalanced(AssertionError):
    """A journal whose lines do not sum to zero: a bug in the posting rules."""


def check_balanced(entry: Entry) -> Entry:
    for name, lines in (("accrual", entry.lines), ("cash", entry.cash)):
        total = sum((line.net for line in lines), ZERO)
        if total != ZERO:
            raise Unbalanced(f"{entry.source_type} {entry.source_id} {name} sums to {total}")
    return entry


def dec(value: object) -> Decimal:
    return cents(Decimal(str(value or 0)))


def day_of(record: Record, field: str = "Date") -> int:
    ms = parse_net_date(str(record.get(field) or "")) or 0
    return ms // 86_400_000 * 86_400_000


def stamp_of(record: Record) -> int:
    for field in ("UpdatedDateUTC", "CreatedDateUTC"):
        ms = parse_net_date(str(record.get(field) or ""))
        if ms is not None:
            return ms
    return 0


def tracking_of(line: Record) -> Tracking:
    return tuple(
        (str(t.get("TrackingCategoryID", "")), str(t.get("TrackingOptionID", "")))
        for t in line.get("Tracking") or []
    )


def item_lines(record: Record, sign: int) -> tuple[list[Line], Decimal]:
    """The lines' accounts (sign -1: credited) and tax, and the gross total."""
    inclusive = str(record.get("LineAmountTypes", "")).lower() == "inclusive"
    out: list[Line] = []
    gross = ZERO
    tax_total = ZERO
    for item in record.get("LineItems") or []:
        amount, tax = dec(item.get("LineAmount")), dec(item.get("TaxAmount"))
        net = amount - tax if inclusive else amount
        out.append(
            Line(
                str(item.get("AccountCode", "")),
                sign * net,
                sign * tax,
                str(item.get("TaxType", "NONE")),
                tracking_of(item),
            )
        )
        gross += net + tax
        tax_total += tax
    if tax_total:
        out.append(Line(TAX, sign * tax_total))
    return out, gross


def _contact(record: Record) -> tuple[str, str]:
    contact = record.get("Contact") or {}
    return str(contact.get("ContactID", "")), str(contact.get("Name", ""))


def _sided(
    record: Record, id_field: str, number_field: str, side: str, sign: int, source: str
) -> Entry | None:
    """A document on a contact's account: AR/AP (sign +1 debit) against its lines."""
    if record.get("Status") not in POSTING:
        return None
    doc_id = str(record[id_field])
    lines, gross = item_lines(record, -sign)
    contact_id, name = _contact(record)
    control = Line(AR if side == "AR" else AP, sign * gross, doc=doc_id, contact=contact_id)
    date = day_of(record)
    doc = Doc(
        side,
        doc_id,
        str(record.get(number_field, "")),
        contact_id,
        name,
        date,
        day_of(record, "DueDate") or date,
        sign * gross,
    )
    return Entry(
        source,
        doc_id,
        date,
        stamp_of(record),
        str(record.get("Reference", "")),
        (control, *lines),
        (),
        doc,
    )


def post_invoice(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Type") == "ACCPAY":
        return _sided(record, "InvoiceID", "InvoiceNumber", "AP", -1, "ACCPAY")
    return _sided(record, "InvoiceID", "InvoiceNumber", "AR", 1, "ACCREC")


def post_credit_note(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Type") == "ACCPAYCREDIT":
        entry = _sided(record, "CreditNoteID", "CreditNoteNumber", "AP", 1, "ACCPAYCREDIT")
    else:
        entry = _sided(record, "CreditNoteID", "CreditNoteNumber", "AR", -1, "ACCRECCREDIT")
    if entry is None or record.get("Status") != "PAID":
        return entry
    control = entry.lines[0]  # refunded: the bank pays what the contact was owed
    refund = (
        Line(control.code, -control.net, doc=control.doc, contact=control.contact),
        Line(BANK, control.net),
    )
    cash = (*entry.lines[1:], refund[1])
    return Entry(
        entry.source_type,
        entry.source_id,
        entry.date_ms,
        entry.stamp_ms,
        entry.reference,
        (*entry.lines, *refund),
        cash,
        entry.doc,
    )


def _prepay(id_field: str, kind: str) -> Callable[[Record, Lookup], Entry | None]:
    def post(record: Record, lookup: Lookup) -> Entry | None:
        if record.get("Status") != "AUTHORISED":
            return None
        spend = str(record.get("Type", "")).startswith("SPEND")
        side, sign = ("AP", 1) if spend else ("AR", -1)
        entry = _sided(record, id_field, id_field, side, sign, f"{side}{kind}")
        if entry is None:
            return None
        gross = -entry.lines[0].net  # the bank moves against the control account
        bank = Line(BANK, gross)
        cash, _ = item_lines(record, 1 if spend else -1)
        return Entry(
            entry.source_type,
            entry.source_id,
            entry.date_ms,
            entry.stamp_ms,
            entry.reference,
            (entry.lines[0], bank),
            (bank, *cash),
            entry.doc,
        )

    return post


def split(total: Decimal, parts: list[Line], fraction: Decimal) -> list[Line]:
    """`parts` scaled by `fraction`, rounded to cents, the last absorbing the rounding
    so the scaled lines sum to `total` exactly (no source: our assumption)."""
    out: list[Line] = []
    running = ZERO
    for n, part in enumerate(parts):
        net = total - running if n == len(parts) - 1 else cents(part.net * fraction)
        running += net
        out.append(Line(part.code, net, cents(part.tax * fraction), part.tax_type, part.tracking))
    return out


def post_payment(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Status") != "AUTHORISED":
        return None
    ref = record.get("Invoice") or {}
    invoice = lookup("Invoices", str(ref.get("InvoiceID", "")).lower())
    if invoice is None or invoice.get("Status") not in POSTING:
        return None  # Xero refuses a payment on an unapproved invoice
    amount = dec(record.get("Amount"))
    payable = invoice.get("Type") == "ACCPAY"
    sign = -1 if payable else 1  # bank debit on a receipt
    contact_id, _ = _contact(invoice)
    bank = Line(bank_code(record, lookup), sign * amount)
    control = Line(
        AP if payable else AR, -sign * amount, doc=str(invoice["InvoiceID"]), contact=contact_id
    )
    lines, gross = item_lines(invoice, -sign)
    cash = (
        split(-sign * amount, lines, amount / gross) if gross else [Line(control.code, -bank.net)]
    )
    source = "ACCPAYPAYMENT" if payable else "ACCRECPAYMENT"
    return Entry(
        source,
        str(record["PaymentID"]),
        day_of(record),
        stamp_of(record),
        str(record.get("Reference", "")),
        (bank, control),
        (bank, *cash),
    )


def bank_code(record: Record, lookup: Lookup, field: str = "Account") -> str:
    account = record.get(field) or {}
    if account.get("Code"):
        return str(account["Code"])
    found = lookup("Accounts", str(account.get("AccountID", "")).lower())
    return str(found.get("Code", BANK)) if found else BANK


def post_bank_transaction(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Status") != "AUTHORISED":
        return None
    spend = record.get("Type") == "SPEND"
    lines, gross = item_lines(record, 1 if spend else -1)
    bank = Line(bank_code(record, lookup, "BankAccount"), -gross if spend else gross)
    posted = (bank, *lines)
    return Entry(
        "CASHPAID" if spend else "CASHREC",
        str(record["BankTransactionID"]),
        day_of(record),
        stamp_of(record),
        str(record.get("Reference", "")),
        posted,
        posted,
    )


def post_manual_journal(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Status") != "POSTED":
        return None
    lines = tuple(
        Line(
            str(j.get("AccountCode", "")),
            dec(j.get("LineAmount")),
            dec(j.get("TaxAmount")),
            str(j.get("TaxType", "NONE")),
            tracking_of(j),
        )
        for j in record.get("JournalLines") or []
    )
    cash = lines if record.get("ShowOnCashBasisReports", True) else ()
    return Entry(
        "MANJOURNAL",
        str(record["ManualJournalID"]),
        day_of(record),
        stamp_of(record),
        str(record.get("Narration", "")),
        lines,
        cash,
    )


def post_bank_transfer(record: Record, lookup: Lookup) -> Entry | None:
    if record.get("Status", "AUTHORISED") != "AUTHORISED":
        return None
    amount = dec(record.get("Amount"))
    lines = (
        Line(bank_code(record, lookup, "ToBankAccount"), amount),
        Line(bank_code(record, lookup, "FromBankAccount"), -amount),
    )
    return Entry(
        "TRANSFER",
        str(record["BankTransferID"]),
        day_of(record),
        stamp_of(record),
        str(record.get("Reference", "")),
        lines,
        lines,
    )


Lookup = Callable[[str, str], Record | None]  # (endpoint, lower-cased id) -> record

# Source endpoint -> (posting rule, the other endpoints its entries read).
POSTERS: Mapping[str, tuple[Callable[[Record, Lookup], Entry | None], tuple[str, ...]]] = {
    "Invoices": (post_invoice, ()),
    "CreditNotes": (post_credit_note, ()),
    "Payments": (post_payment, ("Invoices", "Accounts")),
    "BankTransactions": (post_bank_transaction, ("Accounts",)),
    "ManualJournals": (post_manual_journal, ()),
    "Overpayments": (_prepay("OverpaymentID", "OVERPAYMENT"), ()),
    "Prepayments": (_prepay("PrepaymentID", "PREPAYMENT"), ()),
    "BankTransfers": (post_bank_transfer, ("Accounts",)),
}

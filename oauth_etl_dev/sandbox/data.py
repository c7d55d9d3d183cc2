"""Shared pieces of the sandbox's generated records: ids, dates, names, references.

Every record is built from `(seed, tenant, endpoint, index)` only, so runs with the
same seed serve the same IDs and values; cross references (an invoice's contact, a
payment's invoice) use the same derivation and need no generation order. Records are
serialized once (orjson) so a page is a join of ready-made bytes (sandbox/store.py).
Generators by family: sandbox/gen_transactions.py, sandbox/gen_settings.py.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Record = dict[str, Any]
DAY_MS = 86_400_000
# Generated dates spread over this many days before the anchor (`--history-days`: the demo
# asks for more, so that its organisations have 12 complete months of books).
HISTORY_DAYS = 180


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
ACCOUNT_TAX: dict[str, str] = {code: tax for code, _, _, _, tax, _ in ACCOUNTS}
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


# The organisations tenants are, by tenant index (cycled): (CountryCode, BaseCurrency,
# FinancialYearEndDay, FinancialYearEndMonth). Tenant 0 stays a US company with a
# calendar financial year (what older tests assume); tenant 1 is Australian (year to
# 30 June, so the generated history crosses a year end), tenant 2 a New Zealand one.
# Spec: xero_accounting.yaml, schema Organisation (CountryCode, BaseCurrency,
# FinancialYearEndDay/Month).
PROFILES: tuple[tuple[str, str, int, int], ...] = (
    ("US", "USD", 31, 12),
    ("AU", "AUD", 30, 6),
    ("NZ", "NZD", 31, 3),
)
TAX_RATE = Decimal("0.15")  # TAX_RATES "Tax on Sales"/"Tax on Purchases"
CENT = Decimal("0.01")
# Tracking options a line may carry (gen_settings.gen_tracking_category, category 0).
REGIONS = ("North", "South", "East", "West")


def cents(value: Decimal) -> Decimal:
    """2 dp, half away from zero: Xero stores amounts to 2 dp (unit amounts to 4 dp;
    xero_accounting.yaml, LineItem.UnitAmount/LineAmount; rounding mode: no source,
    our assumption)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


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
    shared_stamps: int = 1  # runs of this many records share one UpdatedDateUTC
    history_days: int = HISTORY_DAYS  # generated dates lie this many days before the anchor

    @property
    def profile(self) -> tuple[str, str, int, int]:
        return PROFILES[self.index % len(PROFILES)]

    @property
    def currency(self) -> str:
        return self.profile[1]

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

    def tracking(self, rng: random.Random) -> list[Record]:
        """A Region option on about half the lines (TrackingCategories record 0)."""
        if rng.random() < 0.5:
            return []
        cid = self.uid("TrackingCategories", 0)
        option = rng.choice(REGIONS)
        return [
            {
                "TrackingCategoryID": cid,
                "TrackingOptionID": stable_uuid(self.seed, cid, option),
                "Name": "Region",
                "Option": option,
            }
        ]

    def line_items(
        self,
        rng: random.Random,
        codes: tuple[str, ...],
        key: str,
        inclusive: bool = False,
        small: bool = False,
    ) -> list[Record]:
        """Lines on taxed accounts carry 15% tax: on top of LineAmount (Exclusive) or
        inside it (Inclusive), as LineAmountTypes says (xero_accounting.yaml, LineItem).
        `small`: one line of a few units (credits and prepayments are smaller than sales,
        so the generated books keep customers owing and suppliers owed)."""
        lines = []
        for n in range(1 if small else rng.randint(1, 3)):
            qty = float(rng.randint(1, 2) if small else rng.randint(1, 20))
            unit = money(rng, 100, 50_000)
            amount = cents(Decimal(str(qty)) * Decimal(str(unit)))
            code = rng.choice(codes)
            tax_type = ACCOUNT_TAX[code]
            if tax_type == "NONE":
                tax = Decimal(0)
            elif inclusive:
                tax = cents(amount * TAX_RATE / (1 + TAX_RATE))
            else:
                tax = cents(amount * TAX_RATE)
            lines.append(
                {
                    "LineItemID": stable_uuid(self.seed, self.tenant_id, key, n),
                    "Description": f"{rng.choice(WORDS)} {rng.choice(TRADES).lower()}",
                    "Quantity": qty,
                    "UnitAmount": unit,
                    "AccountCode": code,
                    "TaxType": tax_type,
                    "TaxAmount": float(tax),
                    "LineAmount": float(amount),
                    "Tracking": self.tracking(rng),
                }
            )
        return lines


def contact_name(j: int) -> str:
    return (
        f"{FIRST[j % len(FIRST)]} {LAST[(j // len(FIRST)) % len(LAST)]} {TRADES[j % len(TRADES)]}"
    )


def sum_totals(lines: list[Record], inclusive: bool = False) -> Record:
    """SubTotal, TotalTax, Total of lines (Inclusive: LineAmount holds the tax)."""
    amount = sum((Decimal(str(line["LineAmount"])) for line in lines), Decimal(0))
    tax = sum((Decimal(str(line.get("TaxAmount", 0))) for line in lines), Decimal(0))
    sub = amount - tax if inclusive else amount
    return {"SubTotal": float(sub), "TotalTax": float(tax), "Total": float(sub + tax)}


Generator = Callable[[TenantContext, random.Random, int, int], Record]


def doc_dates(stamp: int, rng: random.Random) -> tuple[int, int]:
    """A document date a few days before the stamp, and a due date after it."""
    date = day_ms(stamp) - rng.randint(0, 10) * DAY_MS
    return date, date + rng.choice((7, 14, 20, 30)) * DAY_MS

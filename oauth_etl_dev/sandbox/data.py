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
from typing import Any

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
    shared_stamps: int = 1  # runs of this many records share one UpdatedDateUTC

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


def sum_totals(lines: list[Record]) -> Record:
    sub = round(sum(line["LineAmount"] for line in lines), 2)
    return {"SubTotal": sub, "TotalTax": 0.0, "Total": sub}


Generator = Callable[[TenantContext, random.Random, int, int], Record]


def doc_dates(stamp: int, rng: random.Random) -> tuple[int, int]:
    """A document date a few days before the stamp, and a due date after it."""
    date = day_ms(stamp) - rng.randint(0, 10) * DAY_MS
    return date, date + rng.choice((7, 14, 20, 30)) * DAY_MS

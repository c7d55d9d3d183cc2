"""What a report reads: the books, the organisation, the query, the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from oauth_etl_dev.sandbox.data import Record, parse_net_date
from oauth_etl_dev.sandbox.ledger import Account, Ledger
from oauth_etl_dev.sandbox.report_shape import ReportError, today, year_start
from oauth_etl_dev.sandbox.store import TenantStore

# Account types by report group (spec enum AccountType). Signs: +1 shows the debit
# balance (assets, expenses), -1 the credit balance (income, liabilities, equity).
INCOME = ("REVENUE", "SALES")
DIRECT = ("DIRECTCOSTS",)
OTHER_INCOME = ("OTHERINCOME",)
EXPENSES = ("EXPENSE", "OVERHEADS", "DEPRECIATN")
PL_TYPES = INCOME + DIRECT + OTHER_INCOME + EXPENSES


@dataclass
class ReportContext:
    store: TenantStore
    params: Mapping[str, str]
    now_ms: int

    @property
    def books(self) -> Ledger:
        return self.store.books

    @property
    def organisation(self) -> Record:
        return self.store.table("Organisation").records[0]

    @property
    def org_name(self) -> str:
        return str(self.organisation.get("Name", ""))

    @property
    def today(self) -> int:
        return today(self.now_ms)

    @property
    def cash(self) -> bool:
        return self.flag("paymentsOnly")

    def accounts(self) -> dict[str, Account]:
        return self.books.accounts()

    def fy_start(self, ms: int) -> int:
        org = self.organisation
        return year_start(
            ms, int(org.get("FinancialYearEndDay", 31)), int(org.get("FinancialYearEndMonth", 12))
        )

    def created_ms(self) -> int:
        return parse_net_date(str(self.organisation.get("CreatedDateUTC", ""))) or 0

    # -- parameters (query names are case-insensitive on Xero, as paths are) ----------
    def get(self, name: str) -> str | None:
        lower = name.lower()
        for key, value in self.params.items():
            if key.lower() == lower:
                return value
        return None

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if value is None or value == "":
            return False
        if value.lower() not in ("true", "false"):
            raise ReportError(f"{name} must be true or false, not {value!r}")
        return value.lower() == "true"

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise ReportError(f"{name} must be an integer, not {value!r}") from None
        if not low <= number <= high:
            raise ReportError(f"{name} must be between {low} and {high}, not {number}")
        return number

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = (self.get(name) or default).upper()
        if value not in options:
            raise ReportError(f"{name} must be one of {', '.join(options)}, not {value!r}")
        return value

    def tracking_category(self, name: str) -> Record | None:
        """The tracking category a parameter names, or 400 if there is none such."""
        wanted = (self.get(name) or "").strip().lower()
        if not wanted:
            return None
        for category in self.store.table("TrackingCategories").records:
            if str(category.get("TrackingCategoryID", "")).lower() == wanted:
                return category
        raise ReportError(f"{name} {wanted} is not a tracking category of this organisation")


def signed(balances: Mapping[str, Decimal], code: str, sign: int) -> Decimal:
    return sign * balances.get(code, Decimal(0))


def profit(balances: Mapping[str, Decimal], accounts: Mapping[str, Account]) -> Decimal:
    """Net profit of P&L balances: credits less debits of the P&L accounts."""
    return -sum(
        (v for code, v in balances.items() if code in accounts and accounts[code].type in PL_TYPES),
        Decimal(0),
    )

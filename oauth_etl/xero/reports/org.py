"""What the report planner and parser need to know about one organisation.

From the Organisation endpoint's record (xero_accounting.yaml, schema Organisation:
FinancialYearEndDay/Month, PeriodLockDate and EndOfYearLockDate "Shown if set",
BaseCurrency, CountryCode, CreatedDateUTC) and the chart of accounts (Accounts endpoint:
AccountID -> Code).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from oauth_etl.xero.dates import parse_xero_datetime


@dataclass(frozen=True)
class Organisation:
    """The facts of one tenant that shape its report plan and its cells."""

    tenant_id: str
    base_currency: str | None = None
    country: str | None = None
    financial_year_end_day: int = 31
    financial_year_end_month: int = 12
    period_lock_date: dt.date | None = None
    end_of_year_lock_date: dt.date | None = None
    created: dt.date | None = None  # CreatedDateUTC: nothing was posted before it
    account_codes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "account_codes", MappingProxyType(dict(self.account_codes)))
        if not 1 <= self.financial_year_end_month <= 12:
            raise ValueError(f"FinancialYearEndMonth {self.financial_year_end_month} not 1-12")
        if not 1 <= self.financial_year_end_day <= 31:
            raise ValueError(f"FinancialYearEndDay {self.financial_year_end_day} not 1-31")

    @property
    def lock_date(self) -> dt.date | None:
        """The later of the two lock dates: on or before it nothing can change (spec
        Organisation.PeriodLockDate / EndOfYearLockDate, "See lock dates")."""
        dates = [d for d in (self.period_lock_date, self.end_of_year_lock_date) if d]
        return max(dates) if dates else None

    def year_end(self, year: int) -> dt.date:
        """The financial year end falling in calendar `year` (day clamped to the month)."""
        month = self.financial_year_end_month
        last = calendar.monthrange(year, month)[1]
        return dt.date(year, month, min(self.financial_year_end_day, last))

    @classmethod
    def from_records(
        cls,
        tenant_id: str,
        organisation: Mapping[str, Any],
        accounts: Iterable[Mapping[str, Any]] = (),
    ) -> Organisation:
        """From the Organisation record and the Accounts records, as Xero answers them."""
        return cls(
            tenant_id=tenant_id,
            base_currency=_text(organisation.get("BaseCurrency")),
            country=_text(organisation.get("CountryCode")),
            financial_year_end_day=int(organisation.get("FinancialYearEndDay") or 31),
            financial_year_end_month=int(organisation.get("FinancialYearEndMonth") or 12),
            period_lock_date=_date(organisation.get("PeriodLockDate")),
            end_of_year_lock_date=_date(organisation.get("EndOfYearLockDate")),
            created=_date(organisation.get("CreatedDateUTC")),
            account_codes={
                str(a["AccountID"]).lower(): str(a["Code"])
                for a in accounts
                if a.get("AccountID") and a.get("Code")
            },
        )


def _text(value: object) -> str | None:
    return str(value) if value else None


def _date(value: object) -> dt.date | None:
    if not isinstance(value, str) or not value:
        return None
    return parse_xero_datetime(value).date()

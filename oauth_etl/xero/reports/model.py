"""What a report reading is, as data: the contract between the Reports API client
(`oauth_etl.xero.reports`), the report tables (`oauth_etl.tables.reports`) and the
Dagster assets and checks (`oauth_etl.defs.reports`).

Xero answers every report as a tree (xero_accounting.yaml, schema `ReportWithRows`:
Header / Section / Row / SummaryRow rows of Cells with Attributes). A reading flattens
that tree into one `ReportCell` per value cell: the long format a reporting tool reads
without parsing Xero's rows. A multi-period call (`periods` + `timeframe`) yields one
cell per period column; a tracking split yields one per tracking option column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum


class Basis(Enum):
    """Accrual, or cash (`paymentsOnly=true`, xero_accounting.yaml getReportProfitAndLoss)."""

    ACCRUAL = "accrual"
    CASH = "cash"


@dataclass(frozen=True, order=True)
class Period:
    """A reporting period: a month (P&L), or a single date (start == end: balance sheet,
    trial balance, aged reports: figures as at the end of that day)."""

    start: dt.date
    end: dt.date


# The parameters that say which dates a call covers (xero_accounting.yaml, the
# `/Reports/...` operations); the others slice the report (basis, tracking, contact).
PERIOD_PARAMS = frozenset({"fromDate", "toDate", "date", "periods", "timeframe", "reportYear"})


@dataclass(frozen=True)
class ReportRequest:
    """One call of a report endpoint: what to ask for and which periods it covers."""

    report: str  # catalog name, snake case: "profit_and_loss"
    params: tuple[tuple[str, str], ...]  # query parameters, in a stable order
    periods: tuple[Period, ...]  # the periods (columns) this call answers, oldest first
    basis: Basis = Basis.ACCRUAL
    tracking_category_id: str | None = None

    @property
    def key(self) -> str:
        """Stable identity of the call: resumable plans skip the keys already read."""
        query = "&".join(f"{name}={value}" for name, value in self.params)
        return f"{self.report}?{query}"

    @property
    def slice(self) -> str:
        """The call's parameters other than its dates: basis, tracking, contact."""
        return "&".join(f"{n}={v}" for n, v in self.params if n not in PERIOD_PARAMS)

    @property
    def period_keys(self) -> tuple[str, ...]:
        """One key per period of this call, the same whichever call reads that period:
        what a plan records as read once the period is final."""
        return tuple(
            f"{self.report}?{self.slice}@{p.start.isoformat()}/{p.end.isoformat()}"
            for p in self.periods
        )


@dataclass(frozen=True)
class ReportCell:
    """One value of one report row in one column: a row of the long-format table."""

    tenant_id: str
    report: str  # catalog name: "profit_and_loss"
    report_id: str  # Xero's ReportID ("ProfitAndLoss"; the published reports' GUID)
    basis: Basis
    period_start: dt.date
    period_end: dt.date
    # Titled Sections from the root, as Xero nests them: ("Income",), ("Bank",); a row in
    # an untitled Section (Gross Profit, Net Profit) has ().
    section_path: tuple[str, ...]
    row_index: int  # the row's position in the report, from 0: keeps Xero's order
    # "Row" | "SummaryRow" (xero_accounting.yaml, schema RowType); "Field" for a published
    # report's Fields, "Contact" for a 1099 contact's boxes (neither answer has rows).
    row_type: str
    label: str  # the row's first cell: the account name or "Total Income"
    column: str  # the column's header cell: "31 Mar 2026", "Debit", "YTD Credit", an option
    value: Decimal | None  # the cell as a number; None when it is not one
    text: str | None  # the cell as Xero wrote it when it is not a number (else None)
    account_id: str | None = None  # from the cell attribute Id "account" (AccountID)
    account_code: str | None = None  # the account's Code, from the chart of accounts
    tracking_category_id: str | None = None
    tracking_option: str | None = None  # the column's tracking option name, in a split
    currency: str | None = None  # the organisation's base currency
    as_read_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    # Every attribute of the cell other than the account (Id -> Value): "invoiceID" on
    # the aged reports' document rows, "ContactId" on a 1099 contact.
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Reading:
    """One call's answer, flattened: the request it answered and its cells."""

    request: ReportRequest
    cells: Sequence[ReportCell]

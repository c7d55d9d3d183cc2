"""Xero's reports, as data (as `oauth_etl.xero.catalog` is for the endpoints).

Paths, operation ids and parameter names are those of the vendored spec
(specs/xero-openapi/xero_accounting.yaml, the `/Reports...` operations; a test keeps them
equal). The spec's `security` names only the broad `accounting.reports.read` (plus
`accounting.reports.tenninetynine.read` on getReportTenNinetyNine). Apps created from
2 March 2026 get granular scopes instead (developer.xero.com/faq/granular-scopes, which
names none and points to the Scopes page). Where each granular report scope is named:
- No developer.xero.com page we could read names any (our copy of
  developer.xero.com/documentation/oauth2/scopes lists only `accounting.reports.read`).
- `accounting.reports.profitandloss.read`, `.balancesheet.read`, `.trialbalance.read`,
  `.aged.read`: Xero's own repositories github.com/XeroAPI/xero-mcp-server (README,
  "Required Scopes for Bearer Token"), XeroAPI/xero-command-line (src/lib/oauth.ts) and
  XeroAPI/xero-prompt-library (python/SKILL.md: `.aged.read` covers both aged reports).
- `.banksummary.read`, `.budgetsummary.read`, `.executivesummary.read`, `.taxreports.read`
  (GSTReport, BASReport: the published returns): only XeroAPI/xero-prompt-library
  (python/SKILL.md, its table of the scopes replacing `accounting.reports.read`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

BROAD_SCOPE = "accounting.reports.read"


class PeriodKind(Enum):
    """How a report is told which period it covers."""

    RANGE = "range"  # fromDate/toDate; with periods + timeframe: one column per month
    AS_AT = "as_at"  # date: the figures at the end of that day (with periods: month-ends)
    MONTHS = "months"  # date = the first month, periods = how many month columns (budget)
    YEAR = "year"  # reportYear: a calendar year (1099)
    NONE = "none"  # no period parameter (the list of published reports, one of them)


@dataclass(frozen=True)
class Report:
    """One report endpoint and how to ask it."""

    name: str  # snake case, the catalog name: "profit_and_loss"
    report_id: str  # Xero's ReportID ("ProfitAndLoss"); "" where a GUID names each one
    path: str  # under /api.xro/2.0/: "Reports/ProfitAndLoss"
    operation_id: str  # xero_accounting.yaml operationId
    period_kind: PeriodKind
    params: tuple[str, ...]  # the query (and path) parameters the spec gives it
    granular_scope: str  # what an app created from March 2026 needs
    description: str
    # The largest `periods` one call may ask for, None where it takes none: comparison
    # periods before the asked one (P&L, balance sheet), or columns (the budget's).
    max_periods: int | None = None
    periods_compare: bool = True
    per_contact: bool = False  # `contactId` is required: one call per contact
    countries: frozenset[str] | None = None  # only organisations of these countries
    broad_scope: str = BROAD_SCOPE
    schema: str = "ReportWithRows"  # the spec schema of its 200 answer

    @property
    def max_columns(self) -> int:
        """The most periods (columns) one call answers."""
        if self.max_periods is None:
            return 1
        return self.max_periods + 1 if self.periods_compare else self.max_periods

    @property
    def scopes(self) -> tuple[str, ...]:
        """Any one of these lets a token read the report, broad first."""
        return (self.broad_scope, self.granular_scope)


_G = "accounting.reports.{}.read"

REPORTS: tuple[Report, ...] = (
    # periods "between 1 and 12" comparisons (spec getReportProfitAndLoss, periods): 11
    # plus the asked period is 12 monthly columns, newest first (sandbox README, Reports).
    Report(
        "profit_and_loss",
        "ProfitAndLoss",
        "Reports/ProfitAndLoss",
        "getReportProfitAndLoss",
        PeriodKind.RANGE,
        (
            "fromDate",
            "toDate",
            "periods",
            "timeframe",
            "trackingCategoryID",
            "trackingCategoryID2",
            "trackingOptionID",
            "trackingOptionID2",
            "standardLayout",
            "paymentsOnly",
        ),
        _G.format("profitandloss"),
        "Income and expenses over a period; by month, by tracking option, accrual or cash.",
        max_periods=11,
    ),
    # The spec gives BalanceSheet's `periods` no range; 11 comparisons is what third-party
    # guides to Xero's API give (the sandbox follows them), 12 month-ends a call.
    Report(
        "balance_sheet",
        "BalanceSheet",
        "Reports/BalanceSheet",
        "getReportBalanceSheet",
        PeriodKind.AS_AT,
        (
            "date",
            "periods",
            "timeframe",
            "trackingOptionID1",
            "trackingOptionID2",
            "standardLayout",
            "paymentsOnly",
        ),
        _G.format("balancesheet"),
        "Assets, liabilities and equity as at a date; month-ends with periods.",
        max_periods=11,
    ),
    Report(
        "trial_balance",
        "TrialBalance",
        "Reports/TrialBalance",
        "getReportTrialBalance",
        PeriodKind.AS_AT,
        ("date", "paymentsOnly"),
        _G.format("trialbalance"),
        "Debits and credits per account as at a date (the month and year to date).",
    ),
    Report(
        "bank_summary",
        "BankSummary",
        "Reports/BankSummary",
        "getReportBankSummary",
        PeriodKind.RANGE,
        ("fromDate", "toDate"),
        _G.format("banksummary"),
        "Opening, received, spent and closing per bank account over a period.",
    ),
    # periods "between 1 and 12", timeframe 1/3/12 (spec getReportBudgetSummary).
    Report(
        "budget_summary",
        "BudgetSummary",
        "Reports/BudgetSummary",
        "getReportBudgetSummary",
        PeriodKind.MONTHS,
        ("date", "periods", "timeframe"),
        _G.format("budgetsummary"),
        "The overall budget by month, from the first month asked for.",
        max_periods=12,
        periods_compare=False,
    ),
    Report(
        "executive_summary",
        "ExecutiveSummary",
        "Reports/ExecutiveSummary",
        "getReportExecutiveSummary",
        PeriodKind.AS_AT,
        ("date",),
        _G.format("executivesummary"),
        "Cash, profitability and balance sheet figures for the month of a date and the one before.",
    ),
    *(
        Report(
            f"aged_{side}_by_contact",
            f"Aged{side.title()}ByContact",
            f"Reports/Aged{side.title()}ByContact",
            f"getReportAged{side.title()}ByContact",
            PeriodKind.AS_AT,
            ("contactId", "date", "fromDate", "toDate"),
            _G.format("aged"),
            f"One {who}'s outstanding {what} by age, as at a date.",
            per_contact=True,
        )
        for side, who, what in (
            ("receivables", "customer", "invoices"),
            ("payables", "supplier", "bills"),
        )
    ),
    # A US tax form; the answer is schema `Reports` (contacts and boxes), not rows.
    Report(
        "ten_ninety_nine",
        "TenNinetyNine",
        "Reports/TenNinetyNine",
        "getReportTenNinetyNine",
        PeriodKind.YEAR,
        ("reportYear",),
        _G.format("tenninetynine"),
        "1099-NEC: payments to each supplier in a calendar year (US organisations).",
        countries=frozenset({"US"}),
        schema="Reports",
    ),
    # "the organisation's unique reports that require a uuid to fetch" (spec
    # getReportsList): GST returns (NZ), activity statements (AU).
    Report(
        "published_reports",
        "",
        "Reports",
        "getReportsList",
        PeriodKind.NONE,
        (),
        _G.format("taxreports"),
        "The organisation's published reports (GST returns, BAS), each with its ReportID.",
    ),
    Report(
        "published_report",
        "",
        "Reports/{ReportID}",
        "getReportFromId",
        PeriodKind.NONE,
        ("ReportID",),
        _G.format("taxreports"),
        "One published report by its ReportID: its figures as Fields.",
    ),
)

BY_NAME: dict[str, Report] = {r.name: r for r in REPORTS}


def report(name: str) -> Report:
    """The catalog entry by catalog name ("profit_and_loss")."""
    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise KeyError(f"unknown report {name!r}: one of {known}") from None


def granular_scopes() -> tuple[str, ...]:
    """Every report's granular scope, once each, in catalog order."""
    return tuple(dict.fromkeys(r.granular_scope for r in REPORTS))

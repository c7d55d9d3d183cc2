"""The report tables' names and columns, and the labels of Xero's report rows the checks
read: data, in one place.

Row and column labels are Xero's (xero_accounting.yaml, the examples of
getReportTrialBalance, getReportBalanceSheet, getReportProfitAndLoss,
getReportBankSummary, getReportAgedReceivablesByContact): a reporting tool filters on
the same text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oauth_etl.tables.model import BATCH, TENANT
from oauth_etl.xero.reports.catalog import REPORTS, Report

if TYPE_CHECKING:  # pyarrow loads where tables are written, not with the definitions
    import pyarrow as pa

# One long-format table per report, and its wide monthly view, under the tables root.
TABLE_PREFIX = "report_"
MONTHLY_SUFFIX = "_monthly"

# Catalog names (model.ReportRequest.report) the checks read.
PROFIT_AND_LOSS = "profit_and_loss"
BALANCE_SHEET = "balance_sheet"
TRIAL_BALANCE = "trial_balance"
BANK_SUMMARY = "bank_summary"
AGED_RECEIVABLES = "aged_receivables_by_contact"

# Trial balance columns (getReportTrialBalance example: Account, Debit, Credit, YTD ...).
DEBIT, CREDIT, YTD_DEBIT, YTD_CREDIT = "Debit", "Credit", "YTD Debit", "YTD Credit"
TB_PROFIT_SECTIONS = frozenset({"Revenue", "Expenses"})  # YTD over the financial year
TB_TOTAL = "Total"
# Account types of the profit and loss (xero_accounting.yaml, schema AccountType): their
# earlier years' lines are the trial balance's retained earnings.
PROFIT_AND_LOSS_TYPES = frozenset(
    {"REVENUE", "SALES", "OTHERINCOME", "EXPENSE", "DIRECTCOSTS", "OVERHEADS", "DEPRECIATN"}
)
# Balance sheet rows (getReportBalanceSheet example).
TOTAL_ASSETS, TOTAL_LIABILITIES, TOTAL_EQUITY = "Total Assets", "Total Liabilities", "Total Equity"
EQUITY_SECTION = "Equity"
CURRENT_YEAR_EARNINGS = "Current Year Earnings"
BANK_SECTION = "Bank"
# Profit and loss: sections whose title starts so are subtracted (getReportProfitAndLoss
# example: "Less Cost of Sales", "Less Operating Expenses").
SUBTRACTED_PREFIX = "Less "
NET_PROFIT = "Net Profit"
# Bank summary (getReportBankSummary example) and aged receivables (the spec's example of
# getReportAgedReceivablesByContact: the contact's Closing Balance, column Due).
CLOSING_BALANCE_COLUMN = "Closing Balance"
AGED_CLOSING_ROW = "Closing Balance"
AGED_DUE_COLUMN = "Due"

# Long-format columns, in order. `_batch_id`: the landed batch the reading came from.
PERIOD_START, PERIOD_END, AS_READ_AT = "period_start", "period_end", "as_read_at"
READING_COLUMNS: tuple[tuple[str, str], ...] = (
    (TENANT, "string"),
    ("report", "string"),
    ("report_id", "string"),
    ("basis", "string"),
    ("tracking_category_id", "string"),
    ("contact_id", "string"),
    (PERIOD_START, "date32[day]"),
    (PERIOD_END, "date32[day]"),
    ("section_path", "list<element: string>"),
    ("section", "string"),
    ("row_index", "int32"),
    ("row_type", "string"),
    ("label", "string"),
    ("column", "string"),
    ("tracking_option", "string"),
    ("account_id", "string"),
    ("account_code", "string"),
    ("value", "decimal128(28, 10)"),
    ("text", "string"),
    ("currency", "string"),
    ("attributes", "string"),
    (AS_READ_AT, "timestamp[us, tz=UTC]"),
    ("request_key", "string"),
    (BATCH, "string"),
)
# Which readings of a period replace each other: the same report, basis, split and
# contact (an aged report is read per contact).
READING_SCOPE = ("basis", "tracking_category_id", "contact_id", PERIOD_START, PERIOD_END)
# The wide monthly view: one row per report line, one column per month (YYYY-MM).
MONTHLY_KEYS: tuple[str, ...] = (
    TENANT,
    "report",
    "basis",
    "tracking_category_id",
    "tracking_option",
    "contact_id",
    "section",
    "row_type",
    "label",
    "account_id",
    "account_code",
    "measure",  # the column's header when a period has several (Debit, YTD Credit ...)
)
MONTHLY_TAIL: tuple[str, ...] = ("row_order", "currency", AS_READ_AT)
DECIMAL = (28, 10)


# The list of published reports (getReportsList) holds no figures: it lands (each
# return's ReportID and period, what plans `published_report`) and makes no table.
LANDED_ONLY = frozenset({"published_reports"})
# A published return (GST, BAS) is one quarter's Fields (G1, 1A, 1B), not months: its
# long table holds them, a monthly view would spread one quarter over one month column.
NO_MONTHLY = frozenset({"published_report"})


def tabulated() -> tuple[Report, ...]:
    return tuple(r for r in REPORTS if r.name not in LANDED_ONLY)


def has_monthly(report: str) -> bool:
    return report not in NO_MONTHLY


def report_table_names() -> tuple[str, ...]:
    """Every report table and monthly view (what the upkeep job visits too)."""
    out = []
    for r in tabulated():
        out.append(table_name(r.name))
        if has_monthly(r.name):
            out.append(monthly_name(r.name))
    return tuple(out)


def table_name(report: str) -> str:
    """`profit_and_loss` -> `report_profit_and_loss`."""
    return f"{TABLE_PREFIX}{report}"


def monthly_name(report: str) -> str:
    return f"{TABLE_PREFIX}{report}{MONTHLY_SUFFIX}"


def month_column(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def reading_schema() -> pa.Schema:
    import pyarrow as pa

    types = {
        "string": pa.string(),
        "date32[day]": pa.date32(),
        "list<element: string>": pa.list_(pa.field("element", pa.string())),
        "int32": pa.int32(),
        "decimal128(28, 10)": pa.decimal128(*DECIMAL),
        "timestamp[us, tz=UTC]": pa.timestamp("us", tz="UTC"),
    }
    fields = [
        pa.field(name, types[kind], nullable=name != TENANT) for name, kind in READING_COLUMNS
    ]
    return pa.schema(fields)

"""The scopes of Xero's reports: the broad one and the granular ones (data only).

Older apps read every report with `accounting.reports.read` (xero_accounting.yaml,
the `security` of each `/Reports/...` operation; developer.xero.com/documentation
/oauth2/scopes lists the reports it covers, BASReport and GSTReport among them). Apps
created from 2 March 2026 get granular scopes instead (developer.xero.com/faq/granular-
scopes, which names none). No developer.xero.com page we could read names a granular
report scope. Xero's own repositories do:
- `.profitandloss.read`, `.balancesheet.read`, `.trialbalance.read`, `.aged.read`:
  github.com/XeroAPI/xero-mcp-server (README), XeroAPI/xero-command-line
  (src/lib/oauth.ts), XeroAPI/xero-prompt-library (python/SKILL.md);
- `.banksummary.read`, `.budgetsummary.read`, `.executivesummary.read`, `.taxreports.read`
  (GSTReport, BASReport): XeroAPI/xero-prompt-library (python/SKILL.md) only.
`accounting.reports.tenninetynine.read` predates the split and stays (the spec's
getReportTenNinetyNine security lists it).
"""

from __future__ import annotations

BROAD = "accounting.reports.read"
TEN_NINETY_NINE = "accounting.reports.tenninetynine.read"
# Report path segment -> its granular scope ("" is the list of published reports,
# "{ReportID}" one of them: GST and BAS returns, the tax reports).
GRANULAR: dict[str, str] = {
    "ProfitAndLoss": "accounting.reports.profitandloss.read",
    "BalanceSheet": "accounting.reports.balancesheet.read",
    "TrialBalance": "accounting.reports.trialbalance.read",
    "AgedReceivablesByContact": "accounting.reports.aged.read",
    "AgedPayablesByContact": "accounting.reports.aged.read",
    "BankSummary": "accounting.reports.banksummary.read",
    "BudgetSummary": "accounting.reports.budgetsummary.read",
    "ExecutiveSummary": "accounting.reports.executivesummary.read",
    "TenNinetyNine": TEN_NINETY_NINE,
    "": "accounting.reports.taxreports.read",
    "{ReportID}": "accounting.reports.taxreports.read",
}
REPORT_SCOPES: frozenset[str] = frozenset({BROAD, *GRANULAR.values()})


def scopes_for(report: str) -> frozenset[str]:
    """Any one of these lets a token read the report."""
    return frozenset({BROAD, GRANULAR[report]})

"""The report checks on the sandbox's books, over HTTP: every check passes on Xero-shaped
answers of both organisations, and fails when the sandbox serves one figure a cent off."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from oauth_etl.tables import report_checks as checks
from oauth_etl.tables.report_checks import CheckResult
from oauth_etl_tests.reports.conftest import Books, months_before

Check = Callable[[Books], CheckResult]


def _trial_balance(books: Books) -> CheckResult:
    months = months_before(books.today(), 3)
    cells = [c for m in months for c in books.trial_balance(m.end).cells]
    return checks.trial_balance_balances(cells)


def _balance_sheet(books: Books) -> CheckResult:
    return checks.balance_sheet_balances(
        books.balance_sheet(months_before(books.today(), 12)).cells
    )


def _net_profit(books: Books) -> CheckResult:
    months = months_before(books.today(), 12)
    return checks.net_profit_matches_earnings(
        books.profit_and_loss(months).cells,
        books.balance_sheet(months).cells,
        organisation=books.organisation(),
    )


def _bank_summary(books: Books) -> CheckResult:
    months = months_before(books.today(), 3)
    summaries = [c for m in months for c in books.bank_summary(m).cells]
    return checks.bank_summary_matches_balance_sheet(summaries, books.balance_sheet(months).cells)


def _aged_receivables(books: Books) -> CheckResult:
    (month,) = months_before(books.today(), 1)
    aged = [c for reading in books.aged_receivables(month.end) for c in reading.cells]
    return checks.aged_receivables_match_balance_sheet(
        aged, books.balance_sheet([month]).cells, [books.system_account("DEBTORS")]
    )


def _journals(books: Books) -> CheckResult:
    months = months_before(books.today(), 3)
    return checks.journals_match_trial_balance(
        books.postings(),
        [c for m in months for c in books.trial_balance(m.end).cells],
        retained_earnings=books.system_account("RETAINEDEARNINGS"),
        organisation=books.organisation(),
    )


CHECKS: dict[str, Check] = {
    "trial_balance_balances": _trial_balance,
    "balance_sheet_balances": _balance_sheet,
    "net_profit_matches_earnings": _net_profit,
    "bank_summary_matches_balance_sheet": _bank_summary,
    "aged_receivables_match_balance_sheet": _aged_receivables,
    "journals_match_trial_balance": _journals,
}


@pytest.mark.parametrize("name", list(CHECKS))
def test_each_check_agrees_to_the_cent_on_the_books(books: Books, name: str) -> None:
    result = CHECKS[name](books)
    assert result.check == name
    assert result.passed, result.describe()
    assert result.comparisons, result.describe()
    metadata = result.metadata()
    assert metadata["compared"] == len(result.comparisons) and metadata["differing"] == 0
    assert all(f["difference"] in ("0", "0.00") for f in metadata["figures"])


def test_net_profit_is_compared_for_every_month_with_both_month_ends(books: Books) -> None:
    result = _net_profit(books)
    movements = [c for c in result.comparisons if "Current Year Earnings" in c.what]
    # 12 months: the oldest has no month-end before it unless a financial year starts there.
    assert len(movements) >= 11, result.notes


# (report served wrong, its row, the check that must fail). Each skew is one cent.
SKEWS = [
    ("TrialBalance", "Sales (200)", "trial_balance_balances"),
    ("TrialBalance", "Total", "trial_balance_balances"),
    ("BalanceSheet", "Accounts Receivable", "balance_sheet_balances"),
    ("BalanceSheet", "Total Assets", "balance_sheet_balances"),
    ("ProfitAndLoss", "Sales", "net_profit_matches_earnings"),
    ("ProfitAndLoss", "Net Profit", "net_profit_matches_earnings"),
    ("BalanceSheet", "Current Year Earnings", "net_profit_matches_earnings"),
    ("BankSummary", "Business Bank Account", "bank_summary_matches_balance_sheet"),
    ("BalanceSheet", "Business Savings Account", "bank_summary_matches_balance_sheet"),
    ("AgedReceivablesByContact", "Closing Balance", "aged_receivables_match_balance_sheet"),
    ("BalanceSheet", "Accounts Receivable", "aged_receivables_match_balance_sheet"),
    ("TrialBalance", "Accounts Receivable (610)", "journals_match_trial_balance"),
]


@pytest.mark.parametrize(("report", "row", "name"), SKEWS)
def test_a_cent_off_fails_the_check(books: Books, report: str, row: str, name: str) -> None:
    books.skew(report, row, "0.01")
    result = CHECKS[name](books)
    assert not result.passed, f"{report} {row}: {result.describe()}"
    assert min(abs(c.difference) for c in result.failures) == Decimal("0.01") or name.startswith(
        "aged"  # each contact's closing balance is a cent off: the sum is off by more
    )
    assert "differ" in result.describe()
    assert result.metadata()["differing"] == len(result.failures)

"""Checks that prove the report figures: pure functions over cells, each returning the
figures it compared, failing on any difference (a cent is a difference: amounts are
compared exactly, as the decimals Xero wrote).

Every check recomputes a total from the report's own lines, so a single wrong line
fails it even where Xero's printed totals still agree with each other:
- `trial_balance_balances`: per date, the account lines' debits equal their credits (the
  month's and the year-to-date columns), and each equals the Total line;
- `balance_sheet_balances`: per date, asset lines = liability lines + equity lines, and
  each side equals its printed total;
- `net_profit_matches_earnings`: per month, the P&L's lines add up to its Net Profit,
  which equals the movement of the balance sheet's Current Year Earnings between the
  month-ends around it (from zero in the financial year's first month);
- `bank_summary_matches_balance_sheet`: each bank account's closing balance equals its
  balance sheet line at the period's end;
- `aged_receivables_match_balance_sheet`: the contacts' closing balances due add up to
  the balance sheet's accounts receivable on the same date;
- `journals_match_trial_balance`: the trial balance rebuilt from the journal lines equals
  the report, account by account (month and year to date).

Cells are one reading per period (`oauth_etl.tables.reports.latest`); tracking splits are
not compared (a check is about the whole organisation).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oauth_etl.tables.reports_layout import (
    AGED_CLOSING_ROW,
    AGED_DUE_COLUMN,
    BANK_SECTION,
    CLOSING_BALANCE_COLUMN,
    CREDIT,
    CURRENT_YEAR_EARNINGS,
    DEBIT,
    EQUITY_SECTION,
    NET_PROFIT,
    SUBTRACTED_PREFIX,
    TB_TOTAL,
    TOTAL_ASSETS,
    TOTAL_EQUITY,
    TOTAL_LIABILITIES,
    YTD_CREDIT,
    YTD_DEBIT,
)
from oauth_etl.xero.reports.model import Basis, ReportCell
from oauth_etl.xero.reports.months import year_of
from oauth_etl.xero.reports.org import Organisation

ZERO = Decimal(0)
SHOWN = 50  # comparisons listed in the metadata (failures first)


@dataclass(frozen=True)
class Comparison:
    """Two figures that must be equal."""

    what: str  # "2026-03-31 accrual: debits = credits"
    left: Decimal
    right: Decimal

    @property
    def difference(self) -> Decimal:
        return self.left - self.right

    @property
    def equal(self) -> bool:
        return self.left == self.right

    def as_dict(self) -> dict[str, str]:
        return {
            "what": self.what,
            "left": str(self.left),
            "right": str(self.right),
            "difference": str(self.difference),
        }


@dataclass(frozen=True)
class CheckResult:
    check: str
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...] = ()  # what could not be compared, and why

    @property
    def failures(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if not c.equal)

    @property
    def passed(self) -> bool:
        return not self.failures

    def describe(self) -> str:
        if not self.comparisons:
            return f"{self.check}: nothing to compare yet" + "".join(f"; {n}" for n in self.notes)
        if self.passed:
            return f"{self.check}: {len(self.comparisons)} figure(s) agree to the cent"
        worst = self.failures[0]
        return (
            f"{self.check}: {len(self.failures)} of {len(self.comparisons)} figure(s) differ, "
            f"first {worst.what}: {worst.left} vs {worst.right} "
            f"(difference {worst.difference})"
        )

    def metadata(self) -> dict[str, Any]:
        """Plain values: counts, and the figures compared (failures first)."""
        shown = [*self.failures, *(c for c in self.comparisons if c.equal)][:SHOWN]
        return {
            "compared": len(self.comparisons),
            "differing": len(self.failures),
            "figures": [c.as_dict() for c in shown],
            "notes": list(self.notes),
        }


@dataclass
class _Builder:
    check: str
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def compare(self, what: str, left: Decimal, right: Decimal) -> None:
        self.comparisons.append(Comparison(what, left, right))

    def result(self) -> CheckResult:
        return CheckResult(self.check, tuple(self.comparisons), tuple(self.notes))


Key = tuple[Basis, dt.date]  # (basis, period end)


def _whole(cells: Iterable[ReportCell]) -> list[ReportCell]:
    """The organisation's figures: tracking splits left out."""
    return [c for c in cells if c.tracking_category_id is None and c.tracking_option is None]


def _by_date(cells: Iterable[ReportCell]) -> dict[Key, list[ReportCell]]:
    out: defaultdict[Key, list[ReportCell]] = defaultdict(list)
    for cell in _whole(cells):
        out[(cell.basis, cell.period_end)].append(cell)
    ordered = sorted(out.items(), key=lambda kv: (kv[0][0].value, kv[0][1]))
    return {k: sorted(v, key=lambda c: c.row_index) for k, v in ordered}


def _title(cell: ReportCell) -> str:
    return cell.section_path[-1] if cell.section_path else ""


def _line(cell: ReportCell) -> bool:
    """A line of a titled section (an account, Current Year Earnings), not a total or a
    computed row of an untitled section (Gross Profit, Net Assets)."""
    return cell.row_type == "Row" and bool(_title(cell))


def _amount(cell: ReportCell) -> Decimal:
    return cell.value if cell.value is not None else ZERO


def _label(key: Key) -> str:
    return f"{key[1].isoformat()} {key[0].value}"


def _sum(cells: Iterable[ReportCell]) -> Decimal:
    return sum((_amount(c) for c in cells), ZERO)


def trial_balance_balances(cells: Iterable[ReportCell]) -> CheckResult:
    out = _Builder("trial_balance_balances")
    for key, found in _by_date(cells).items():
        lines = [c for c in found if _line(c)]
        totals = {c.column: _amount(c) for c in found if c.row_type == "SummaryRow"}
        for debit, credit in ((DEBIT, CREDIT), (YTD_DEBIT, YTD_CREDIT)):
            debits = _sum(c for c in lines if c.column == debit)
            credits = _sum(c for c in lines if c.column == credit)
            out.compare(f"{_label(key)}: {debit} = {credit}", debits, credits)
            for column, figure in ((debit, debits), (credit, credits)):
                if column in totals:
                    out.compare(
                        f"{_label(key)}: {column} lines = {TB_TOTAL}", figure, totals[column]
                    )
    return out.result()


def _balance_sides(found: Sequence[ReportCell]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """The sides' sums (assets, liabilities, equity) from the lines in report order, and
    the printed totals: lines before Total Assets are assets, then liabilities until Total
    Liabilities, and the Equity section's lines are equity."""
    sides = {"assets": ZERO, "liabilities": ZERO, "equity": ZERO}
    totals: dict[str, Decimal] = {}
    side = "assets"
    for cell in found:
        if cell.row_type == "SummaryRow" and cell.label in (TOTAL_ASSETS, TOTAL_LIABILITIES):
            totals[cell.label] = _amount(cell)
            side = "liabilities" if cell.label == TOTAL_ASSETS else "between"
        elif cell.row_type == "SummaryRow" and cell.label == TOTAL_EQUITY:
            totals[cell.label] = _amount(cell)
        elif _line(cell) and _title(cell) == EQUITY_SECTION:
            sides["equity"] += _amount(cell)
        elif _line(cell) and side in sides:
            sides[side] += _amount(cell)
    return sides, totals


def balance_sheet_balances(cells: Iterable[ReportCell]) -> CheckResult:
    out = _Builder("balance_sheet_balances")
    for key, found in _by_date(cells).items():
        sides, totals = _balance_sides(found)
        out.compare(
            f"{_label(key)}: assets = liabilities + equity",
            sides["assets"],
            sides["liabilities"] + sides["equity"],
        )
        for side, total in (
            ("assets", TOTAL_ASSETS),
            ("liabilities", TOTAL_LIABILITIES),
            ("equity", TOTAL_EQUITY),
        ):
            if total in totals:
                out.compare(f"{_label(key)}: {side} lines = {total}", sides[side], totals[total])
    return out.result()


def _earnings(cells: Sequence[ReportCell]) -> Decimal | None:
    found = [c for c in cells if c.label == CURRENT_YEAR_EARNINGS and c.row_type == "Row"]
    return _sum(found) if found else None


def net_profit_matches_earnings(
    profit_and_loss: Iterable[ReportCell],
    balance_sheet: Iterable[ReportCell],
    *,
    organisation: Organisation,
) -> CheckResult:
    out = _Builder("net_profit_matches_earnings")
    sheets = _by_date(balance_sheet)
    for (basis, end), found in _by_date(profit_and_loss).items():
        start = found[0].period_start
        what = f"{start.isoformat()}..{end.isoformat()} {basis.value}"
        lines = [c for c in found if _line(c)]
        computed = _sum(c for c in lines if not _title(c).startswith(SUBTRACTED_PREFIX)) - _sum(
            c for c in lines if _title(c).startswith(SUBTRACTED_PREFIX)
        )
        printed = [c for c in found if c.label == NET_PROFIT and c.row_type == "Row"]
        if not printed:
            out.notes.append(f"{what}: no {NET_PROFIT} line")
            continue
        profit = _sum(printed)
        out.compare(f"{what}: P&L lines = {NET_PROFIT}", computed, profit)
        before = start - dt.timedelta(days=1)
        after_earnings = _earnings(sheets.get((basis, end), []))
        if year_of(organisation, start).start == start:
            before_earnings: Decimal | None = ZERO  # a new year's earnings start at zero
        else:
            before_earnings = _earnings(sheets.get((basis, before), []))
        if after_earnings is None or before_earnings is None:
            out.notes.append(f"{what}: no balance sheet at {before} and {end} to compare with")
            continue
        out.compare(
            f"{what}: {NET_PROFIT} = {CURRENT_YEAR_EARNINGS} {before}..{end}",
            profit,
            after_earnings - before_earnings,
        )
    return out.result()


def _same_account(a: ReportCell, b: ReportCell) -> bool:
    if a.account_id and b.account_id:
        return a.account_id.lower() == b.account_id.lower()
    return a.label == b.label


def bank_summary_matches_balance_sheet(
    bank_summary: Iterable[ReportCell], balance_sheet: Iterable[ReportCell]
) -> CheckResult:
    out = _Builder("bank_summary_matches_balance_sheet")
    sheets = _by_date(balance_sheet)
    summaries: defaultdict[dt.date, list[ReportCell]] = defaultdict(list)
    for cell in _whole(bank_summary):
        if cell.row_type == "Row" and cell.column == CLOSING_BALANCE_COLUMN:
            summaries[cell.period_end].append(cell)
    for end, closing in sorted(summaries.items()):
        matched = [(basis, found) for (basis, day), found in sheets.items() if day == end]
        if not matched:
            out.notes.append(f"{end}: no balance sheet to compare the bank summary with")
        for basis, found in matched:
            banks = [c for c in found if _line(c) and _title(c) == BANK_SECTION]
            for account in closing:
                line = [c for c in banks if _same_account(c, account)]
                out.compare(
                    f"{end} {basis.value}: {account.label} closing = balance sheet",
                    _amount(account),
                    _sum(line),
                )
            for bank in banks:
                if not any(_same_account(bank, account) for account in closing):
                    out.compare(
                        f"{end} {basis.value}: {bank.label} on the balance sheet, "
                        "not in the bank summary",
                        ZERO,
                        _amount(bank),
                    )
    return out.result()


def aged_receivables_match_balance_sheet(
    aged_receivables: Iterable[ReportCell],
    balance_sheet: Iterable[ReportCell],
    receivable_accounts: Collection[str],
) -> CheckResult:
    """`receivable_accounts`: the AccountIDs of accounts receivable (the chart's account
    with SystemAccount DEBTORS, xero_accounting.yaml schema Account)."""
    out = _Builder("aged_receivables_match_balance_sheet")
    wanted = {a.lower() for a in receivable_accounts}
    due: defaultdict[dt.date, Decimal] = defaultdict(Decimal)
    for cell in _whole(aged_receivables):
        if cell.label == AGED_CLOSING_ROW and cell.column == AGED_DUE_COLUMN:
            due[cell.period_end] += _amount(cell)
    sheets = _by_date(balance_sheet)
    for end, total in sorted(due.items()):
        found = sheets.get((Basis.ACCRUAL, end))
        if found is None:
            out.notes.append(f"{end}: no accrual balance sheet to compare the aged total with")
            continue
        receivable = _sum(c for c in found if c.account_id and c.account_id.lower() in wanted)
        out.compare(f"{end}: aged receivables due = accounts receivable", total, receivable)
    return out.result()


@dataclass(frozen=True)
class Posting:
    """One journal line: its journal's date, account, net amount (debit positive) and
    whether the account is a profit and loss one (`reports_layout.PROFIT_AND_LOSS_TYPES`)."""

    date: dt.date
    account_id: str
    net: Decimal
    profit_and_loss: bool


def journals_match_trial_balance(
    postings: Iterable[Posting],
    trial_balance: Iterable[ReportCell],
    *,
    retained_earnings: str | None,
    organisation: Organisation,
) -> CheckResult:
    """The accrual trial balance rebuilt from the journal lines: per account, the month's
    net (Debit - Credit) and the year to date's: the financial year for profit and loss
    accounts, all time for the rest, earlier years' profit in `retained_earnings` (the
    AccountID of the chart's RETAINEDEARNINGS system account), as the report shows it."""
    out = _Builder("journals_match_trial_balance")
    lines = sorted(postings, key=lambda p: p.date)
    kept = None if retained_earnings is None else retained_earnings.lower()
    for (basis, end), found in _by_date(trial_balance).items():
        if basis is not Basis.ACCRUAL:
            continue
        month = end.replace(day=1)
        first = year_of(organisation, end).start
        report: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for cell in found:
            if _line(cell) and cell.account_id:
                report[cell.account_id.lower()][cell.column] += _amount(cell)
        rebuilt: dict[str, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for posting in lines:
            if posting.date > end:
                break
            account = posting.account_id.lower()
            if posting.date >= month:
                rebuilt[account][0] += posting.net
            if posting.profit_and_loss and posting.date < first:
                if kept is None:
                    out.notes.append("no retained earnings account: earlier years not rebuilt")
                    continue
                account = kept  # an earlier year's profit: in retained earnings
            rebuilt[account][1] += posting.net
        for account in sorted(set(report) | {a for a, v in rebuilt.items() if any(v)}):
            columns = report.get(account, {})
            shown = columns.get(DEBIT, ZERO) - columns.get(CREDIT, ZERO)
            ytd = columns.get(YTD_DEBIT, ZERO) - columns.get(YTD_CREDIT, ZERO)
            month_net, ytd_net = rebuilt.get(account, [ZERO, ZERO])
            out.compare(f"{end} account {account}: month net", month_net, shown)
            out.compare(f"{end} account {account}: year to date net", ytd_net, ytd)
    out.notes[:] = sorted(set(out.notes))
    return out.result()

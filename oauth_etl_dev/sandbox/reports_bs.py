"""BalanceSheet, TrialBalance and BankSummary from the books.

Balance sheet equity holds "Current Year Earnings" (net profit from the start of the
financial year, from Organisation.FinancialYearEndDay/Month, to the date) and
"Retained Earnings" (the account plus the profit of every earlier year), so assets
less liabilities equal equity exactly (getReportBalanceSheet example: the Equity
section, Current Year Earnings with fromDate/toDate attributes).
"""

from __future__ import annotations

from decimal import Decimal

from oauth_etl_dev.sandbox.ledger import Account
from oauth_etl_dev.sandbox.report_context import ReportContext, profit
from oauth_etl_dev.sandbox.report_shape import (
    Json,
    ReportError,
    account_row,
    amount,
    cell,
    header,
    long_day,
    month_end,
    month_start,
    parse_date,
    periods,
    report,
    row,
    section,
    short_day,
    total_row,
    us_day,
)

ZERO = Decimal(0)
NO_ACCOUNT = "00000000-0000-0000-0000-000000000000"  # Current Year Earnings (spec example)
# (section title, total title, account types, sign) per side; getReportBalanceSheet example.
ASSETS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Bank", "Total Bank", ("BANK",)),
    ("Current Assets", "Total Current Assets", ("CURRENT", "INVENTORY", "PREPAYMENT")),
    ("Fixed Assets", "Total Fixed Assets", ("FIXED",)),
    ("Non-current Assets", "Total Non-current Assets", ("NONCURRENT",)),
)
LIABILITIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Current Liabilities", "Total Current Liabilities", ("CURRLIAB", "LIABILITY")),
    ("Non-current Liabilities", "Total Non-current Liabilities", ("TERMLIAB",)),
)
# Trial balance sections by Account.Class (getReportTrialBalance example's order).
TB_CLASSES = (
    ("Revenue", "REVENUE"),
    ("Expenses", "EXPENSE"),
    ("Assets", "ASSET"),
    ("Liabilities", "LIABILITY"),
    ("Equity", "EQUITY"),
)


def _option_filter(ctx: ReportContext) -> tuple[tuple[str, str], ...]:
    """trackingOptionID1/2: lines of that option only (400 if no category has it)."""
    out = []
    for name in ("trackingOptionID1", "trackingOptionID2"):
        wanted = (ctx.get(name) or "").strip().lower()
        if not wanted:
            continue
        for category in ctx.store.table("TrackingCategories").records:
            for option in category.get("Options", []):
                if str(option.get("TrackingOptionID", "")).lower() == wanted:
                    out.append(
                        (str(category["TrackingCategoryID"]), str(option["TrackingOptionID"]))
                    )
        if len(out) == 0 or out[-1][1].lower() != wanted:
            raise ReportError(f"{name} {wanted} is not a tracking option of this organisation")
    return tuple(out)


def _side(
    layout: tuple[tuple[str, str, tuple[str, ...]], ...],
    accounts: dict[str, Account],
    balances: list[dict[str, Decimal]],
    sign: int,
    rows: list[Json],
) -> list[Decimal]:
    total = [ZERO] * len(balances)
    for title, total_title, types in layout:
        codes = sorted(c for c, a in accounts.items() if a.type in types)
        body = [
            account_row(
                accounts[c].name, accounts[c].account_id, [sign * b.get(c, ZERO) for b in balances]
            )
            for c in codes
            if any(b.get(c, ZERO) for b in balances)
        ]
        sums = [sign * sum((b.get(c, ZERO) for c in codes), ZERO) for b in balances]
        total = [t + s for t, s in zip(total, sums, strict=True)]
        if body:
            rows.append(section(title, [*body, total_row(total_title, sums)]))
    return total


def balance_sheet(ctx: ReportContext) -> Json:
    day = parse_date("date", ctx.get("date"), month_end(ctx.today))
    # Up to 11 comparison periods (third-party tool docs of Xero's API, e.g. glama.ai
    # mcp-server-xero; the spec gives no range); date defaults to the end of this month
    # (getReportBalanceSheet example: ReportDate 12 April, "As at 30 April 2019").
    count = ctx.integer("periods", 0, 0, 11)
    timeframe = ctx.choice("timeframe", "MONTH", ("MONTH", "QUARTER", "YEAR"))
    ctx.flag("standardLayout")
    options = _option_filter(ctx)
    columns = periods(day, day, count, timeframe, short_day)
    books, accounts = ctx.books, ctx.accounts()
    balances = [books.balances(c.to_ms, None, ctx.cash, options) for c in columns]
    rows: list[Json] = [header("", *(c.label for c in columns)), section("Assets", [])]
    assets = _side(ASSETS, accounts, balances, 1, rows)
    rows.append(section("", [total_row("Total Assets", assets)]))
    rows.append(section("Liabilities", []))
    liabilities = _side(LIABILITIES, accounts, balances, -1, rows)
    rows.append(section("", [total_row("Total Liabilities", liabilities)]))
    net = [a - li for a, li in zip(assets, liabilities, strict=True)]
    rows.append(section("", [total_row("Net Assets", net, summary=False)]))
    equity_rows: list[Json] = []
    starts = [ctx.fy_start(c.to_ms) for c in columns]
    current = [
        profit(books.balances(c.to_ms, s, ctx.cash, options), accounts)
        for c, s in zip(columns, starts, strict=True)
    ]
    earlier = [profit(books.balances(s - 1, None, ctx.cash, options), accounts) for s in starts]
    equity_rows.append(
        row(
            [cell("Current Year Earnings", account=NO_ACCOUNT)]
            + [
                cell(amount(v), account=NO_ACCOUNT, fromDate=us_day(s), toDate=us_day(c.to_ms))
                for v, s, c in zip(current, starts, columns, strict=True)
            ]
        )
    )
    total = list(current)
    for code in sorted(c for c, a in accounts.items() if a.type == "EQUITY"):
        values = [-b.get(code, ZERO) for b in balances]
        if accounts[code].system == "RETAINEDEARNINGS":
            values = [v + e for v, e in zip(values, earlier, strict=True)]
        if any(values):
            equity_rows.append(account_row(accounts[code].name, accounts[code].account_id, values))
            total = [t + v for t, v in zip(total, values, strict=True)]
    rows.append(section("Equity", [*equity_rows, total_row("Total Equity", total)]))
    if not options:  # by a tracking option the books need not balance (lines differ)
        assert net == total, (net, total)
    titles = ["Balance Sheet", ctx.org_name, f"As at {long_day(day)}"]
    return report("BalanceSheet", "Balance Sheet", titles, ctx.now_ms, rows)


def _sides(value: Decimal, account_id: str) -> list[Json]:
    debit = amount(value) if value > 0 else ""
    credit = amount(-value) if value < 0 else ""
    return [cell(debit, account=account_id), cell(credit, account=account_id)]


def trial_balance(ctx: ReportContext) -> Json:
    """Debit/Credit: the month to `date`; YTD: the financial year to date for P&L
    accounts, every year for the rest, earlier years' profit in Retained Earnings (our
    reading of Xero's Trial Balance, no source for the figures; the column names are
    the getReportTrialBalance example's)."""
    day = parse_date("date", ctx.get("date"), ctx.today)
    books, accounts = ctx.books, ctx.accounts()
    start = ctx.fy_start(day)
    month = books.balances(day, month_start(day), ctx.cash)
    ytd = books.balances(day, None, ctx.cash)
    earlier = books.balances(start - 1, None, ctx.cash)
    prior = profit(earlier, accounts)
    for code, value in earlier.items():  # P&L accounts: this year only
        if code in accounts and accounts[code].klass in ("REVENUE", "EXPENSE"):
            ytd[code] = ytd.get(code, ZERO) - value
    rows: list[Json] = [header("Account", "Debit", "Credit", "YTD Debit", "YTD Credit")]
    totals = [ZERO] * 4
    for title, klass in TB_CLASSES:
        body = []
        for code in sorted(c for c, a in accounts.items() if a.klass == klass):
            a = accounts[code]
            year = ytd.get(code, ZERO) - (prior if a.system == "RETAINEDEARNINGS" else ZERO)
            now = month.get(code, ZERO)
            if not year and not now:
                continue
            body.append(
                row(
                    [
                        cell(f"{a.name} ({a.code})", account=a.account_id),
                        *_sides(now, a.account_id),
                        *_sides(year, a.account_id),
                    ]
                )
            )
            for k, v in ((0, now), (2, year)):
                totals[k + (0 if v > 0 else 1)] += abs(v)
        if body:
            rows.append(section(title, body))
    rows.append(section("", [total_row("Total", totals)]))
    assert totals[0] == totals[1] and totals[2] == totals[3], totals  # the books balance
    titles = ["Trial Balance", ctx.org_name, f"As at {long_day(day)}"]
    return report("TrialBalance", "Trial Balance", titles, ctx.now_ms, rows)


def bank_summary(ctx: ReportContext) -> Json:
    start = parse_date("fromDate", ctx.get("fromDate"), month_start(ctx.today))
    end = parse_date("toDate", ctx.get("toDate"), month_end(ctx.today))
    if end < start:
        raise ReportError("The toDate must be on or after the fromDate")  # our wording
    books, accounts = ctx.books, ctx.accounts()
    banks = sorted(c for c, a in accounts.items() if a.type == "BANK")
    opening = books.balances(start - 1)
    moved: dict[str, list[Decimal]] = {c: [ZERO, ZERO] for c in banks}
    for date, line in books.lines():
        if start <= date <= end and line.code in moved:
            moved[line.code][0 if line.net > 0 else 1] += abs(line.net)
    rows: list[Json] = [
        header("Bank Accounts", "Opening Balance", "Cash Received", "Cash Spent", "Closing Balance")
    ]
    body, totals = [], [ZERO] * 4
    for code in banks:
        a = accounts[code]
        values = [opening.get(code, ZERO), moved[code][0], moved[code][1]]
        values.append(values[0] + values[1] - values[2])
        totals = [t + v for t, v in zip(totals, values, strict=True)]
        body.append(
            row(
                [
                    cell(a.name, accountID=a.account_id),
                    cell(amount(values[0])),
                    cell(amount(values[1]), account=a.account_id),
                    cell(amount(values[2]), account=a.account_id),
                    cell(amount(values[3])),
                ]
            )
        )
    rows.append(section("", [*body, total_row("Total", totals)]))
    titles = ["Bank Summary", ctx.org_name, f"From {long_day(start)} to {long_day(end)}"]
    return report("BankSummary", "Bank Summary", titles, ctx.now_ms, rows)

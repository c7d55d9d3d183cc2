"""Wrong figures on purpose: a test corrupts one report figure to see its check fail.

`POST /_sandbox/skew {"tenant_id"?, "report": "BalanceSheet", "row": "Accounts
Receivable", "delta": "1.00", "count"?: n}` adds `delta` to every amount cell of the
rows labelled `row` in that report's answers (the next `count` answers; default every
one until `DELETE /_sandbox/skew`). The books stay right: only the served report lies.
Not Xero behaviour: a test tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


class SkewSpecError(ValueError):
    """A skew the sandbox cannot apply."""


@dataclass
class Skew:
    report: str  # ReportType, e.g. "BalanceSheet"
    row: str  # the row's first cell, e.g. "Accounts Receivable", "Total"
    delta: Decimal
    remaining: int | None = None  # None: every answer

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.report,
            "row": self.row,
            "delta": str(self.delta),
            "remaining": self.remaining,
        }


def parse_skew(payload: dict[str, Any]) -> Skew:
    report, row = payload.get("report"), payload.get("row")
    if not isinstance(report, str) or not isinstance(row, str):
        raise SkewSpecError('"report" (e.g. "BalanceSheet") and "row" (its label) are required')
    try:
        delta = Decimal(str(payload.get("delta", "0.01")))
    except InvalidOperation as exc:
        raise SkewSpecError('"delta" must be a number, e.g. "1.00"') from exc
    count = payload.get("count")
    if count is not None and (not isinstance(count, int) or count < 1):
        raise SkewSpecError('"count" must be an integer >= 1')
    return Skew(report, row, delta, count)


def _shift(rows: list[dict[str, Any]], skew: Skew) -> int:
    hits = 0
    for r in rows:
        if r.get("RowType") == "Section":
            hits += _shift(r.get("Rows", []), skew)
            continue
        cells = r.get("Cells", [])
        if r.get("RowType") == "Header" or not cells or cells[0].get("Value") != skew.row:
            continue
        for cell in cells[1:]:
            try:
                value = Decimal(cell["Value"])
            except (InvalidOperation, KeyError):
                continue  # a blank or a text cell
            cell["Value"] = f"{value + skew.delta:.2f}"
        hits += 1
    return hits


def apply(report: dict[str, Any], skews: list[Skew]) -> None:
    """Shift the figures of `report` as the pending skews say (in place)."""
    for skew in list(skews):
        if skew.report.lower() != str(report.get("ReportType", "")).lower():
            continue
        if _shift(report.get("Rows", []), skew) and skew.remaining is not None:
            skew.remaining -= 1
            if skew.remaining <= 0:
                skews.remove(skew)

"""Lock dates and back-dated changes.

An organisation's `PeriodLockDate` and `EndOfYearLockDate` (xero_accounting.yaml,
schema Organisation: "Shown if set") stop changes dated on or before them: the period
lock for everyone but advisers, the end-of-year lock for everyone (our reading of
Xero's help on lock dates, not verified; no API source; the sandbox's changes are a
standard user's, so the later of the two applies). A refused change answers as
Xero's API refuses a document: a 400 ValidationException (spec schema Error; the
message wording is our assumption).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from oauth_etl_dev.sandbox.data import DAY_MS, Record, day_string, net_date, parse_net_date

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.store import Table

# The status an approved (back-dated) insert gets, per endpoint's status enum.
APPROVED = {"ManualJournals": "POSTED"}


class LockedPeriod(ValueError):
    """A change on or before the lock date."""

    def body(self) -> dict[str, Any]:
        return {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{"ValidationErrors": [{"Message": str(self)}]}],
        }


def parse_day(text: str) -> int:
    """Milliseconds of a `YYYY-MM-DD` day (UTC midnight); ValueError if it is not one."""
    return int(datetime.strptime(text[:10], "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)


def show_day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%d %b %Y")


@dataclass
class LockDates:
    period_ms: int | None = None
    end_of_year_ms: int | None = None

    def as_json(self) -> dict[str, str | None]:
        def day(ms: int | None) -> str | None:
            return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).date().isoformat()

        return {
            "period_lock_date": day(self.period_ms),
            "end_of_year_lock_date": day(self.end_of_year_ms),
        }

    def effective(self) -> int | None:
        dates = [d for d in (self.period_ms, self.end_of_year_ms) if d is not None]
        return max(dates) if dates else None

    def check(self, record: Record, date_ms: int | None) -> None:
        """Refuse a change to a document dated (now or after it) on/before the lock."""
        lock = self.effective()
        if lock is None:
            return
        current = parse_net_date(str(record.get("Date") or ""))
        for day in (current, date_ms):
            if day is not None and day // DAY_MS * DAY_MS <= lock:
                which = "end of year" if lock == self.end_of_year_ms else "period"
                raise LockedPeriod(
                    f"The document date cannot be on or before the {which} lock date, "
                    f"{show_day(lock)}"
                )

    def stamp(self, organisation: Table) -> None:
        """Show the lock dates on the Organisation record, as Xero does once set."""
        for pos, record in enumerate(organisation.records):
            out = {
                k: v for k, v in record.items() if k not in ("PeriodLockDate", "EndOfYearLockDate")
            }
            if self.period_ms is not None:
                out["PeriodLockDate"] = net_date(self.period_ms)
            if self.end_of_year_ms is not None:
                out["EndOfYearLockDate"] = net_date(self.end_of_year_ms)
            organisation.replace(pos, out)
        organisation.revisions += 1


def backdate(
    record: Record, date_ms: int | None, locks: LockDates, now_ms: int, approve: bool = False
) -> Record:
    """`record` dated `date_ms` (its due date keeps its distance); `approve`: a new
    document that posts (AUTHORISED, or POSTED for a manual journal)."""
    out = dict(record)
    if date_ms is not None:
        day = date_ms // DAY_MS * DAY_MS
        locks.check({}, day)
        old = parse_net_date(str(out.get("Date") or "")) or day
        out["Date"] = net_date(day)
        if "DateString" in out:
            out["DateString"] = day_string(day)
        due = parse_net_date(str(out.get("DueDate") or ""))
        if due is not None:
            out["DueDate"] = net_date(day + max(0, due - old))
            if "DueDateString" in out:
                out["DueDateString"] = day_string(day + max(0, due - old))
    if approve and "Status" in out:
        kind = "ManualJournals" if "ManualJournalID" in out else ""
        out["Status"] = APPROVED.get(kind, "AUTHORISED")
        if "AmountDue" in out:
            out.update(AmountDue=out.get("Total", 0.0), AmountPaid=0.0)
    if "UpdatedDateUTC" in out:
        out["UpdatedDateUTC"] = net_date(now_ms)
    return out

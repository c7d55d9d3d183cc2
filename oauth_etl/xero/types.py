"""Public data types of the Xero client: connections, progress, extraction figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Connection:
    """One row of GET /Connections: an organisation this token may read."""

    id: str
    tenant_id: str
    tenant_name: str | None
    tenant_type: str | None
    auth_event_id: str | None = None
    created: datetime | None = None
    updated: datetime | None = None


@dataclass(frozen=True)
class Progress:
    """Reported after every page yielded, and once more when the extraction ends."""

    endpoint: str
    tenant_id: str
    pages: int
    records: int
    pages_total: int | None  # from page 1's pagination, when the endpoint has one
    records_total: int | None
    api_calls: int
    elapsed_seconds: float
    done: bool = False


@dataclass
class ExtractionStats:
    endpoint: str
    tenant_id: str
    cursor_from: str | None = None
    # Below it everything has landed (see xero/cursor.py); ISO UTC.
    cursor_to: str | None = None
    offset_from: int | None = None
    offset_to: int | None = None  # Journals: the last JournalNumber yielded
    api_calls: int = 0  # every HTTP attempt, retries included
    retries: int = 0
    rate_limited: int = 0
    pages: int = 0
    records: int = 0
    # pagination.itemCount of page 1, kept only when the records yielded are exactly
    # that set less `already_landed` (one page, or a paged read proven quiet).
    expected_records: int | None = None
    already_landed: int = 0  # older than the previous cursor (see xero/cursor.py); not yielded
    changed: int = 0  # sightings of records stamped after the horizon (saved while we read)
    duplicates: int = 0  # seen twice in this run (shifted by a change): yielded once
    verify_calls: int = 0  # calls that proved completeness after data changed mid-read
    read_mode: str | None = None  # single | pages | pages+gaps | keyset | offset | unordered
    page_count: int | None = None  # pagination.pageCount of page 1
    complete: bool = False
    stopped_early: bool = False
    stop_reason: str | None = None
    headroom: dict[str, Any] = field(default_factory=dict)
    started_at: datetime | None = None
    first_page_seconds: float | None = None
    duration_seconds: float | None = None

    def as_metadata(self) -> dict[str, Any]:
        """A flat, JSON-friendly view (no secrets live here)."""
        out = {k: v for k, v in self.__dict__.items() if k != "headroom"}
        out["started_at"] = self.started_at.isoformat() if self.started_at else None
        for key, value in self.headroom.items():
            out[f"headroom_{key}"] = value
        return out

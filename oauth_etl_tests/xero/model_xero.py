"""A Xero model whose data changes while it is read, for httpx.MockTransport tests.

It pages as Xero does (by offset over the filtered, ordered set: xero/paging.py): filter by
If-Modified-Since, order by UpdatedDateUTC then by insertion (ties in an order Xero does not
document), slice by `page`/`pageSize`, with a `pagination` object. Its clock is fake: it
moves `tick` per call, and each change is stamped with it. `changes[call]` run right after
that call is answered (call 1 = the first), so a test can edit a record of a page already
served. Deleted records leave the set (the case that changes `itemCount`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

BASE = datetime(2024, 1, 1, tzinfo=UTC)
ID = "InvoiceID"
STAMP = "UpdatedDateUTC"


def dotnet(dt: datetime) -> str:
    return f"/Date({int(dt.timestamp() * 1000)}+0000)/"


@dataclass
class Row:
    id: str
    stamp: datetime
    version: int
    seq: int  # insertion order: the tie-break among equal stamps


Change = Callable[["ModelXero"], None]


@dataclass
class ModelXero:
    rows: dict[str, Row] = field(default_factory=dict)
    now: datetime = BASE + timedelta(days=30)
    tick: timedelta = timedelta(seconds=1)
    inclusive: bool = False  # If-Modified-Since compares >= (True) or > (False)
    changes: dict[int, list[Change]] = field(default_factory=dict)
    stop_at: int | None = None  # answer this call (and later ones) with a day-limit 429
    ignore_page: bool = (
        False  # every record on every page (Xero's fault: singer-io/tap-xero CHANGELOG 2.2.3)
    )
    pagination: bool = True
    calls: list[httpx.Request] = field(default_factory=list)
    max_calls: int = 500  # a client that never stops fails the test instead of hanging it
    lock: threading.Lock = field(default_factory=threading.Lock)
    _seq: int = 0

    # -- data -------------------------------------------------------------------------
    def add(self, record_id: str, stamp: datetime) -> None:
        self._seq += 1
        self.rows[record_id] = Row(record_id, stamp, 1, self._seq)

    def edit(self, record_id: str) -> None:
        row = self.rows[record_id]
        row.stamp, row.version = self.now, row.version + 1

    def insert(self, record_id: str) -> None:
        self.add(record_id, self.now)

    def delete(self, record_id: str) -> None:
        del self.rows[record_id]

    def ordered(self) -> list[Row]:
        return sorted(self.rows.values(), key=lambda r: (r.stamp, r.seq))

    def versions(self) -> dict[str, int]:
        return {r.id: r.version for r in self.rows.values()}

    # -- HTTP -------------------------------------------------------------------------
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls.append(request)
            call = len(self.calls)
            if call > self.max_calls:
                raise AssertionError(f"the client made more than {self.max_calls} calls")
            self.now += self.tick
            if self.stop_at is not None and call >= self.stop_at:
                return httpx.Response(
                    429, headers={"Retry-After": "40000", "X-Rate-Limit-Problem": "day"}
                )
            response = self.serve(request)
            for change in self.changes.get(call, []):
                change(self)
            return response

    def serve(self, request: httpx.Request) -> httpx.Response:
        rows = self.ordered()
        since = request.headers.get("If-Modified-Since")
        if since:
            cutoff = datetime.fromisoformat(since).replace(tzinfo=UTC)
            rows = [r for r in rows if r.stamp > cutoff or (self.inclusive and r.stamp == cutoff)]
        params = request.url.params
        page = int(params.get("page", "1"))
        size = int(params.get("pageSize", "100"))
        chunk = rows if self.ignore_page else rows[(page - 1) * size : page * size]
        body: dict[str, Any] = {
            "Id": "model",
            "Status": "OK",
            "DateTimeUTC": dotnet(self.now),
            "Invoices": [{ID: r.id, STAMP: dotnet(r.stamp), "Version": r.version} for r in chunk],
        }
        if self.pagination:
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": (len(rows) + size - 1) // size,
                "itemCount": len(rows),
            }
        return httpx.Response(
            200,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Xero-Correlation-Id": f"m-{page}"},
        )

"""A small in-process Xero Accounting API for httpx.MockTransport unit tests."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from oauth_etl.xero.catalog import CATALOG, Endpoint, Paging
from oauth_etl.xero.dates import parse_xero_datetime

TOKEN = "sk-test-ACCESS-TOKEN-do-not-leak-123"
TENANT = "11111111-2222-3333-4444-555555555555"
ENDPOINTS_BY_PATH = {e.path: e for e in CATALOG}
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def dotnet(dt: datetime) -> str:
    return f"/Date({int(dt.timestamp() * 1000)}+0000)/"


def stamp(record: dict[str, Any], field_name: str) -> datetime:
    return parse_xero_datetime(record[field_name])


class BearerAuth(httpx.Auth):
    def __init__(self, token: str = TOKEN) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def make_records(endpoint: Endpoint, n: int) -> list[dict[str, Any]]:
    records = []
    for i in range(n):
        record: dict[str, Any] = {endpoint.id_field or "Id": f"id-{i:06d}", "Seq": i}
        if endpoint.cursor_field:
            record[endpoint.cursor_field] = dotnet(BASE + timedelta(minutes=i))
        if endpoint.offset_field:
            record[endpoint.offset_field] = i + 1
        records.append(record)
    return records


Responder = Callable[[httpx.Request], httpx.Response | None]


@dataclass
class FakeXero:
    """Serves `data[path]` with Xero's paging; `faults` are consulted first."""

    endpoints: dict[str, Endpoint]
    data: dict[str, list[dict[str, Any]]]
    server_page_size: int | None = None  # cap pageSize like a server might
    delay: tuple[float, float] = (0.0, 0.0)
    faults: list[Responder] = field(default_factory=list)
    calls: list[httpx.Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    server_time: datetime | None = None
    extra_headers: dict[str, str] = field(default_factory=dict)
    day_remaining: int | None = None  # decremented per call, sent as X-DayLimit-Remaining
    lock: threading.Lock = field(default_factory=threading.Lock)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls.append(request)
            if self.day_remaining is not None:
                self.day_remaining -= 1
                request.extensions["day_remaining"] = self.day_remaining
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.delay[1] > 0:
                time.sleep(random.uniform(*self.delay))
            for fault in list(self.faults):
                response = fault(request)
                if response is not None:
                    return response
            return self.serve(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def headers(self, request: httpx.Request, **extra: str) -> dict[str, str]:
        if "day_remaining" in request.extensions:
            extra["X-DayLimit-Remaining"] = str(request.extensions["day_remaining"])
        return {
            "Content-Type": "application/json",
            "Xero-Correlation-Id": f"corr-{len(self.calls)}",
            **self.extra_headers,
            **extra,
        }

    def serve(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        path = request.url.path.rsplit("/", 1)[-1]
        endpoint = self.endpoints[path]
        rows = self.data.get(path, [])
        since = request.headers.get("If-Modified-Since")
        if since and endpoint.cursor_field:
            # Xero: "only records created or modified since this timestamp" (strictly
            # later here, the stricter reading, as the sandbox does).
            cutoff = datetime.fromisoformat(since).replace(tzinfo=UTC)
            rows = [r for r in rows if stamp(r, endpoint.cursor_field) > cutoff]
        params = request.url.params
        body: dict[str, Any] = {"Id": "x", "Status": "OK", "ProviderName": "test"}
        if self.server_time is not None:
            body["DateTimeUTC"] = dotnet(self.server_time)
        if endpoint.paging is Paging.PAGE_SIZE:
            page = int(params.get("page", "1"))
            size = min(int(params.get("pageSize", "100")), 1000)
            if self.server_page_size:
                size = min(size, self.server_page_size)
            chunk = rows[(page - 1) * size : page * size]
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": (len(rows) + size - 1) // size,
                "itemCount": len(rows),
            }
        elif endpoint.paging is Paging.PAGE:
            page = int(params.get("page", "1"))
            chunk = rows[(page - 1) * 100 : page * 100]
        elif endpoint.paging is Paging.OFFSET:
            offset = int(params.get("offset", "0"))
            chunk = [r for r in rows if r["JournalNumber"] > offset][:100]
        else:
            chunk = rows
        body[endpoint.record_key] = chunk
        return httpx.Response(200, content=orjson.dumps(body), headers=self.headers(request))


def once(match: Callable[[httpx.Request], bool], response: httpx.Response) -> Responder:
    """A fault that answers `response` the first time `match` holds."""
    fired = threading.Event()

    def responder(request: httpx.Request) -> httpx.Response | None:
        if not fired.is_set() and match(request):
            fired.set()
            return response
        return None

    return responder


def always(match: Callable[[httpx.Request], bool], make: Callable[[], httpx.Response]) -> Responder:
    def responder(request: httpx.Request) -> httpx.Response | None:
        return make() if match(request) else None

    return responder


def page_is(n: int) -> Callable[[httpx.Request], bool]:
    return lambda request: request.url.params.get("page") == str(n)


def any_request(request: httpx.Request) -> bool:
    return True

"""The ASGI app: identity, connections, accounting API and admin API on one host.

One catch-all route dispatches by lower-cased path because Xero's paths are not case
sensitive (`/connections` and `/Connections` both work).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from oauth_etl.sandbox.catalog import ENDPOINTS, ENDPOINTS_BY_LOWER, Endpoint, Paging
from oauth_etl.sandbox.clock import SandboxClock
from oauth_etl.sandbox.config import SandboxConfig
from oauth_etl.sandbox.data import DAY_MS, DataStore, Table, make_tenants
from oauth_etl.sandbox.faults import Fault, FaultQueue, FaultSpecError, parse_fault
from oauth_etl.sandbox.identity import (
    AccessGrant,
    AuthorizePageError,
    IdentityService,
    TokenError,
)
from oauth_etl.sandbox.limits import RateLimiter
from oauth_etl.sandbox.query import (
    QueryError,
    parse_if_modified_since,
    parse_order,
    parse_where,
    sort_key,
)
from oauth_etl.sandbox.stats import Stats

API_PREFIX = "/api.xro/2.0/"
MAINTENANCE_TEXT = "The Xero API is currently offline for maintenance"
NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
JSON = "application/json; charset=utf-8"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
FORM = "application/x-www-form-urlencoded"


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload), status, headers=headers, media_type=JSON)


def _problem(status: int, title: str, detail: str, correlation: str) -> dict[str, Any]:
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": correlation,
        "Extensions": {},
    }


def _http_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


class SandboxState:
    """Everything one sandbox holds; `reset()` returns to the start."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(config.time_scale)
        self.stats = Stats()
        self.tenants = make_tenants(config.seed, config.tenants)
        # Generated history ends at the start of today (UTC): stable within a day and
        # always before anything a mutation stamps.
        anchor = int(time.time() * 1000) // DAY_MS * DAY_MS
        self.store = DataStore(config.seed, self.tenants, config.records, anchor)
        self.identity = IdentityService(
            config, self.clock, self.stats, [t.tenant_id for t in self.tenants]
        )
        self.limiter = RateLimiter(config, self.clock, self.stats)
        self.faults = FaultQueue()
        self.started_ms = self.clock.now_ms()

    def reset(self, keep_tokens: bool = False) -> None:
        stats = Stats()
        self.stats = stats
        self.identity.stats = stats
        self.limiter.stats = stats
        if not keep_tokens:
            self.identity.reset()
        self.clock.reset()
        self.store.reset()
        self.limiter.reset()
        self.faults.clear()


class SandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(config)
        self.provider = orjson.dumps(config.app_name)
        self.starlette = Starlette(
            routes=[
                Route("/{path:path}", self.handle, methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # uvicorn's per-request cycle object: lets a fault close the connection
            # without a response, which ASGI itself cannot express.
            scope["sandbox.cycle"] = getattr(send, "__self__", None)
        await self.starlette(scope, receive, send)

    # -- dispatch --------------------------------------------------------------------
    async def handle(self, request: Request) -> Response:
        path = request.url.path
        lower = path.lower()
        correlation = str(uuid.uuid4())
        if lower.startswith("/_sandbox/"):
            response = await self.admin(request, lower)
        else:
            fault = self.state.faults.take(request.method, path)
            response = await self.with_fault(request, lower, correlation, fault)
        response.headers["Xero-Correlation-Id"] = correlation
        self.state.stats.responses[str(response.status_code)] += 1
        return response

    async def with_fault(
        self, request: Request, lower: str, correlation: str, fault: Fault | None
    ) -> Response:
        if fault is None:
            return await self.route(request, lower, correlation)
        self.state.stats.faults_fired[fault.kind] += 1
        kind = fault.kind
        if kind == "status":
            if fault.status == 503:
                return Response(MAINTENANCE_TEXT, 503, media_type="text/plain")
            title = "An error occurred" if fault.status >= 500 else "Error"
            return _json(
                _problem(fault.status, title, f"Sandbox fault {fault.status}", correlation),
                fault.status,
            )
        if kind == "drop":
            return await self._drop(request)
        if kind in ("day_limit", "minute_limit"):
            problem = "day" if kind == "day_limit" else "minute"
            self.state.stats.rate_limited[problem] += 1
            retry = self.state.limiter.fault_retry_after(problem, fault.seconds)
            headers = {"Retry-After": str(retry), "X-Rate-Limit-Problem": problem}
            headers.update(self._limit_headers(request))
            if problem == "day":
                headers["X-DayLimit-Remaining"] = "0"
            else:
                headers["X-MinLimit-Remaining"] = "0"
            return Response(b"", 429, headers=headers)
        if kind == "authorization_unsuccessful":
            return self._unauthorized(correlation, "AuthorizationUnsuccessful")
        if kind == "delay":
            await asyncio.sleep(fault.seconds or 0.0)
            return await self.route(request, lower, correlation)
        response = await self.route(request, lower, correlation)
        if kind == "lost_response":
            # The work is done (a refresh rotated the token); only the answer is lost.
            if fault.seconds:
                await asyncio.sleep(fault.seconds)
            return await self._drop(request)
        if kind == "truncated":
            body = bytes(response.body)
            cut = Response(body[: max(1, len(body) // 2)], response.status_code, media_type=JSON)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "content-type"):
                    cut.headers[key] = value
            return cut
        # non_json: what a proxy or an outage page returns instead of the API's JSON.
        html = b"<html><head><title>Xero</title></head><body>Service unavailable</body></html>"
        return Response(html, 200, media_type="text/html")

    async def _drop(self, request: Request) -> Response:
        cycle = request.scope.get("sandbox.cycle")
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("sandbox fault: drop (no transport to close)")
        transport.close()
        for _ in range(100):  # until uvicorn has seen the close and ignores our answer
            if getattr(cycle, "disconnected", True):
                break
            await asyncio.sleep(0.001)
        return Response(b"", 200)

    async def route(self, request: Request, lower: str, correlation: str) -> Response:
        method = request.method
        if lower == "/identity/connect/authorize" and method == "GET":
            return self.authorize(request)
        if lower == "/connect/token" and method == "POST":
            return await self.token(request)
        if lower == "/connect/revocation" and method == "POST":
            return await self.revocation(request)
        if lower in ("/connections", "/connections/") and method == "GET":
            return self.connections(request, correlation)
        if lower.startswith(API_PREFIX.lower()) and method == "GET":
            rest = request.url.path[len(API_PREFIX) :].strip("/")
            name, _, record_id = rest.partition("/")
            endpoint = ENDPOINTS_BY_LOWER.get(name.lower())
            if endpoint is not None and "/" not in record_id:
                return await self.api(request, endpoint, record_id or None, correlation)
        return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")

    # -- identity --------------------------------------------------------------------
    def authorize(self, request: Request) -> Response:
        try:
            location = self.state.identity.authorize(dict(request.query_params))
        except AuthorizePageError as exc:
            page = f"<html><body><h1>Sorry, something went wrong</h1><p>{exc}</p></body></html>"
            return Response(page, 400, media_type="text/html")
        return Response(b"", 302, headers={"Location": location})

    async def _form(self, request: Request) -> dict[str, str]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != FORM:
            raise TokenError(
                "invalid_request", "use Content-Type application/x-www-form-urlencoded"
            )
        # Parsed here: starlette's form parser needs python-multipart, which we do not need.
        try:
            pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError as exc:
            raise TokenError("invalid_request", "body is not UTF-8") from exc
        return dict(pairs)

    def _token_error(self, exc: TokenError) -> Response:
        self.state.stats.token_errors[exc.error] += 1
        return _json(exc.body(), exc.status, headers={"Cache-Control": "no-store"})

    async def token(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            body = self.state.identity.token(form, request.headers.get("authorization"))
        except TokenError as exc:
            return self._token_error(exc)
        return _json(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revocation(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            self.state.identity.revoke(form, request.headers.get("authorization"))
        except TokenError as exc:
            return self._token_error(exc)
        return Response(b"", 200)

    def _unauthorized(self, correlation: str, detail: str, invalid_token: bool = False) -> Response:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if invalid_token else None
        return _json(_problem(401, "Unauthorized", detail, correlation), 401, headers=headers)

    def _bearer(self, request: Request, correlation: str) -> AccessGrant | Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        grant = self.state.identity.grant_for(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return self._unauthorized(correlation, "AuthenticationUnsuccessful", invalid_token=True)
        now = self.state.clock.now()
        if grant.expires_at <= now:
            expired = datetime.fromtimestamp(grant.expires_at, UTC).strftime("%m/%d/%Y %H:%M:%S")
            return self._unauthorized(
                correlation, f"TokenExpired: token expired at {expired}", invalid_token=True
            )
        return grant

    def connections(self, request: Request, correlation: str) -> Response:
        grant = self._bearer(request, correlation)
        if isinstance(grant, Response):
            return grant
        created = datetime.fromtimestamp(self.state.started_ms / 1000, UTC).strftime(
            "%Y-%m-%dT%H:%M:%S.%f0"
        )
        event = grant.chain.auth_event_id if grant.chain is not None else str(uuid.UUID(int=0))
        body = [
            {
                "id": t.connection_id,
                "authEventId": event,
                "tenantId": t.tenant_id,
                "tenantType": "ORGANISATION",
                "tenantName": t.name,
                "createdDateUtc": created,
                "updatedDateUtc": created,
            }
            for t in self.state.tenants
            if t.tenant_id in grant.tenants
        ]
        return _json(body, headers=self.state.limiter.headers(None))

    # -- accounting API --------------------------------------------------------------
    def _limit_headers(self, request: Request) -> dict[str, str]:
        tenant = request.headers.get("xero-tenant-id", "").lower()
        known = self.state.store.tenant(tenant) is not None
        return self.state.limiter.headers(tenant if known else None)

    async def api(
        self, request: Request, endpoint: Endpoint, record_id: str | None, correlation: str
    ) -> Response:
        state = self.state
        grant = self._bearer(request, correlation)
        if isinstance(grant, Response):
            return grant
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        store = state.store.tenant(tenant_id)
        if store is None or tenant_id not in grant.tenants:
            problem = _problem(403, "Forbidden", "AuthenticationUnsuccessful", correlation)
            return _json(problem, 403)
        if endpoint.name in self.config.denied_endpoints or not (endpoint.scopes & grant.scopes):
            return self._unauthorized(correlation, "AuthorizationUnsuccessful")
        rejection = state.limiter.acquire(tenant_id)
        if rejection is not None:
            headers = state.limiter.headers(tenant_id)
            headers.update(
                {
                    "Retry-After": str(rejection.retry_after),
                    "X-Rate-Limit-Problem": rejection.problem,
                }
            )
            return Response(b"", 429, headers=headers)
        try:
            state.stats.api_calls[tenant_id][endpoint.name] += 1
            try:
                body, count = self.render(
                    request, endpoint, store.table(endpoint.name), record_id, correlation
                )
            except QueryError as exc:
                error = {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": str(exc),
                    "Elements": [],
                }
                return _json(error, 400, headers=state.limiter.headers(tenant_id))
            if body is None:
                return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")
            state.stats.records_served[tenant_id][endpoint.name] += count
            delay_ms = self.config.latency_ms + count * self.config.record_cost_ms
            if delay_ms > 0:
                await asyncio.sleep(delay_ms / 1000)
            return Response(body, 200, headers=state.limiter.headers(tenant_id), media_type=JSON)
        finally:
            state.limiter.release(tenant_id)

    def render(
        self,
        request: Request,
        endpoint: Endpoint,
        table: Table,
        record_id: str | None,
        correlation: str,
    ) -> tuple[bytes | None, int]:
        """The response body and how many records it holds (None: no such record)."""
        params = request.query_params
        pagination: dict[str, int] | None = None
        blobs: list[bytes]
        if record_id is not None:
            want = record_id.lower()
            hits = [
                i
                for i, r in enumerate(table.records)
                if str(r.get(endpoint.id_field, "")).lower() == want
            ]
            if not hits:
                return None, 0
            blobs = [table.blobs[hits[0]]]
        else:
            indices = self.select(request, endpoint, table)
            blobs, pagination = self.page(params, endpoint, table, indices)
        head = b'{"Id":"%s","Status":"OK","ProviderName":%s,"DateTimeUTC":"/Date(%d)/",' % (
            correlation.encode(),
            self.provider,
            self.state.clock.now_ms(),
        )
        if pagination is not None:
            head += b'"pagination":' + orjson.dumps(pagination) + b","
        body = b"".join((head, b'"', endpoint.record_key.encode(), b'":[', b",".join(blobs), b"]}"))
        return body, len(blobs)

    def select(self, request: Request, endpoint: Endpoint, table: Table) -> list[int] | None:
        """Indices of the records that pass If-Modified-Since and where, in `order`.

        None means all records in serving order (the fast path: no filter).
        """
        params = request.query_params
        since = request.headers.get("if-modified-since")
        key = (
            table.revisions,
            since if endpoint.modified_since else None,
            params.get("where") or params.get("Where"),
            params.get("order") or params.get("Order"),
        )
        if key not in table.selections:
            if len(table.selections) >= 64:
                table.selections.clear()
            table.selections[key] = self._select(request, endpoint, table, since)
        return table.selections[key]

    def _select(
        self, request: Request, endpoint: Endpoint, table: Table, since: str | None
    ) -> list[int] | None:
        params = request.query_params
        indices: list[int] | None = None
        if since and endpoint.modified_since:
            cutoff = parse_if_modified_since(since)
            indices = [i for i, stamp in enumerate(table.stamps) if stamp > cutoff]
        if endpoint.where_order:
            where = params.get("where") or params.get("Where")
            if where:
                predicate = parse_where(where)
                pool = range(len(table.records)) if indices is None else indices
                indices = [i for i in pool if predicate(table.records[i])]
            order = params.get("order") or params.get("Order")
            if order and endpoint.paging is not Paging.OFFSET:
                keys = parse_order(order)
                indices = list(range(len(table.records))) if indices is None else indices
                for path, descending in reversed(keys):  # stable sorts, last key first
                    indices.sort(key=_record_key(table, path), reverse=descending)
        return indices

    def page(
        self, params: Any, endpoint: Endpoint, table: Table, indices: list[int] | None
    ) -> tuple[list[bytes], dict[str, int] | None]:
        total = len(table.records) if indices is None else len(indices)

        def take(start: int, stop: int) -> list[bytes]:
            if indices is None:
                return table.blobs[start:stop]
            return [table.blobs[i] for i in indices[start:stop]]

        if endpoint.paging is Paging.OFFSET:
            offset = _int_param(params, "offset", 0)
            # JournalNumber is position + 1 and journals are never reordered.
            if indices is None:
                return table.blobs[max(0, offset) : max(0, offset) + DEFAULT_PAGE_SIZE], None
            chosen = [i for i in indices if i >= offset][:DEFAULT_PAGE_SIZE]
            return [table.blobs[i] for i in chosen], None
        if endpoint.paging is Paging.NONE:
            return take(0, total), None
        raw_page = params.get("page")
        if raw_page is None:
            # No page: everything in one answer; Invoices then omit their line items.
            if endpoint.name == "Invoices":
                summary: range | list[int] = range(total) if indices is None else indices
                return [
                    orjson.dumps({k: v for k, v in table.records[i].items() if k != "LineItems"})
                    for i in summary
                ], None
            return take(0, total), None
        page = max(1, _int_param(params, "page", 1))
        size = DEFAULT_PAGE_SIZE
        if endpoint.paging is Paging.PAGE_SIZE:
            size = min(MAX_PAGE_SIZE, max(1, _int_param(params, "pageSize", DEFAULT_PAGE_SIZE)))
        start = (page - 1) * size
        blobs = take(start, start + size)
        if endpoint.paging is Paging.PAGE:
            return blobs, None
        pagination = {
            "page": page,
            "pageSize": size,
            "pageCount": math.ceil(total / size),
            "itemCount": total,
        }
        return blobs, pagination

    # -- admin API -------------------------------------------------------------------
    async def admin(self, request: Request, lower: str) -> Response:
        handlers: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]] = {
            ("GET", "/_sandbox/stats"): self.admin_stats,
            ("GET", "/_sandbox/clock"): self.admin_clock,
            ("POST", "/_sandbox/clock"): self.admin_clock,
            ("GET", "/_sandbox/faults"): self.admin_faults,
            ("POST", "/_sandbox/faults"): self.admin_faults,
            ("DELETE", "/_sandbox/faults"): self.admin_faults,
            ("POST", "/_sandbox/mutate"): self.admin_mutate,
            ("POST", "/_sandbox/reset"): self.admin_reset,
            ("GET", "/_sandbox/tenants"): self.admin_tenants,
            ("GET", "/_sandbox/records"): self.admin_records,
        }
        handler = handlers.get((request.method, lower.rstrip("/")))
        if handler is None:
            return _json({"error": f"no admin route {request.method} {request.url.path}"}, 404)
        try:
            return await handler(request)
        except AdminError as exc:
            return _json({"error": str(exc)}, 400)

    async def _payload(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise AdminError(f"body is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise AdminError("body must be a JSON object")
        return payload

    def stats_json(self) -> dict[str, Any]:
        state = self.state
        out = state.stats.as_json()
        out["records"] = {
            t.tenant_id: {name: state.store.by_id[t.tenant_id].count(name) for name in ENDPOINTS}
            for t in state.tenants
        }
        out["chains"] = state.identity.chain_stats()
        out["faults_pending"] = [f.as_json() for f in state.faults.faults]
        out["clock"] = self._clock_json()
        return out

    async def admin_stats(self, request: Request) -> Response:
        return _json(self.stats_json())

    def _clock_json(self) -> dict[str, Any]:
        clock = self.state.clock
        return {
            "now": datetime.fromtimestamp(clock.now(), UTC).isoformat(),
            "now_ms": clock.now_ms(),
            "offset_seconds": clock.offset,
            "time_scale": clock.time_scale,
        }

    async def admin_clock(self, request: Request) -> Response:
        if request.method == "POST":
            payload = await self._payload(request)
            seconds = payload.get("advance_seconds")
            if not isinstance(seconds, int | float) or isinstance(seconds, bool):
                raise AdminError('body must be {"advance_seconds": <number>}')
            self.state.clock.advance(float(seconds))
        return _json(self._clock_json())

    async def admin_faults(self, request: Request) -> Response:
        faults = self.state.faults
        if request.method == "POST":
            try:
                faults.add(parse_fault(await self._payload(request)))
            except FaultSpecError as exc:
                raise AdminError(str(exc)) from exc
        elif request.method == "DELETE":
            faults.clear()
        return _json({"pending": [f.as_json() for f in faults.faults]})

    def _tenant(self, tenant_id: Any) -> str:
        tenants = self.state.tenants
        if tenant_id is None:
            return tenants[0].tenant_id
        if not isinstance(tenant_id, str) or self.state.store.tenant(tenant_id) is None:
            raise AdminError(f"unknown tenant_id; tenants: {[t.tenant_id for t in tenants]}")
        return tenant_id.lower()

    def _endpoint(self, name: Any) -> Endpoint:
        endpoint = ENDPOINTS_BY_LOWER.get(str(name).lower())
        if endpoint is None:
            raise AdminError(f"unknown endpoint {name!r}; one of {sorted(ENDPOINTS)}")
        return endpoint

    async def admin_mutate(self, request: Request) -> Response:
        payload = await self._payload(request)
        tenant_id = self._tenant(payload.get("tenant_id"))
        endpoint = self._endpoint(payload.get("endpoint"))
        modify, add = payload.get("modify", 0), payload.get("add", 0)
        if not isinstance(modify, int) or not isinstance(add, int) or modify < 0 or add < 0:
            raise AdminError('"modify" and "add" must be integers >= 0')
        now_ms = self.state.clock.now_ms()
        try:
            modified, added = self.state.store.by_id[tenant_id].mutate(
                endpoint.name, modify, add, now_ms
            )
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        return _json(
            {
                "tenant_id": tenant_id,
                "endpoint": endpoint.name,
                "modified": modified,
                "added": added,
                "stamp": _http_date(now_ms),
                "stamp_ms": now_ms,
            }
        )

    async def admin_reset(self, request: Request) -> Response:
        payload = await self._payload(request)
        self.state.reset(keep_tokens=bool(payload.get("keep_tokens", False)))
        return _json({"reset": True})

    async def admin_tenants(self, request: Request) -> Response:
        return _json([{"tenantId": t.tenant_id, "tenantName": t.name} for t in self.state.tenants])

    async def admin_records(self, request: Request) -> Response:
        """All records of one tenant and endpoint in serving order (for tests)."""
        tenant_id = self._tenant(request.query_params.get("tenant_id"))
        endpoint = self._endpoint(request.query_params.get("endpoint"))
        table = self.state.store.by_id[tenant_id].table(endpoint.name)
        return Response(b"[" + b",".join(table.blobs) + b"]", 200, media_type=JSON)


class AdminError(ValueError):
    """A bad admin API request: a 400 with a message."""


def _int_param(params: Any, name: str, default: int) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise QueryError(f"{name} must be an integer, not {raw!r}") from exc


def _record_key(table: Table, path: str) -> Callable[[int], tuple[int, Any]]:
    def key(i: int) -> tuple[int, Any]:
        return sort_key(table.records[i], path)

    return key


def build_app(config: SandboxConfig) -> SandboxApp:
    return SandboxApp(config)


__all__ = ["SandboxApp", "SandboxState", "build_app"]

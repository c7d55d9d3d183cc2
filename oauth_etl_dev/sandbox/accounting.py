"""The accounting API: `/api.xro/2.0/<Endpoint>[/<id>]` as Xero serves it (spec v16.1.0).

Filters (If-Modified-Since, `where`, `includeDeleted` on BankTransfers), `order`,
paging by `page`/`pageSize` (`pagination` object), `page` only, or `offset`
(Journals); the edit mode (sandbox/edits.py) changes data after each call; the
`page_ignored` fault serves every record on every page, as Xero once did for
ManualJournals with `order` (singer-io/tap-xero CHANGELOG 2.2.3).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from oauth_etl_dev.sandbox.catalog import Endpoint, Paging
from oauth_etl_dev.sandbox.query import (
    QueryError,
    parse_if_modified_since,
    parse_order,
    parse_where,
    sort_key,
)
from oauth_etl_dev.sandbox.responses import json_response, problem
from oauth_etl_dev.sandbox.store import Table

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.app import SandboxApp, SandboxState

API_PREFIX = "/api.xro/2.0/"
NOT_FOUND_TEXT = "The resource you're looking for cannot be found"
JSON = "application/json; charset=utf-8"
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
PAGE_IGNORED = "sandbox.page_ignored"  # request.scope key: the fault's `pagination` flag


class AccountingApi:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.config = app.config

    @property
    def state(self) -> SandboxState:
        return self.app.state

    def limit_headers(self, request: Request) -> dict[str, str]:
        tenant = request.headers.get("xero-tenant-id", "").lower()
        known = self.state.store.tenant(tenant) is not None
        return self.state.limiter.headers(tenant if known else None)

    async def api(
        self, request: Request, endpoint: Endpoint, record_id: str | None, correlation: str
    ) -> Response:
        state = self.state
        grant = self.app.bearer(request, correlation)
        if isinstance(grant, Response):
            return grant
        tenant_id = request.headers.get("xero-tenant-id", "").strip().lower()
        store = state.store.tenant(tenant_id)
        if store is None or tenant_id not in grant.tenants:
            refused = problem(403, "Forbidden", "AuthenticationUnsuccessful", correlation)
            return json_response(refused, 403)
        if endpoint.name in self.config.denied_endpoints or not (endpoint.scopes & grant.scopes):
            return self.app.unauthorized(correlation, "AuthorizationUnsuccessful")
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
                table = store.table(endpoint.name)
                if endpoint.name == "Journals" and _flag(request.query_params, "paymentsOnly"):
                    table = store.books.journals(cash=True)  # spec getJournals paymentsOnly
                body, served = self.render(request, endpoint, table, record_id, correlation)
            except QueryError as exc:
                error = {
                    "ErrorNumber": 10,
                    "Type": "ValidationException",
                    "Message": str(exc),
                    "Elements": [],
                }
                return json_response(error, 400, headers=state.limiter.headers(tenant_id))
            if body is None:
                return Response(NOT_FOUND_TEXT, 404, media_type="text/plain")
            count = len(served)
            state.stats.records_served[tenant_id][endpoint.name] += count
            # The organisation's users keep working while we read (sandbox/edits.py).
            state.edits.after_call(store, endpoint, served, state.clock.now_ms())
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
    ) -> tuple[bytes | None, list[int]]:
        """The response body and the table positions it holds (None: no such record)."""
        params = request.query_params
        pagination: dict[str, int] | None = None
        summary = False
        if record_id is not None:
            want = record_id.lower()
            hits = [
                i
                for i, r in enumerate(table.records)
                if str(r.get(endpoint.id_field, "")).lower() == want
            ]
            if not hits:
                return None, []
            served = hits[:1]
        else:
            indices = self.select(request, endpoint, table)
            ignored = request.scope.get(PAGE_IGNORED)
            served, pagination, summary = page(params, endpoint, table, indices, ignored)
        if summary:
            # No page: Invoices omit their line items (spec getInvoices, `page`: "Up to 100
            # invoices will be returned in a single API call with line items shown").
            blobs = [
                orjson.dumps({k: v for k, v in table.records[i].items() if k != "LineItems"})
                for i in served
            ]
        else:
            blobs = [table.blobs[i] for i in served]
        head = b'{"Id":"%s","Status":"OK","ProviderName":%s,"DateTimeUTC":"/Date(%d)/",' % (
            correlation.encode(),
            self.app.provider,
            self.state.clock.now_ms(),
        )
        if pagination is not None:
            head += b'"pagination":' + orjson.dumps(pagination) + b","
        body = b"".join((head, b'"', endpoint.record_key.encode(), b'":[', b",".join(blobs), b"]}"))
        return body, served

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
            _include_deleted(params),
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
        if endpoint.name == "BankTransfers" and not _include_deleted(params):
            # Spec v16 getBankTransfers: DELETED ones only with includeDeleted=true.
            pool = range(len(table.records)) if indices is None else indices
            indices = [i for i in pool if table.records[i].get("Status") != "DELETED"]
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
    params: Any,
    endpoint: Endpoint,
    table: Table,
    indices: list[int] | None,
    ignored: bool | None = None,
) -> tuple[list[int], dict[str, int] | None, bool]:
    """(positions served, pagination, Invoices summary?) for one call.

    `ignored` (the page_ignored fault): every record on every page, with a pagination
    object echoing the page asked for (True) or none (False).
    """
    total = len(table.records) if indices is None else len(indices)

    def take(start: int, stop: int) -> list[int]:
        if indices is None:
            return list(range(max(0, start), min(stop, total)))
        return indices[start:stop]

    if endpoint.paging is Paging.OFFSET:
        offset = _int_param(params, "offset", 0)
        # JournalNumber is position + 1 and journals are never reordered.
        if indices is None:
            return take(max(0, offset), max(0, offset) + DEFAULT_PAGE_SIZE), None, False
        return [i for i in indices if i >= offset][:DEFAULT_PAGE_SIZE], None, False
    if endpoint.paging is Paging.NONE:
        return take(0, total), None, False
    raw_page = params.get("page")
    if raw_page is None:
        # No page: everything in one answer; Invoices then omit their line items.
        return take(0, total), None, endpoint.name == "Invoices"
    number = max(1, _int_param(params, "page", 1))
    size = DEFAULT_PAGE_SIZE
    if endpoint.paging is Paging.PAGE_SIZE:
        size = min(MAX_PAGE_SIZE, max(1, _int_param(params, "pageSize", DEFAULT_PAGE_SIZE)))
    start = (number - 1) * size
    served = take(0, total) if ignored is not None else take(start, start + size)
    if endpoint.paging is Paging.PAGE or ignored is False:
        return served, None, False
    pagination = {
        "page": number,
        "pageSize": size,
        "pageCount": math.ceil(total / size),
        "itemCount": total,
    }
    return served, pagination, False


def _include_deleted(params: Any) -> bool:
    return str(params.get("includeDeleted") or params.get("IncludeDeleted") or "").lower() == "true"


def _flag(params: Any, name: str) -> bool:
    return str(params.get(name) or "").lower() == "true"


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

"""The admin API under `/_sandbox/`: stats, clock, faults, data changes, reset.

Documented in sandbox/README.md. Not part of Xero: tests and benchmarks drive the
sandbox through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from oauth_etl_dev.sandbox.catalog import ENDPOINTS, ENDPOINTS_BY_LOWER, Endpoint
from oauth_etl_dev.sandbox.edits import EditSpecError, parse_plan
from oauth_etl_dev.sandbox.faults import FaultSpecError, parse_fault
from oauth_etl_dev.sandbox.locks import LockedPeriod, parse_day
from oauth_etl_dev.sandbox.responses import JSON, http_date, json_response
from oauth_etl_dev.sandbox.skews import SkewSpecError, parse_skew
from oauth_etl_dev.sandbox.webhooks import WebhookSpecError

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.app import SandboxApp, SandboxState


class AdminError(ValueError):
    """A bad admin API request: a 400 with a message."""


class AdminApi:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app

    @property
    def state(self) -> SandboxState:
        return self.app.state

    async def dispatch(self, request: Request, lower: str) -> Response:
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
            ("GET", "/_sandbox/edits"): self.admin_edits,
            ("POST", "/_sandbox/edits"): self.admin_edits,
            ("DELETE", "/_sandbox/edits"): self.admin_edits,
            ("POST", "/_sandbox/change"): self.admin_change,
            ("GET", "/_sandbox/consent"): self.admin_consent,
            ("POST", "/_sandbox/consent"): self.admin_consent,
            ("GET", "/_sandbox/ledger"): self.admin_ledger,
            ("GET", "/_sandbox/lock"): self.admin_lock,
            ("POST", "/_sandbox/lock"): self.admin_lock,
            ("GET", "/_sandbox/skew"): self.admin_skew,
            ("POST", "/_sandbox/skew"): self.admin_skew,
            ("DELETE", "/_sandbox/skew"): self.admin_skew,
        }
        handler = handlers.get((request.method, lower.rstrip("/")))
        if lower.startswith("/_sandbox/webhooks"):
            handler = self.admin_webhooks
        if handler is None:
            return json_response(
                {"error": f"no admin route {request.method} {request.url.path}"}, 404
            )
        try:
            return await handler(request)
        except AdminError as exc:
            return json_response({"error": str(exc)}, 400)
        except LockedPeriod as exc:  # as Xero refuses a document in a locked period
            return json_response(exc.body(), 400)

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
        out["edits"] = state.edits.as_json()
        out["clock"] = self._clock_json()
        return out

    async def admin_stats(self, request: Request) -> Response:
        return json_response(self.stats_json())

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
        return json_response(self._clock_json())

    async def admin_faults(self, request: Request) -> Response:
        faults = self.state.faults
        if request.method == "POST":
            try:
                faults.add(parse_fault(await self._payload(request)))
            except FaultSpecError as exc:
                raise AdminError(str(exc)) from exc
        elif request.method == "DELETE":
            faults.clear()
        return json_response({"pending": [f.as_json() for f in faults.faults]})

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
        date_ms = self._day(payload.get("date"))
        try:
            modified, added = self.state.store.by_id[tenant_id].mutate(
                endpoint.name, modify, add, now_ms, date_ms
            )
        except LockedPeriod:
            raise
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        return json_response(
            {
                "tenant_id": tenant_id,
                "endpoint": endpoint.name,
                "modified": modified,
                "added": added,
                "stamp": http_date(now_ms),
                "stamp_ms": now_ms,
            }
        )

    async def admin_reset(self, request: Request) -> Response:
        payload = await self._payload(request)
        self.state.reset(keep_tokens=bool(payload.get("keep_tokens", False)))
        return json_response({"reset": True})

    async def admin_consent(self, request: Request) -> Response:
        """{"tenants": [ids] | null}: the organisations the next authorizations connect."""
        identity = self.state.identity.state
        if request.method == "POST":
            chosen = (await self._payload(request)).get("tenants")
            if chosen is not None and (not isinstance(chosen, list) or not chosen):
                raise AdminError('"tenants" must be a non-empty list of tenant ids, or null')
            identity.consent = None if chosen is None else tuple(self._tenant(t) for t in chosen)
        consent = identity.consent
        return json_response({"tenants": None if consent is None else list(consent)})

    async def admin_tenants(self, request: Request) -> Response:
        return json_response(
            [{"tenantId": t.tenant_id, "tenantName": t.name} for t in self.state.tenants]
        )

    async def admin_records(self, request: Request) -> Response:
        """All records of one tenant and endpoint in serving order (for tests)."""
        tenant_id = self._tenant(request.query_params.get("tenant_id"))
        endpoint = self._endpoint(request.query_params.get("endpoint"))
        table = self.state.store.by_id[tenant_id].table(endpoint.name)
        return Response(b"[" + b",".join(table.blobs) + b"]", 200, media_type=JSON)

    async def admin_edits(self, request: Request) -> Response:
        """The edit mode: changes made after each accounting call (sandbox/edits.py)."""
        edits = self.state.edits
        if request.method == "POST":
            try:
                edits.set(parse_plan(await self._payload(request)))
            except EditSpecError as exc:
                raise AdminError(str(exc)) from exc
        elif request.method == "DELETE":
            edits.set(None)
        return json_response(edits.as_json())

    async def admin_change(self, request: Request) -> Response:
        """One change now: {"endpoint", "kind", "position"?, "id"?, "tenant_id"?}."""
        payload = await self._payload(request)
        tenant_id = self._tenant(payload.get("tenant_id"))
        endpoint = self._endpoint(payload.get("endpoint"))
        kind = payload.get("kind")
        date_ms = self._day(payload.get("date"))
        if kind == "backdate":  # an edit that moves the document to `date`
            if date_ms is None:
                raise AdminError('"backdate" needs "date": "YYYY-MM-DD"')
            kind = "edit"
        store = self.state.store.by_id[tenant_id]
        table = store.table(endpoint.name)
        position = payload.get("position")
        record_id = payload.get("id")
        if isinstance(record_id, str):
            ids = [str(r.get(endpoint.id_field, "")).lower() for r in table.records]
            if record_id.lower() not in ids:
                raise AdminError(f"no {endpoint.name} record with id {record_id}")
            position = ids.index(record_id.lower())
        if kind != "insert" and (
            not isinstance(position, int) or not 0 <= position < len(table.records)
        ):
            raise AdminError('"position" (serving order, from 0) or "id" is required')
        now_ms = self.state.clock.now_ms()
        try:
            changed = store.change(endpoint.name, str(kind), position, now_ms, None, date_ms)
        except LockedPeriod:
            raise
        except ValueError as exc:
            raise AdminError(str(exc)) from exc
        return json_response({"id": changed, "kind": kind, "stamp_ms": now_ms})

    async def admin_webhooks(self, request: Request) -> Response:
        """The app's webhook subscription (sandbox/webhooks.py)."""
        action = request.url.path.lower().removeprefix("/_sandbox/webhooks").strip("/")
        payload = await self._payload(request) if request.method == "POST" else {}
        try:  # intent and flush wait on HTTP: off the event loop
            found = await run_in_threadpool(
                self.state.webhooks.admin, request.method, action, payload
            )
        except WebhookSpecError as exc:
            raise AdminError(str(exc)) from exc
        return json_response(found)

    def _day(self, value: Any) -> int | None:
        if value is None:
            return None
        try:
            return parse_day(str(value))
        except ValueError as exc:
            raise AdminError(f'"date" must be YYYY-MM-DD, not {value!r}') from exc

    async def admin_ledger(self, request: Request) -> Response:
        """Balances per account at `date` (default: today), from the books (for tests)."""
        params = request.query_params
        tenant_id = self._tenant(params.get("tenant_id"))
        store = self.state.store.by_id[tenant_id]
        day = self._day(params.get("date"))
        now = self.state.clock.now_ms()
        to_ms = day if day is not None else now
        cash = params.get("basis", "accrual") == "cash"
        journals = store.table("Journals")
        return json_response(
            {
                "tenant_id": tenant_id,
                "date": datetime.fromtimestamp(to_ms / 1000, UTC).date().isoformat(),
                "basis": "cash" if cash else "accrual",
                "accounts": store.books.summary_json(to_ms, cash),
                "journals": len(journals.records),
                "lock": store.locks.as_json(),
            }
        )

    async def admin_lock(self, request: Request) -> Response:
        """{"tenant_id"?, "period_lock_date"?, "end_of_year_lock_date"?}: null clears."""
        if request.method == "GET":
            tenant_id = self._tenant(request.query_params.get("tenant_id"))
            return json_response(self.state.store.by_id[tenant_id].locks.as_json())
        payload = await self._payload(request)
        tenant_id = self._tenant(payload.get("tenant_id"))
        store = self.state.store.by_id[tenant_id]
        for key, attr in (
            ("period_lock_date", "period_ms"),
            ("end_of_year_lock_date", "end_of_year_ms"),
        ):
            if key in payload:
                setattr(store.locks, attr, self._day(payload[key]))
        store.locks.stamp(store.table("Organisation"))
        return json_response({"tenant_id": tenant_id, **store.locks.as_json()})

    async def admin_skew(self, request: Request) -> Response:
        """Report figures served wrong on purpose, for tests (sandbox/skews.py)."""
        payload = await self._payload(request) if request.method != "GET" else {}
        tenant_id = self._tenant(payload.get("tenant_id", request.query_params.get("tenant_id")))
        store = self.state.store.by_id[tenant_id]
        if request.method == "POST":
            try:
                store.skews.append(parse_skew(payload))
            except SkewSpecError as exc:
                raise AdminError(str(exc)) from exc
        elif request.method == "DELETE":
            store.skews.clear()
        return json_response(
            {"tenant_id": tenant_id, "pending": [s.as_json() for s in store.skews]}
        )

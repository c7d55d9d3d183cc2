"""The ASGI app: identity, connections, accounting API and admin API on one host.

One catch-all route dispatches by lower-cased path because Xero's paths are not case
sensitive (`/connections` and `/Connections` both work). The accounting API is in
sandbox/accounting.py, the admin API in sandbox/admin.py, faults in
sandbox/injection.py.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from oauth_etl_dev.sandbox.accounting import API_PREFIX, NOT_FOUND_TEXT, AccountingApi
from oauth_etl_dev.sandbox.admin import AdminApi
from oauth_etl_dev.sandbox.catalog import ENDPOINTS_BY_LOWER
from oauth_etl_dev.sandbox.clock import SandboxClock
from oauth_etl_dev.sandbox.config import SandboxConfig
from oauth_etl_dev.sandbox.data import DAY_MS
from oauth_etl_dev.sandbox.edits import EditEngine, EditPlan
from oauth_etl_dev.sandbox.faults import Fault, FaultQueue
from oauth_etl_dev.sandbox.grants import AccessGrant, AuthorizePageError, TokenError
from oauth_etl_dev.sandbox.identity import IdentityService
from oauth_etl_dev.sandbox.injection import with_fault
from oauth_etl_dev.sandbox.limits import RateLimiter
from oauth_etl_dev.sandbox.locks import parse_day
from oauth_etl_dev.sandbox.reports import ReportsApi
from oauth_etl_dev.sandbox.responses import json_response, problem
from oauth_etl_dev.sandbox.stats import Stats
from oauth_etl_dev.sandbox.store import DataStore, make_tenants
from oauth_etl_dev.sandbox.webhooks import Subscription, WebhookTarget

FORM = "application/x-www-form-urlencoded"


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
        locks = tuple(
            None if d is None else parse_day(d)
            for d in (config.period_lock_date, config.end_of_year_lock_date)
        )
        self.store = DataStore(
            config.seed,
            self.tenants,
            config.records,
            anchor,
            config.shared_stamps,
            (locks[0], locks[1]),
            config.history_days,
        )
        self.identity = IdentityService(
            config, self.clock, self.stats, [t.tenant_id for t in self.tenants]
        )
        self.limiter = RateLimiter(config, self.clock, self.stats)
        self.faults = FaultQueue()
        self.edits = EditEngine()
        self.started_ms = self.clock.now_ms()
        self._configure_changes()
        # Webhooks of every change (sandbox/webhooks.py); kept across resets, like an app's.
        self.webhooks = Subscription(self.store.listeners)
        if config.webhook_url:
            self.webhooks.set(WebhookTarget(config.webhook_url, config.webhook_key or ""))

    def _configure_changes(self) -> None:
        """The CLI's edit mode and page_ignored fault, in force from the start."""
        config = self.config
        if config.edits_per_call > 0:
            self.edits.set(
                EditPlan(
                    per_call=config.edits_per_call,
                    kinds=tuple(sorted(config.edit_kinds)),
                    endpoints=config.edit_endpoints,
                    target=config.edit_target,
                    seed=config.seed,
                )
            )
        for name in sorted(config.page_ignored):
            self.faults.add(
                Fault(
                    kind="page_ignored",
                    path=f"/api.xro/2.0/{name}",
                    method="GET",
                    status=200,
                    seconds=None,
                    remaining=None,
                    pagination=config.page_ignored_pagination,
                )
            )

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
        self.edits.set(None)
        self._configure_changes()


class SandboxApp:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.state = SandboxState(config)
        self.provider = orjson.dumps(config.app_name)
        self.accounting = AccountingApi(self)
        self.reports = ReportsApi(self)  # /Reports/... from the books (sandbox/reports.py)
        self.admin = AdminApi(self)
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
            response = await self.admin.dispatch(request, lower)
        else:
            fault = self.state.faults.take(request.method, path)
            response = await with_fault(self, request, lower, correlation, fault)
        response.headers["Xero-Correlation-Id"] = correlation
        self.state.stats.responses[str(response.status_code)] += 1
        return response

    async def route(self, request: Request, lower: str, correlation: str) -> Response:
        method = request.method
        if lower == "/identity/connect/authorize" and method == "GET":
            return self.authorize(request)
        if lower == "/connect/token" and method == "POST":
            return await self.token(request)
        if lower == "/connect/revocation" and method == "POST":
            return await self.revocation(request)
        # Lowercase as Xero's OAuth guides write it (developer.xero.com/documentation/guides/
        # oauth2/auth-flow); the identity spec writes /Connections: both are served.
        if lower in ("/connections", "/connections/") and method == "GET":
            return self.connections(request, correlation)
        if lower.startswith(API_PREFIX.lower()) and method == "GET":
            rest = request.url.path[len(API_PREFIX) :].strip("/")
            name, _, record_id = rest.partition("/")
            if name.lower() == "reports":
                return await self.reports.api(request, record_id, correlation)
            endpoint = ENDPOINTS_BY_LOWER.get(name.lower())
            if endpoint is not None and "/" not in record_id:
                return await self.accounting.api(request, endpoint, record_id or None, correlation)
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
        return json_response(exc.body(), exc.status, headers={"Cache-Control": "no-store"})

    async def token(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            body = self.state.identity.token(form, request.headers.get("authorization"))
        except TokenError as exc:
            return self._token_error(exc)
        return json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})

    async def revocation(self, request: Request) -> Response:
        try:
            form = await self._form(request)
            self.state.identity.revoke(form, request.headers.get("authorization"))
        except TokenError as exc:
            return self._token_error(exc)
        return Response(b"", 200)

    def unauthorized(self, correlation: str, detail: str, invalid_token: bool = False) -> Response:
        headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'} if invalid_token else None
        return json_response(
            problem(401, "Unauthorized", detail, correlation), 401, headers=headers
        )

    def bearer(self, request: Request, correlation: str) -> AccessGrant | Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        grant = self.state.identity.grant_for(token.strip()) if scheme.lower() == "bearer" else None
        if grant is None:
            return self.unauthorized(correlation, "AuthenticationUnsuccessful", invalid_token=True)
        now = self.state.clock.now()
        if grant.expires_at <= now:
            expired = datetime.fromtimestamp(grant.expires_at, UTC).strftime("%m/%d/%Y %H:%M:%S")
            return self.unauthorized(
                correlation, f"TokenExpired: token expired at {expired}", invalid_token=True
            )
        if grant.chain is not None:  # which token set made the call (chain 1 = first authorized)
            self.state.stats.calls_by_chain[str(grant.chain.chain_id)] += 1
        return grant

    def connections(self, request: Request, correlation: str) -> Response:
        grant = self.bearer(request, correlation)
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
        return json_response(body, headers=self.state.limiter.headers(None))


def build_app(config: SandboxConfig) -> SandboxApp:
    return SandboxApp(config)


__all__ = ["SandboxApp", "SandboxState", "build_app"]

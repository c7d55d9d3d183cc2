"""Faults scheduled with `POST /_sandbox/faults`, applied to the next matching calls."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from oauth_etl_dev.sandbox.accounting import PAGE_IGNORED
from oauth_etl_dev.sandbox.faults import Fault
from oauth_etl_dev.sandbox.responses import JSON, json_response, problem

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.app import SandboxApp

MAINTENANCE_TEXT = "The Xero API is currently offline for maintenance"


async def with_fault(
    app: SandboxApp, request: Request, lower: str, correlation: str, fault: Fault | None
) -> Response:
    if fault is None:
        return await app.route(request, lower, correlation)
    app.state.stats.faults_fired[fault.kind] += 1
    kind = fault.kind
    if kind == "status":
        if fault.status == 503:
            return Response(MAINTENANCE_TEXT, 503, media_type="text/plain")
        title = "An error occurred" if fault.status >= 500 else "Error"
        return json_response(
            problem(fault.status, title, f"Sandbox fault {fault.status}", correlation),
            fault.status,
        )
    if kind == "drop":
        return await drop(request)
    if kind in ("day_limit", "minute_limit"):
        which = "day" if kind == "day_limit" else "minute"
        app.state.stats.rate_limited[which] += 1
        retry = app.state.limiter.fault_retry_after(which, fault.seconds)
        headers = {"Retry-After": str(retry), "X-Rate-Limit-Problem": which}
        headers.update(app.accounting.limit_headers(request))
        if which == "day":
            headers["X-DayLimit-Remaining"] = "0"
        else:
            headers["X-MinLimit-Remaining"] = "0"
        return Response(b"", 429, headers=headers)
    if kind == "authorization_unsuccessful":
        return app.unauthorized(correlation, "AuthorizationUnsuccessful")
    if kind == "page_ignored":
        # Every record on every page (ManualJournals with `order`: singer-io/tap-xero
        # CHANGELOG 2.2.3).
        request.scope[PAGE_IGNORED] = fault.pagination
        return await app.route(request, lower, correlation)
    if kind == "delay":
        await asyncio.sleep(fault.seconds or 0.0)
        return await app.route(request, lower, correlation)
    response = await app.route(request, lower, correlation)
    if kind == "lost_response":
        # The work is done (a refresh rotated the token); only the answer is lost.
        if fault.seconds:
            await asyncio.sleep(fault.seconds)
        return await drop(request)
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


async def drop(request: Request) -> Response:
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

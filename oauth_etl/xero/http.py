"""One Accounting API request with retries, rate budget and error mapping.

Retries: 5xx, 503 and transport errors, bounded (`max_attempts`, capped backoff, honouring
Retry-After). Minute 429s wait on the tenant's shared budget, bounded
(`max_rate_limit_waits`). A day 429 raises `DayLimitReached` at once (its Retry-After can be
hours: developer.xero.com/documentation/guides/oauth2/limits). Every other status maps to
one error class that says what to do; 401s are classified once, in
`oauth_etl.oauth.auth.classify_401`, so the auth layer and this one agree on what a new
token can fix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TypedDict

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.wait import wait_exponential_jitter

from oauth_etl.oauth.auth import Unauthorized, classify_401
from oauth_etl.xero.catalog import Endpoint
from oauth_etl.xero.errors import (
    DayLimitReached,
    NotEntitled,
    RateLimited,
    TenantDisconnected,
    XeroApiError,
    XeroUnavailable,
)
from oauth_etl.xero.rate import RateBudget

CORRELATION_HEADER = "Xero-Correlation-Id"
DEFAULT_USER_AGENT = "oauth-etl/0.1 (python-httpx)"
# 1,000 invoices with line items can take well over 30 s to serve (issue #12).
DEFAULT_READ_TIMEOUT = 120.0


class Transient(Exception):
    """Worth another attempt: 5xx, 503, timeouts, transport errors."""

    def __init__(
        self, status: int | None, detail: str, correlation_id: str | None, retry_after: float | None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.correlation_id = correlation_id
        self.retry_after = retry_after


class MinuteLimited(Exception):
    def __init__(self, retry_after: float | None, problem: str, correlation_id: str | None) -> None:
        super().__init__(problem)
        self.retry_after = retry_after
        self.problem = problem
        self.correlation_id = correlation_id

    def give_up(self, label: str, message: str | None = None) -> RateLimited:
        """The error a caller sees once this 429 is not waited out."""
        return RateLimited(
            label,
            retry_after=self.retry_after,
            problem=self.problem,
            correlation_id=self.correlation_id,
            message=message,
        )


@dataclass
class Reply:
    status: int
    body: bytes
    headers: httpx.Headers

    @property
    def correlation_id(self) -> str | None:
        value: str | None = self.headers.get(CORRELATION_HEADER)
        return value


class Counters:
    """Thread-safe call counters shared by an extraction's workers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls = 0
        self.retries = 0
        self.rate_limited = 0

    def add(self, *, calls: int = 0, retries: int = 0, rate_limited: int = 0) -> None:
        with self._lock:
            self.calls += calls
            self.retries += retries
            self.rate_limited += rate_limited


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _error_detail(reply: Reply) -> str:
    """A short, human description of an error body (never headers)."""
    text = reply.body[:2000]
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.decode("utf-8", errors="replace").strip() or f"HTTP {reply.status}"
    if isinstance(doc, dict):
        parts = [
            str(doc[key])
            for key in ("Title", "Detail", "Type", "Message", "error", "error_description")
            if doc.get(key)
        ]
        elements = doc.get("Elements")
        if isinstance(elements, list):
            for element in elements[:3]:
                errors = element.get("ValidationErrors") if isinstance(element, dict) else None
                if isinstance(errors, list):
                    parts.extend(str(e.get("Message")) for e in errors[:3] if isinstance(e, dict))
        if parts:
            return ": ".join(parts)
    return text.decode("utf-8", errors="replace").strip()


@dataclass(frozen=True)
class ApiRequest:
    """One GET as every layer of the client passes it on: what to ask, and whom it counts
    against (the tenant's budget, the extraction's counters)."""

    url: str
    label: str  # the endpoint path, or "Connections": names the call in every error
    endpoint: Endpoint | None
    tenant_id: str | None
    params: Mapping[str, str]
    headers: Mapping[str, str]
    budget: RateBudget | None
    counters: Counters


class HttpOptions(TypedDict, total=False):
    """How `ApiHttp` talks to Xero; `XeroClient` passes these through unchanged."""

    timeout: float
    max_attempts: int
    backoff_base: float
    backoff_cap: float
    max_rate_limit_waits: int
    transport: httpx.BaseTransport | None
    user_agent: str
    sleep: Callable[[float], None]


class ApiHttp:
    """The HTTP half of `XeroClient`: one pooled httpx client, retries, error mapping."""

    def __init__(
        self,
        auth: httpx.Auth,
        *,
        max_in_flight: int,
        max_rate_wait: float,
        timeout: float = DEFAULT_READ_TIMEOUT,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        backoff_cap: float = 30.0,
        max_rate_limit_waits: int = 10,
        transport: httpx.BaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.max_attempts = max_attempts
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_rate_wait = max_rate_wait
        self._sleep = sleep
        self._backoff = wait_exponential_jitter(
            initial=backoff_base, max=backoff_cap, jitter=backoff_base
        )
        self._backoff_cap = backoff_cap
        self._http = httpx.Client(
            auth=auth,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max(10, 2 * max_in_flight),
                max_keepalive_connections=max(5, max_in_flight),
            ),
            headers={"Accept": "application/json", "User-Agent": user_agent},
            # Never follow a redirect with the bearer token on it.
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def get(self, request: ApiRequest) -> Reply:
        label, budget, counters = request.label, request.budget, request.counters
        waits = 0
        while True:
            try:
                return self._get_with_retries(request)
            except MinuteLimited as limited:
                counters.add(rate_limited=1)
                waits += 1
                if waits > self.max_rate_limit_waits:
                    raise limited.give_up(
                        label,
                        f"Xero kept answering 429 ({limited.problem}) on {label} after "
                        f"{waits - 1} waits; another client may be spending this tenant's "
                        "budget. Run again later.",
                    ) from None
                if budget is not None:
                    # Holds back every worker of this tenant; the next acquire sleeps.
                    budget.minute_limited(limited.retry_after, label, limited.correlation_id)
                else:
                    wait = limited.retry_after if limited.retry_after is not None else 60.0
                    if wait > self.max_rate_wait:
                        raise limited.give_up(label) from None
                    self._sleep(wait)

    def _wait(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        outcome = state.outcome
        error = outcome.exception() if outcome is not None else None
        asked = error.retry_after if isinstance(error, Transient) else None
        if asked is not None:
            return min(max(backoff, asked), self._backoff_cap)
        return backoff

    def _get_with_retries(self, request: ApiRequest) -> Reply:
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception_type(Transient),
            sleep=self._sleep,
            before_sleep=lambda _state: request.counters.add(retries=1),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    return self._attempt(request)
        except Transient as failed:
            raise XeroUnavailable(
                request.label,
                attempts=self.max_attempts,
                status=failed.status,
                detail=failed.detail,
                correlation_id=failed.correlation_id,
            ) from failed.__cause__
        raise AssertionError("unreachable: tenacity either returns or raises")

    def _attempt(self, request: ApiRequest) -> Reply:
        budget, counters = request.budget, request.counters
        slot: AbstractContextManager[float] = (
            budget.slot(request.label) if budget is not None else nullcontext(0.0)
        )
        with slot as started:
            counters.add(calls=1)
            try:
                # Streamed, and the body joined here: httpx ties a response to its stream
                # in a reference cycle, and a read response would keep its body in that
                # cycle until a full collection (oauth_etl/storage/collector.py).
                with self._http.stream(
                    "GET", request.url, params=request.params, headers=request.headers
                ) as response:
                    body = b"".join(response.iter_bytes())
            except httpx.RequestError as exc:  # transport errors and timeouts
                raise Transient(None, f"{type(exc).__name__}: {exc}", None, None) from exc
            if budget is not None:
                budget.observe(response.headers, started)
        reply = Reply(response.status_code, body, response.headers)
        classify(reply, request.label, request.endpoint, request.tenant_id, budget)
        return reply


def classify(
    reply: Reply,
    label: str,
    endpoint: Endpoint | None,
    tenant_id: str | None,
    budget: RateBudget | None,
) -> None:
    status = reply.status
    if 200 <= status < 300 or status == 304:
        return
    cid = reply.correlation_id
    detail = _error_detail(reply)
    if status == 401:
        kind = classify_401(detail, reply.headers.get("WWW-Authenticate", ""))
        if kind is Unauthorized.NOT_ENTITLED:
            raise NotEntitled(
                label,
                broad_scopes=endpoint.broad_scopes if endpoint else (),
                granular_scopes=endpoint.granular_scopes if endpoint else (),
                advanced_tier=endpoint.advanced_tier if endpoint else False,
                detail=detail,
                correlation_id=cid,
            )
        if kind is Unauthorized.TOKEN:
            advice = (
                f"Xero rejected the access token on {label} ({detail}) even after the auth "
                "layer's refresh: check `oauth-etl token status`, or run `oauth-etl authorize`."
            )
        else:
            advice = (
                f"Xero answered 401 on {label} ({detail}) without saying whether the token or "
                "the connection's scopes are at fault: check `oauth-etl token status`, then "
                "re-authorize with the endpoint's scopes."
            )
        raise XeroApiError(401, label, detail, cid, message=advice)
    if status == 403:
        raise TenantDisconnected(label, tenant_id or "(none)", detail=detail, correlation_id=cid)
    if status == 429:
        retry_after = _retry_after(reply.headers)
        problem = (reply.headers.get("X-Rate-Limit-Problem") or "minute").strip().lower()
        if problem == "day":
            if budget is not None:
                raise budget.day_limited(retry_after, label, cid)
            raise DayLimitReached(label, retry_after=retry_after, correlation_id=cid)
        raise MinuteLimited(retry_after, problem, cid)
    if status >= 500:
        raise Transient(status, detail, cid, _retry_after(reply.headers))
    raise XeroApiError(status, label, detail, cid)

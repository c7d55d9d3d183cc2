"""XeroClient against the real sandbox over HTTP on 127.0.0.1."""

from __future__ import annotations

import math
from collections.abc import Generator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from oauth_etl.xero.catalog import CATALOG, endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.dates import from_cursor, parse_xero_datetime
from oauth_etl.xero.errors import MalformedResponse, NotEntitled, XeroUnavailable
from oauth_etl.xero.rate import RateBudget
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle

READ_SCOPES = (
    "offline_access accounting.transactions.read accounting.contacts.read "
    "accounting.settings.read accounting.journals.read accounting.budgets.read"
)
REDIRECT = "http://127.0.0.1:8765/callback"


class Bearer(httpx.Auth):
    """Test-only: the bearer from one authorization-code exchange."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def authorize(handle: SandboxHandle, scopes: str = READ_SCOPES) -> Bearer:
    with httpx.Client(base_url=handle.url, timeout=10.0, follow_redirects=False) as http:
        answer = http.get(
            "/identity/connect/authorize",
            params={
                "response_type": "code",
                "client_id": handle.client_id,
                "redirect_uri": REDIRECT,
                "scope": scopes,
                "state": "s1",
            },
        )
        assert answer.status_code == 302, answer.text
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        token = http.post(
            "/connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(handle.client_id, handle.client_secret or ""),
        )
        token.raise_for_status()
        return Bearer(token.json()["access_token"])


def unpaced(tenant: str) -> RateBudget:
    """For --no-limits sandboxes: keep the in-flight cap, skip the real-time pacing."""
    return RateBudget(tenant, per_minute=100_000)


def client_for(handle: SandboxHandle, scopes: str = READ_SCOPES, **kwargs: object) -> XeroClient:
    kwargs.setdefault("budget_factory", unpaced)
    return XeroClient(handle.url, authorize(handle, scopes), **kwargs)  # type: ignore[arg-type]


def api_calls(handle: SandboxHandle, tenant: str) -> dict[str, int]:
    calls = handle.stats()["api_calls"]
    assert isinstance(calls, dict)
    return dict(calls.get(tenant, {}))


PAGED = ("invoices", "contacts", "journals", "quotes")


def test_all_pages_for_two_tenants_match_the_sandbox(sandbox_factory: SandboxFactory) -> None:
    # ~80 Journals calls a tenant (the ledger posts ~3.7 journals a document): a minute
    # limit above them, or the client would rightly wait out X-MinLimit-Remaining: 0.
    handle = sandbox_factory(
        "--tenants", "2", "--records", "2100", "--no-limits", "--minute-limit", "1000"
    )
    with client_for(handle) as client:
        tenants = client.connections()
        assert len(tenants) == 2
        counts = handle.stats()["records"]
        assert isinstance(counts, dict)
        for tenant in tenants:
            tid = tenant.tenant_id
            for name in PAGED:
                e = endpoint(name)
                extraction = client.extract(e, tid)
                ids = [r[e.id_field or ""] for r in extraction]
                assert len(ids) == len(set(ids)) == counts[tid][e.path], (tid, name)
                assert extraction.stats.complete and extraction.stats.rate_limited == 0
            calls = api_calls(handle, tid)
            assert calls["Invoices"] == math.ceil(counts[tid]["Invoices"] / 1000) == 3
            assert calls["Contacts"] == math.ceil(counts[tid]["Contacts"] / 1000)
            assert calls["Quotes"] == counts[tid]["Quotes"] // 100 + 1
            assert calls["Journals"] == counts[tid]["Journals"] // 100 + 1
        in_flight = handle.stats()["max_in_flight"]
        assert isinstance(in_flight, dict) and max(in_flight.values()) <= 5


def test_every_catalog_endpoint_reads_from_the_sandbox(sandbox: SandboxHandle) -> None:
    with client_for(sandbox) as client:
        tid = client.connections()[0].tenant_id
        counts = sandbox.stats()["records"][tid]  # type: ignore[index]
        for e in CATALOG:
            got = list(client.extract(e, tid))
            assert len(got) == counts[e.path], e.path
            if e.id_field:
                assert all(e.id_field in r for r in got), e.path


def test_incremental_run_after_mutations_returns_only_changes(sandbox: SandboxHandle) -> None:
    with client_for(sandbox) as client:
        tid = client.connections()[0].tenant_id
        first = client.extract(endpoint("invoices"), tid)
        assert sum(1 for _ in first) == 250
        assert first.stats.cursor_to is not None
        cursor = from_cursor(first.stats.cursor_to)
        sandbox.advance_clock(5)
        changes = sandbox.post(
            "/_sandbox/mutate",
            {"tenant_id": tid, "endpoint": "Invoices", "modify": 3, "add": 2},
        ).json()
        second = client.extract(endpoint("invoices"), tid, modified_since=cursor)
        changed = {r["InvoiceID"]: r for r in second}
    expected = set(changes["modified"]) | set(changes["added"])
    assert expected <= set(changed)
    # Anything else is the at-least-once overlap of the cursor's own second.
    for extra in set(changed) - expected:
        stamp = parse_xero_datetime(changed[extra]["UpdatedDateUTC"])
        assert stamp.replace(microsecond=0) == cursor.replace(microsecond=0)
    assert second.stats.cursor_to is not None
    assert from_cursor(second.stats.cursor_to) > cursor


def test_journals_not_entitled_and_faults_surface_clearly(sandbox: SandboxHandle) -> None:
    scopes = "offline_access accounting.transactions.read"
    with client_for(sandbox, scopes, backoff_base=0.01) as client:
        tid = client.connections()[0].tenant_id
        with pytest.raises(NotEntitled, match=r"accounting\.journals\.read"):
            list(client.extract(endpoint("journals"), tid))
        sandbox.post(
            "/_sandbox/faults",
            {"fault": "truncated", "match": {"path": "/api.xro/2.0/Invoices"}},
        )
        with pytest.raises(MalformedResponse, match="Xero-Correlation-Id"):
            list(client.extract(endpoint("invoices"), tid))
        sandbox.post(
            "/_sandbox/faults",
            {"fault": "status", "status": 503, "count": 2, "match": {"path": "/api.xro/2.0/*"}},
        )
        assert sum(1 for _ in client.extract(endpoint("invoices"), tid)) == 250
        sandbox.post(
            "/_sandbox/faults",
            {"fault": "drop", "forever": True, "match": {"path": "/api.xro/2.0/Invoices"}},
        )
        with pytest.raises(XeroUnavailable):
            list(client.extract(endpoint("invoices"), tid))


def test_day_limit_fault_stops_cleanly(sandbox: SandboxHandle) -> None:
    with client_for(sandbox, page_size=100) as client:
        tid = client.connections()[0].tenant_id
        sandbox.post(
            "/_sandbox/faults",
            {"fault": "day_limit", "forever": True, "match": {"path": "/api.xro/2.0/Contacts"}},
        )
        extraction = client.extract(endpoint("contacts"), tid)
        assert list(extraction) == []
        assert extraction.stats.stopped_early and extraction.stats.cursor_to is None


def test_pacing_under_time_scale_gets_no_429(sandbox_factory: SandboxFactory) -> None:
    scale = 30.0  # a sandbox minute lasts 2 s
    handle = sandbox_factory(
        "--tenants", "1", "--records", "4000", "--time-scale", str(scale), "--latency-ms", "20"
    )

    def factory(tenant: str) -> RateBudget:
        return RateBudget(tenant, window_seconds=60.0 / scale)

    with XeroClient(handle.url, authorize(handle), page_size=100, budget_factory=factory) as client:
        tid = client.connections()[0].tenant_id
        extraction = client.extract(endpoint("invoices"), tid)
        assert sum(1 for _ in extraction) == 4000
    stats = handle.stats()
    assert extraction.stats.api_calls == 40
    assert stats["rate_limited"] == {"minute": 0, "day": 0, "appminute": 0, "concurrent": 0}
    # Wall time against the rate-limit bound is a benchmark figure (bench/), not a test.

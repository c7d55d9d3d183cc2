"""Fault injection, mutation, stats, reset and clock over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import orjson
import pytest

from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.sandbox.conftest import Xero

INVOICES = "/api.xro/2.0/Invoices"


@pytest.fixture
def session(xero: Xero) -> tuple[Xero, dict[str, str], str]:
    tokens = xero.login()
    return xero, tokens, xero.tenants(tokens["access_token"])[0]


def _fault(xero: Xero, fault: str, path: str = INVOICES, **extra: object) -> None:
    xero.admin("faults", {"match": {"path": path}, "fault": fault, **extra})


def test_status_faults(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    _fault(xero, "status", count=2)
    for _ in range(2):
        response = xero.api("Invoices", tokens["access_token"], tenant)
        assert response.status_code == 503
        assert response.text == "The Xero API is currently offline for maintenance"
        assert "Xero-Correlation-Id" in response.headers
    assert xero.api("Invoices", tokens["access_token"], tenant).status_code == 200
    _fault(xero, "status", status=500)
    assert xero.api("Invoices", tokens["access_token"], tenant).json()["Status"] == 500
    assert xero.stats()["faults_fired"]["status"] == 3


def test_fault_matches_method_and_only_its_path(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    xero.admin("faults", {"match": {"path": INVOICES, "method": "POST"}, "fault": "status"})
    _fault(xero, "status", path="/api.xro/2.0/Contacts")
    assert xero.api("Invoices", tokens["access_token"], tenant).status_code == 200
    pending = xero.http.get("/_sandbox/faults").json()["pending"]
    assert len(pending) == 2
    assert xero.http.delete("/_sandbox/faults").json() == {"pending": []}
    assert xero.api("Contacts", tokens["access_token"], tenant).status_code == 200


def test_delay_beyond_client_timeout(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    _fault(xero, "delay", seconds=1.0)
    with pytest.raises(httpx.ReadTimeout):
        xero.http.get(
            INVOICES,
            headers={"Authorization": f"Bearer {tokens['access_token']}", "xero-tenant-id": tenant},
            timeout=0.2,
        )
    assert xero.api("Invoices", tokens["access_token"], tenant).status_code == 200


def test_truncated_and_non_json(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    _fault(xero, "truncated")
    cut = xero.api("Invoices", tokens["access_token"], tenant, {"page": 1})
    assert cut.status_code == 200
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(cut.content)
    assert "X-MinLimit-Remaining" in cut.headers
    _fault(xero, "non_json")
    html = xero.api("Invoices", tokens["access_token"], tenant, {"page": 1})
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")


def test_drop_closes_without_response(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    _fault(xero, "drop")
    with pytest.raises(httpx.RemoteProtocolError):
        xero.api("Invoices", tokens["access_token"], tenant)
    assert xero.api("Invoices", tokens["access_token"], tenant).status_code == 200


def test_lost_token_response_still_rotates(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, _ = session
    _fault(xero, "lost_response", path="/connect/token")
    with pytest.raises(httpx.RemoteProtocolError):
        xero.refresh(tokens["refresh_token"])
    stats = xero.stats()
    assert stats["grants"]["refresh_token"] == 1 and stats["chains"]["current_length"] == 1
    retry = xero.refresh(tokens["refresh_token"])  # the old token, within the grace period
    assert retry.status_code == 200 and xero.stats()["grace_reuses"] == 1


def test_limit_and_authorization_faults(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    _fault(xero, "day_limit", seconds=7200)
    day = xero.api("Invoices", tokens["access_token"], tenant)
    assert day.status_code == 429 and day.headers["X-Rate-Limit-Problem"] == "day"
    assert day.headers["Retry-After"] == "7200" and day.headers["X-DayLimit-Remaining"] == "0"
    _fault(xero, "minute_limit")
    minute = xero.api("Invoices", tokens["access_token"], tenant)
    assert (
        minute.headers["X-Rate-Limit-Problem"] == "minute" and minute.headers["Retry-After"] == "60"
    )
    xero.admin(
        "faults",
        {
            "match": {"path": "/api.xro/2.0/Journals"},
            "fault": "authorization_unsuccessful",
            "forever": True,
        },
    )
    for _ in range(2):
        journals = xero.api("Journals", tokens["access_token"], tenant)
        assert (
            journals.status_code == 401 and journals.json()["Detail"] == "AuthorizationUnsuccessful"
        )
    assert xero.stats()["rate_limited"]["day"] == 1


def test_bad_fault_spec_is_400(xero: Xero) -> None:
    for spec in (
        {"fault": "status"},
        {"match": {"path": "/x"}, "fault": "explode"},
        {"match": {"path": "/x"}, "fault": "delay"},
    ):
        response = xero.http.post("/_sandbox/faults", json=spec)
        assert response.status_code == 400 and response.json()["error"]


def test_mutate_is_seen_by_incremental_reads(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    before = xero.records(tenant, "Contacts")
    newest = max(int(r["UpdatedDateUTC"][6:19]) for r in before)
    result = xero.admin(
        "mutate", {"tenant_id": tenant, "endpoint": "Contacts", "modify": 3, "add": 2}
    )
    assert len(result["modified"]) == 3 and len(result["added"]) == 2
    since = xero.api(
        "Contacts",
        tokens["access_token"],
        tenant,
        {"page": 1},
        {"If-Modified-Since": _iso(newest)},
    ).json()["Contacts"]
    assert {c["ContactID"] for c in since} == set(result["modified"]) | set(result["added"])
    after = xero.records(tenant, "Contacts")
    assert len(after) == len(before) + 2
    stats = xero.stats()
    assert stats["records"][tenant]["Contacts"] == len(after)
    journals = xero.admin("mutate", {"endpoint": "Journals", "add": 1})
    assert len(journals["added"]) == 1
    refused = xero.http.post("/_sandbox/mutate", json={"endpoint": "Journals", "modify": 1})
    assert refused.status_code == 400


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def test_stats_and_reset(session: tuple[Xero, dict[str, str], str]) -> None:
    xero, tokens, tenant = session
    xero.api("Invoices", tokens["access_token"], tenant, {"page": 1, "pageSize": 20})
    xero.api("Invoices", tokens["access_token"], tenant, {"page": 2, "pageSize": 20})
    stats = xero.stats()
    assert stats["api_calls"][tenant]["Invoices"] == 2
    assert stats["records_served"][tenant]["Invoices"] == 40
    assert stats["records"][tenant]["Invoices"] == 50 and stats["records"][tenant]["Accounts"] == 20
    assert stats["grants"] == {"authorization_code": 1, "refresh_token": 0, "client_credentials": 0}
    xero.admin("mutate", {"endpoint": "Invoices", "add": 5})
    xero.admin("clock", {"advance_seconds": 10})
    xero.admin("reset", {"keep_tokens": True})
    after = xero.stats()
    assert after["api_calls_total"] == 0 and after["records"][tenant]["Invoices"] == 50
    assert after["clock"]["offset_seconds"] == 0
    assert xero.api("Accounts", tokens["access_token"], tenant).status_code == 200
    xero.admin("reset")
    assert xero.api("Accounts", tokens["access_token"], tenant).status_code == 401


def test_clock_endpoint(xero: Xero) -> None:
    before = xero.http.get("/_sandbox/clock").json()
    after = xero.admin("clock", {"advance_seconds": 3600})
    assert after["offset_seconds"] == 3600 and after["now_ms"] - before["now_ms"] >= 3_600_000
    assert xero.http.post("/_sandbox/clock", json={"advance": 1}).status_code == 400


def test_cli_subprocess_serves_and_drops(sandbox_factory: SandboxFactory) -> None:
    """The path the project's fixtures use: `python -m oauth_etl_dev.sandbox ...`."""
    handle = sandbox_factory("--tenants", "1", "--records", "30", "--no-limits")
    xero = Xero(handle.url, handle.client_id, handle.client_secret)
    try:
        tokens = xero.login()
        tenant = xero.tenants(tokens["access_token"])[0]
        assert len(xero.api("Invoices", tokens["access_token"], tenant).json()["Invoices"]) == 30
        handle.post("/_sandbox/faults", {"match": {"path": INVOICES}, "fault": "drop"})
        with pytest.raises(httpx.RemoteProtocolError):
            xero.api("Invoices", tokens["access_token"], tenant)
        handle.advance_clock(1801)
        assert xero.api("Invoices", tokens["access_token"], tenant).status_code == 401
        assert handle.stats()["faults_fired"] == {"drop": 1}
        assert (
            handle.sandbox.service.log_tail()
            .splitlines()[0]
            .startswith("listening on http://127.0.0.1:")
        )
    finally:
        xero.close()

"""Rate limits over real HTTP, on a fast limit clock (--time-scale)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from click.testing import CliRunner

from oauth_etl_dev.sandbox import SandboxConfig
from oauth_etl_dev.sandbox import cli as sandbox_cli
from oauth_etl_dev.sandbox.config import REGISTERED_REDIRECT_URIS
from oauth_etl_dev.sandbox.grants import NEW_APP_SCOPES
from oauth_etl_dev.sandbox.limits import tier_day_limit
from oauth_etl_tests.sandbox.conftest import Xero, XeroFactory


def _login(xero: Xero) -> tuple[str, list[str]]:
    token = xero.login()["access_token"]
    return token, xero.tenants(token)


def test_minute_limit_headers_429_and_recovery(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, minute_limit=5, time_scale=60.0)  # a minute lasts 1 s
    token, tenants = _login(xero)
    remaining = []
    for _ in range(5):
        response = xero.api("Accounts", token, tenants[0])
        assert response.status_code == 200
        remaining.append(int(response.headers["X-MinLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = xero.api("Accounts", token, tenants[0])
    assert limited.status_code == 429
    assert limited.headers["X-Rate-Limit-Problem"] == "minute"
    assert limited.headers["Retry-After"] == "1"
    assert xero.api("Accounts", token, tenants[1]).status_code == 200  # per tenant
    time.sleep(float(limited.headers["Retry-After"]))
    assert xero.api("Accounts", token, tenants[0]).status_code == 200
    assert xero.stats()["rate_limited"]["minute"] == 1


def test_clock_advance_clears_the_minute_window(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, minute_limit=2)
    token, tenants = _login(xero)
    for _ in range(2):
        assert xero.api("Users", token, tenants[0]).status_code == 200
    assert xero.api("Users", token, tenants[0]).status_code == 429
    xero.admin("clock", {"advance_seconds": 61})
    assert xero.api("Users", token, tenants[0]).status_code == 200


def test_day_limit(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, day_limit=3, time_scale=10.0)
    token, tenants = _login(xero)
    days = [xero.api("Items", token, tenants[0]).headers["X-DayLimit-Remaining"] for _ in range(3)]
    assert days == ["2", "1", "0"]
    limited = xero.api("Items", token, tenants[0])
    assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Problem"] == "day"
    assert 8000 <= int(limited.headers["Retry-After"]) <= 8640  # a day on the 10x clock
    assert xero.stats()["rate_limited"]["day"] == 1


def test_app_minute_limit_across_tenants(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, app_minute_limit=3)
    token, tenants = _login(xero)
    for tenant in (tenants[0], tenants[1], tenants[0]):
        assert xero.api("Currencies", token, tenant).status_code == 200
    limited = xero.api("Currencies", token, tenants[1])
    assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Problem"] == "appminute"
    assert limited.headers["X-AppMinLimit-Remaining"] == "0"
    connections = xero.http.get("/connections", headers={"Authorization": f"Bearer {token}"})
    assert connections.headers["X-AppMinLimit-Remaining"] == "0"
    assert "X-DayLimit-Remaining" not in connections.headers


def test_concurrent_limit(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, latency_ms=400.0)
    token, tenants = _login(xero)

    async def burst() -> list[httpx.Response]:
        headers = {"Authorization": f"Bearer {token}", "xero-tenant-id": tenants[0]}
        async with httpx.AsyncClient(base_url=xero.url, timeout=10.0) as client:
            calls = [client.get("/api.xro/2.0/Accounts", headers=headers) for _ in range(7)]
            return await asyncio.gather(*calls)

    statuses = sorted(r.status_code for r in asyncio.run(burst()))
    assert statuses == [200] * 5 + [429] * 2
    stats = xero.stats()
    assert stats["rate_limited"]["concurrent"] == 2
    assert stats["max_in_flight"][tenants[0]] == 5


def test_no_limits_still_counts(xero: Xero) -> None:
    token, tenants = _login(xero)
    for _ in range(70):
        response = xero.api("TaxRates", token, tenants[0])
        assert response.status_code == 200
    assert response.headers["X-MinLimit-Remaining"] == "0"
    assert xero.stats()["api_calls"][tenants[0]]["TaxRates"] == 70


def test_latency_grows_with_page_size(xero_factory: XeroFactory) -> None:
    xero = xero_factory(records=1000, tenants=1, latency_ms=20.0, per_record_ms=0.1)
    token, tenants = _login(xero)
    xero.api("Invoices", token, tenants[0], {"page": 1})  # build the table first

    def timed(size: int) -> float:
        start = time.perf_counter()
        assert (
            xero.api("Invoices", token, tenants[0], {"page": 1, "pageSize": size}).status_code
            == 200
        )
        return time.perf_counter() - start

    small, large = timed(100), timed(1000)
    assert small >= 0.03 and large >= 0.12 and large > small


def test_tier_sets_the_day_limit() -> None:
    assert tier_day_limit("starter") == 1000
    assert tier_day_limit("Core") == tier_day_limit("advanced") == 5000
    with pytest.raises(ValueError, match="unknown tier"):
        tier_day_limit("gold")


def _config_of(monkeypatch: pytest.MonkeyPatch, *args: str) -> SandboxConfig:
    seen: list[SandboxConfig] = []
    monkeypatch.setattr(sandbox_cli, "serve_forever", lambda config, _announce: seen.append(config))
    result = CliRunner().invoke(sandbox_cli.sandbox_command, ["--client-id", "x", *args])
    assert result.exit_code == 0, result.output
    return seen[0]


def test_cli_tier_and_registration_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _config_of(monkeypatch, "--tier", "starter").day_limit == 1000
    assert _config_of(monkeypatch, "--tier", "core").day_limit == 5000
    assert _config_of(monkeypatch, "--tier", "starter", "--day-limit", "7").day_limit == 7
    default = _config_of(monkeypatch)
    assert default.day_limit == 5000 and default.redirect_uris == REGISTERED_REDIRECT_URIS
    custom = _config_of(
        monkeypatch,
        "--redirect-uri",
        "https://a.example/cb",
        "--redirect-uri",
        "http://localhost:9/cb",
    )
    assert custom.redirect_uris == ("https://a.example/cb", "http://localhost:9/cb")
    assert _config_of(monkeypatch, "--scopes", "new-app").scopes == NEW_APP_SCOPES
    refused = CliRunner().invoke(
        sandbox_cli.sandbox_command, ["--client-id", "x", "--redirect-uri", "https://*.example/cb"]
    )
    assert refused.exit_code == 2 and "wildcards" in refused.output


def test_starter_tier_answers_429_day_after_1000_calls(xero_factory: XeroFactory) -> None:
    xero = xero_factory(limits=True, day_limit=tier_day_limit("starter"), minute_limit=100_000)
    token, tenants = _login(xero)
    first = xero.api("Accounts", token, tenants[0])
    assert first.headers["X-DayLimit-Remaining"] == "999"
    for _ in range(999):
        assert xero.api("Currencies", token, tenants[0]).status_code == 200
    limited = xero.api("Accounts", token, tenants[0])
    assert limited.status_code == 429 and limited.headers["X-Rate-Limit-Problem"] == "day"

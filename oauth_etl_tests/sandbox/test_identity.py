"""Identity endpoints over real HTTP: codes, PKCE, rotation, grace, expiry, revocation, errors."""

from __future__ import annotations

import base64

import pytest

from oauth_etl_tests.sandbox.conftest import READ_ALL, REDIRECT, Xero, XeroFactory, pkce_pair


def test_authorization_code_grant_shape(xero: Xero) -> None:
    tokens = xero.login()
    assert set(tokens) == {
        "id_token",
        "access_token",
        "expires_in",
        "token_type",
        "refresh_token",
        "scope",
    }
    assert tokens["expires_in"] == 1800 and tokens["token_type"] == "Bearer"
    assert set(tokens["scope"].split()) == set(READ_ALL.split())
    assert len(xero.tenants(tokens["access_token"])) == 2
    assert xero.stats()["grants"]["authorization_code"] == 1


def test_without_offline_access_no_refresh_token(xero: Xero) -> None:
    tokens = xero.login("accounting.transactions.read")
    assert "refresh_token" not in tokens and "id_token" not in tokens


def test_code_is_single_use_and_expires(xero: Xero) -> None:
    code = xero.code()
    assert xero.exchange(code).status_code == 200
    again = xero.exchange(code)
    assert again.status_code == 400 and again.json() == {"error": "invalid_grant"}
    late = xero.code()
    xero.admin("clock", {"advance_seconds": 301})
    assert xero.exchange(late).json() == {"error": "invalid_grant"}


def test_code_redirect_uri_must_match(xero: Xero) -> None:
    response = xero.token(
        {
            "grant_type": "authorization_code",
            "code": xero.code(),
            "redirect_uri": "http://127.0.0.1:1/other",
        }
    )
    assert response.status_code == 400 and response.json() == {"error": "invalid_grant"}


def test_rotation_every_refresh_gives_a_new_refresh_token(xero: Xero) -> None:
    rt = xero.login()["refresh_token"]
    seen = {rt}
    for _ in range(3):
        response = xero.refresh(rt)
        assert response.status_code == 200
        body = response.json()
        assert body["refresh_token"] not in seen and body["expires_in"] == 1800
        seen.add(body["refresh_token"])
        rt = body["refresh_token"]
        assert xero.tenants(body["access_token"])
    stats = xero.stats()
    assert stats["grants"]["refresh_token"] == 3
    assert stats["chains"]["current_length"] == 3 and stats["chains"]["live"] == 1


def test_grace_reuse_then_invalid_grant_after_grace(xero_factory: XeroFactory) -> None:
    xero = xero_factory(grace=1800)
    old = xero.login()["refresh_token"]
    first = xero.refresh(old).json()
    xero.admin("clock", {"advance_seconds": 1700})
    reuse = xero.refresh(old)
    assert reuse.status_code == 200
    assert reuse.json()["refresh_token"] != first["refresh_token"]
    assert xero.refresh(reuse.json()["refresh_token"]).status_code == 200  # the chain goes on
    xero.admin("clock", {"advance_seconds": 200})  # 1900 s after the first use
    late = xero.refresh(old)
    assert late.status_code == 400 and late.json() == {"error": "invalid_grant"}
    stats = xero.stats()
    assert stats["grace_reuses"] == 1 and stats["invalid_grant"] == 1


def test_strict_mode_rejects_any_reuse(xero_factory: XeroFactory) -> None:
    xero = xero_factory(strict=True)
    old = xero.login()["refresh_token"]
    assert xero.refresh(old).status_code == 200
    reuse = xero.refresh(old)
    assert reuse.status_code == 400 and reuse.json() == {"error": "invalid_grant"}
    assert xero.stats()["grace_reuses"] == 0


def test_unused_refresh_token_expires(xero_factory: XeroFactory) -> None:
    xero = xero_factory(refresh_ttl=1000)
    tokens = xero.login()
    xero.admin("clock", {"advance_seconds": 999})
    fresh = xero.refresh(tokens["refresh_token"]).json()
    xero.admin("clock", {"advance_seconds": 1001})
    assert xero.refresh(fresh["refresh_token"]).json() == {"error": "invalid_grant"}


def test_access_token_expiry_gives_token_expired(xero: Xero) -> None:
    tokens = xero.login()
    tenant = xero.tenants(tokens["access_token"])[0]
    assert xero.api("Accounts", tokens["access_token"], tenant).status_code == 200
    xero.admin("clock", {"advance_seconds": 1801})
    response = xero.api("Accounts", tokens["access_token"], tenant)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    body = response.json()
    assert body["Title"] == "Unauthorized" and body["Status"] == 401
    assert body["Detail"].startswith("TokenExpired: token expired at ")
    again = xero.refresh(tokens["refresh_token"]).json()
    assert xero.api("Accounts", again["access_token"], tenant).status_code == 200


def test_revocation_kills_the_chain(xero: Xero) -> None:
    tokens = xero.login()
    second = xero.refresh(tokens["refresh_token"]).json()
    response = xero.http.post(
        "/connect/revocation",
        data={"token": tokens["refresh_token"]},
        auth=(xero.client_id, xero.client_secret or ""),
    )
    assert response.status_code == 200
    assert xero.refresh(second["refresh_token"]).json() == {"error": "invalid_grant"}
    denied = xero.http.get(
        "/connections", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert denied.status_code == 401
    assert xero.stats()["revocations"] == 1 and xero.stats()["chains"]["live"] == 0


def test_revocation_needs_client_auth(xero: Xero) -> None:
    tokens = xero.login()
    response = xero.http.post(
        "/connect/revocation", data={"token": tokens["refresh_token"]}, auth=("x", "y")
    )
    assert response.status_code == 401 and response.json() == {"error": "invalid_client"}


def test_pkce_public_client(xero_factory: XeroFactory) -> None:
    xero = xero_factory(client_secret=None)
    verifier, challenge = pkce_pair()
    good = xero.exchange(xero.code(challenge=challenge), verifier)
    assert good.status_code == 200 and "refresh_token" in good.json()
    _, other = pkce_pair()
    bad = xero.exchange(xero.code(challenge=other), verifier)
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_grant"}
    missing = xero.exchange(xero.code(challenge=challenge))
    assert missing.json() == {"error": "invalid_grant"}
    # The public client refreshes with client_id in the body and no secret.
    refreshed = xero.refresh(good.json()["refresh_token"])
    assert refreshed.status_code == 200


def test_public_client_must_send_a_challenge(xero_factory: XeroFactory) -> None:
    xero = xero_factory(client_secret=None)
    response = xero.authorize()
    assert response.status_code == 302
    assert "error=invalid_request" in response.headers["location"]
    plain = xero.authorize(code_challenge="x" * 43, code_challenge_method="plain")
    assert "error=invalid_request" in plain.headers["location"]


def test_confidential_client_may_add_pkce(xero: Xero) -> None:
    verifier, challenge = pkce_pair()
    assert xero.exchange(xero.code(challenge=challenge), verifier).status_code == 200


@pytest.mark.parametrize("basic", [True, False])
def test_client_auth_basic_or_body(xero: Xero, basic: bool) -> None:
    assert xero.exchange(xero.code(), basic=basic).status_code == 200


def test_wrong_secret_is_invalid_client(xero: Xero) -> None:
    code = xero.code()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    basic = xero.http.post("/connect/token", data=form, auth=(xero.client_id, "wrong"))
    assert basic.status_code == 401 and basic.json() == {"error": "invalid_client"}
    body = xero.http.post(
        "/connect/token", data={**form, "client_id": xero.client_id, "client_secret": "wrong"}
    )
    assert body.status_code == 401 and body.json() == {"error": "invalid_client"}
    garbage = xero.http.post(
        "/connect/token",
        data=form,
        headers={"Authorization": "Basic !!!" + base64.b64encode(b"x").decode()},
    )
    assert garbage.status_code == 401


def test_token_endpoint_errors(xero: Xero) -> None:
    unsupported = xero.token({"grant_type": "password"})
    assert unsupported.status_code == 400 and unsupported.json() == {
        "error": "unsupported_grant_type"
    }
    no_grant = xero.token({})
    assert no_grant.status_code == 400 and no_grant.json()["error"] == "invalid_request"
    missing = xero.token({"grant_type": "refresh_token"})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    as_json = xero.http.post(
        "/connect/token",
        json={"grant_type": "refresh_token", "refresh_token": "x"},
        auth=(xero.client_id, xero.client_secret or ""),
    )
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    unknown = xero.refresh("not-a-token")
    assert unknown.status_code == 400 and unknown.json() == {"error": "invalid_grant"}
    scope = xero.token({"grant_type": "client_credentials", "scope": "accounting.everything"})
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    assert "accounting.everything" in scope.json()["error_description"]
    assert xero.stats()["token_errors"]["invalid_request"] == 3


def test_client_credentials_one_tenant_no_refresh(xero: Xero) -> None:
    response = xero.token(
        {"grant_type": "client_credentials", "scope": "accounting.transactions.read"}
    )
    assert response.status_code == 200
    body = response.json()
    assert "refresh_token" not in body and body["scope"] == "accounting.transactions.read"
    tenants = xero.tenants(body["access_token"])
    assert len(tenants) == 1
    assert xero.api("Invoices", body["access_token"], tenants[0]).status_code == 200
    assert xero.stats()["grants"]["client_credentials"] == 1


def test_client_credentials_needs_a_secret(xero_factory: XeroFactory) -> None:
    xero = xero_factory(client_secret=None)
    response = xero.token({"grant_type": "client_credentials"})
    assert response.status_code == 401 and response.json() == {"error": "invalid_client"}


def test_authorize_bad_client_or_redirect_is_a_page(xero: Xero) -> None:
    for extra in ({"client_id": "someone-else"}, {"redirect_uri": "http://example.com/cb"}):
        response = xero.authorize(**extra)
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]
    https = xero.authorize(redirect_uri="https://example.com/cb")
    assert https.status_code == 302 and https.headers["location"].startswith(
        "https://example.com/cb?code="
    )


def test_authorize_scope_errors_redirect(xero_factory: XeroFactory) -> None:
    xero = xero_factory(scopes=frozenset({"offline_access", "accounting.transactions.read"}))
    response = xero.authorize(scope="offline_access accounting.settings.read")
    assert response.status_code == 302
    assert "error=invalid_scope" in response.headers["location"]
    assert "state=st-1" in response.headers["location"]
    wrong_type = xero.authorize(response_type="token")
    assert "error=unsupported_response_type" in wrong_type.headers["location"]

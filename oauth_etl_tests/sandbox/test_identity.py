"""Identity endpoints over real HTTP: codes, PKCE, rotation, grace, expiry, revocation, errors."""

from __future__ import annotations

import base64

import pytest

from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI
from oauth_etl.xero.scopes import scopes_for
from oauth_etl_dev.sandbox import SandboxConfig
from oauth_etl_dev.sandbox.config import REGISTERED_REDIRECT_URIS
from oauth_etl_dev.sandbox.grants import NEW_APP_SCOPES
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
    for extra in (
        {"client_id": "someone-else"},
        {"redirect_uri": "http://example.com/cb"},
        {"redirect_uri": "https://example.com/cb"},  # https, but not registered
    ):
        response = xero.authorize(**extra)
        assert response.status_code == 400 and "location" not in response.headers
        assert "text/html" in response.headers["content-type"]
        assert "unauthorized_client" in response.text


def test_redirect_uri_must_equal_a_registered_one(xero_factory: XeroFactory) -> None:
    xero = xero_factory()  # registered: the documented URI and its 127.0.0.1 spelling
    for uri in ("http://localhost:8765/callback", REDIRECT):
        assert xero.authorize(redirect_uri=uri).status_code == 302
    for near_miss in (
        "http://localhost:8765/callback/",  # trailing slash
        "http://localhost:8766/callback",  # another port
        "http://localhost:8765/Callback",  # case of the path
        "https://localhost:8765/callback",  # scheme
        "http://localhost:8765/callback?x=1",  # extra query
    ):
        page = xero.authorize(redirect_uri=near_miss)
        assert page.status_code == 400 and "Invalid redirect_uri" in page.text, near_miss
    custom = xero_factory(redirect_uris=("https://etl.example.com/xero/callback",))
    assert custom.authorize(redirect_uri="https://etl.example.com/xero/callback").status_code == 302
    assert custom.authorize(redirect_uri=REDIRECT).status_code == 400
    assert xero.stats()["grants"]["authorization_code"] == 0


@pytest.mark.parametrize(
    "uris",
    [
        ("https://*.example.com/cb",),  # wildcards: not supported by Xero
        ("/callback",),  # not absolute
        ("http://example.com/cb",),  # plain http beyond localhost
        tuple(f"https://e.example/cb{i}" for i in range(51)),  # more than 50
        (),
    ],
)
def test_registration_refuses_what_xero_refuses(uris: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="redirect URI"):
        SandboxConfig(client_id="c", redirect_uris=uris)


def test_a_scope_the_app_may_not_have_fails_the_whole_consent(
    xero_factory: XeroFactory,
) -> None:
    xero = xero_factory(scopes=NEW_APP_SCOPES)
    for asked in (
        "offline_access accounting.invoices.read accounting.journals.read",
        "offline_access accounting.transactions.read",  # broad: not for 2026 apps
    ):
        page = xero.authorize(scope=asked)
        assert page.status_code == 400 and "location" not in page.headers
        assert "Invalid scope for client" in page.text and "invalid_scope" in page.text
    unknown = xero.authorize(scope="offline_access accounting.everything.read")
    assert unknown.status_code == 400 and "invalid_scope" in unknown.text
    empty = xero.authorize(scope="")
    assert empty.status_code == 400 and "scope is required" in empty.text
    # What `oauth-etl authorize` asks for by default is granted to a new app.
    tokens = xero.login(scopes_for().text())
    assert set(tokens["scope"].split()) == set(scopes_for().scopes)
    assert xero.stats()["grants"]["authorization_code"] == 1


def test_the_sandbox_and_the_client_agree_on_the_documented_uri() -> None:
    assert DEFAULT_REDIRECT_URI in REGISTERED_REDIRECT_URIS
    assert set(scopes_for().scopes) <= NEW_APP_SCOPES
    assert "accounting.journals.read" not in NEW_APP_SCOPES


def test_authorize_response_type_error_redirects(xero: Xero) -> None:
    wrong_type = xero.authorize(response_type="token")
    assert "error=unsupported_response_type" in wrong_type.headers["location"]
    assert "state=st-1" in wrong_type.headers["location"]

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import httpx
import pytest

from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import (
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenRequestRejected,
)
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_tests.oauth.fake_token_server import (
    CLIENT_ID,
    CLIENT_SECRET,
    REVOCATION_URL,
    TOKEN_URL,
    FakeTokenServer,
    Scripted,
    raise_error,
    respond,
)

LEAKY = "eyJzZWNyZXQiOiJ2YWx1ZSJ9.leaked-token-material-000"


def endpoint_for(server: FakeTokenServer, secret: str | None = CLIENT_SECRET) -> TokenEndpoint:
    return TokenEndpoint(TOKEN_URL, REVOCATION_URL, CLIENT_ID, secret, transport=server.transport())


@pytest.fixture
def server() -> FakeTokenServer:
    return FakeTokenServer(now=lambda: 1000.0)


def test_refresh_sends_basic_auth_and_form(server: FakeTokenServer) -> None:
    seen: list[httpx.Request] = []
    rt = server.issue_refresh_token()

    def spy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return server.handle(request)

    endpoint = TokenEndpoint(
        TOKEN_URL, REVOCATION_URL, CLIENT_ID, CLIENT_SECRET, transport=httpx.MockTransport(spy)
    )
    payload = endpoint.refresh(rt)
    assert payload["refresh_token"] != rt
    request = seen[0]
    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = parse_qs(request.content.decode())
    assert form == {"grant_type": ["refresh_token"], "refresh_token": [rt]}
    assert CLIENT_SECRET not in repr(endpoint)


def test_public_client_sends_client_id_in_body(server: FakeTokenServer) -> None:
    server.client_secret = None
    endpoint = endpoint_for(server, secret=None)
    endpoint.exchange_code("good-code", "http://127.0.0.1:5/callback", "v" * 43)
    assert server.requests[-1]["client_id"] == CLIENT_ID
    assert server.requests[-1]["code_verifier"] == "v" * 43
    assert endpoint.is_public_client


def test_client_credentials_and_revoke(server: FakeTokenServer) -> None:
    endpoint = endpoint_for(server)
    payload = endpoint.client_credentials("accounting.invoices.read")
    assert "refresh_token" not in payload
    assert server.requests[-1]["scope"] == "accounting.invoices.read"
    rt = server.issue_refresh_token()
    endpoint.revoke(rt)
    assert server.revoked == [rt]


@pytest.mark.parametrize(
    ("answer", "error", "needle"),
    [
        (respond(400, '{"error":"invalid_grant"}'), InvalidGrant, "invalid_grant"),
        (respond(400, '{"error":"invalid_client"}'), InvalidClient, "client id and client secret"),
        (respond(401, '{"error":"invalid_client"}'), InvalidClient, CLIENT_ID),
        (respond(401, "Unauthorized"), InvalidClient, "client id"),
        (
            respond(400, '{"error":"invalid_scope","error_description":"accounting.bogus"}'),
            InvalidScope,
            "accounting.bogus",
        ),
        (respond(400, '{"error":"unsupported_grant_type"}'), TokenRequestRejected, "grant_type"),
        (respond(400, '{"error":"invalid_request"}'), TokenRequestRejected, "please report"),
        (respond(400, '{"error":"slow_down"}'), TokenEndpointError, "slow_down"),
        (respond(500, "Internal Server Error"), TokenEndpointError, "HTTP 500"),
        (
            respond(503, "The Xero API is currently offline for maintenance"),
            TokenEndpointError,
            "offline for maintenance",
        ),
        (respond(200, "<html><body>Login</body></html>"), TokenEndpointError, "not JSON"),
        (respond(200, ""), TokenEndpointError, "not JSON"),
        (respond(200, '{"access_token": "abc'), TokenEndpointError, "not JSON"),
        (respond(200, "[1, 2]"), TokenEndpointError, "not a JSON object"),
        (respond(302, "", location="https://elsewhere"), TokenEndpointError, "HTTP 302"),
    ],
)
def test_error_mapping(
    server: FakeTokenServer, answer: Scripted, error: type[Exception], needle: str
) -> None:
    server.script.append(answer)
    with pytest.raises(error) as info:
        endpoint_for(server).refresh("some-refresh-token-value-123456")
    assert needle in str(info.value)
    assert CLIENT_SECRET not in str(info.value)
    assert "some-refresh-token-value-123456" not in str(info.value)


def test_retryable_flag() -> None:
    assert TokenEndpointError("x", 503).retryable
    assert TokenEndpointError("x", 429).retryable
    assert not TokenEndpointError("x", 200).retryable


@pytest.mark.parametrize(
    "body",
    [f'{{"access_token": "{LEAKY}", "expires_in": "x"}}', f"<html>{LEAKY}</html>", LEAKY * 3],
)
def test_error_text_never_quotes_tokens(server: FakeTokenServer, body: str) -> None:
    server.script.append(respond(502, body))
    with pytest.raises(TokenEndpointError) as info:
        endpoint_for(server).refresh("r" * 30)
    assert "leaked-token" not in str(info.value)
    assert "eyJzZWNyZXQ" not in str(info.value)


def test_missing_fields_in_200_are_caught_by_token_set(server: FakeTokenServer) -> None:
    server.script.append(respond(200, '{"token_type": "Bearer"}'))
    payload = endpoint_for(server).refresh("r" * 30)
    with pytest.raises(TokenEndpointError, match="access_token"):
        TokenSet.from_token_response(payload, now=0.0)


@pytest.mark.parametrize(
    ("exc", "sent"),
    [
        (httpx.ConnectError, False),
        (httpx.ConnectTimeout, False),
        (httpx.ReadTimeout, True),
        (httpx.RemoteProtocolError, True),
        (httpx.ReadError, True),
    ],
)
def test_transport_errors_are_unreachable(
    server: FakeTokenServer, exc: type[httpx.TransportError], sent: bool
) -> None:
    server.script.append(raise_error(exc))
    with pytest.raises(TokenEndpointUnreachable) as info:
        endpoint_for(server).refresh("r" * 30)
    assert info.value.request_sent is sent
    assert TOKEN_URL in str(info.value)
    assert ("answer lost" in str(info.value)) is sent


def test_real_timeout_against_a_silent_socket() -> None:
    import socket

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        url = f"http://127.0.0.1:{port}/connect/token"
        endpoint = TokenEndpoint(url, None, CLIENT_ID, CLIENT_SECRET, timeout=0.3)
        with pytest.raises(TokenEndpointUnreachable) as info:
            endpoint.refresh("r" * 30)
    assert info.value.request_sent
    assert url in str(info.value)

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from oauth_etl.oauth.authorize import (
    DEFAULT_REDIRECT_URI,
    authorize,
    build_authorize_url,
    code_challenge_s256,
    generate_code_verifier,
    listen_address,
    parse_callback,
    resolve_redirect_uri,
    run_local_authorization,
)
from oauth_etl.oauth.errors import AuthorizationFailed
from oauth_etl.xero.scopes import DEFAULT_SCOPES
from oauth_etl_dev.local_services import free_port
from oauth_etl_tests.oauth.test_manager import Env

LOGIN = "https://login.test"


def test_pkce_verifier_and_challenge() -> None:
    for length in (43, 64, 128):
        verifier = generate_code_verifier(length)
        assert len(verifier) == length
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
    assert code_challenge_s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    with pytest.raises(ValueError):
        generate_code_verifier(42)
    with pytest.raises(ValueError):
        code_challenge_s256("short")
    with pytest.raises(ValueError):
        code_challenge_s256("!" * 50)
    assert generate_code_verifier() != generate_code_verifier()


def test_build_authorize_url() -> None:
    url = build_authorize_url(LOGIN, "cid", "http://127.0.0.1:5/callback", ["a", "b"], "st", "ch")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{LOGIN}/identity/connect/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "http://127.0.0.1:5/callback",
        "scope": "a b",
        "state": "st",
        "code_challenge": "ch",
        "code_challenge_method": "S256",
    }
    full = build_authorize_url(f"{LOGIN}/custom/authorize", "c", "r", "x y", "s", None)
    assert full.startswith(f"{LOGIN}/custom/authorize?") and "code_challenge" not in full
    assert "offline_access" in DEFAULT_SCOPES


def test_parse_callback_checks_state_and_errors() -> None:
    assert parse_callback("http://127.0.0.1:1/callback?code=abc&state=s1", "s1") == "abc"
    assert parse_callback("code=abc&state=s1", "s1") == "abc"
    with pytest.raises(AuthorizationFailed, match="state"):
        parse_callback("http://x/callback?code=abc&state=evil", "s1")
    with pytest.raises(AuthorizationFailed, match="access_denied"):
        parse_callback("http://x/callback?error=access_denied&state=s1", "s1")
    with pytest.raises(AuthorizationFailed, match="no authorization code"):
        parse_callback("http://x/callback?state=s1", "s1")


class FakeLogin(httpx.BaseTransport):
    """The login host approves at once (302 to the redirect URI); loopback goes out for real."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.queries: list[dict[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "127.0.0.1":
            return self.real.handle_request(request)
        query = {k: v[0] for k, v in parse_qs(request.url.query.decode()).items()}
        self.queries.append(query)
        target = (
            f"{query['redirect_uri']}?{urlencode({'code': 'good-code', 'state': query['state']})}"
        )
        return httpx.Response(302, headers={"Location": target})


def test_unattended_mode_reads_the_code_from_the_redirect(tmp_path: Path) -> None:
    env = Env(tmp_path)
    login = FakeLogin()
    tokens = authorize(
        env.manager,
        scopes=DEFAULT_SCOPES,
        login_url=LOGIN,
        client_id="client-abc",
        mode="unattended",
        transport=login,
        output=lambda _s: None,
    )
    assert env.store.load() == tokens and tokens.refresh_token
    sent = login.queries[0]
    assert sent["redirect_uri"] == DEFAULT_REDIRECT_URI == "http://localhost:8765/callback"
    form = env.server.requests[-1]
    assert form["grant_type"] == "authorization_code" and form["code"] == "good-code"
    assert form["redirect_uri"] == sent["redirect_uri"]
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == sent["code_challenge"]


def test_browser_mode_with_a_given_redirect_uri() -> None:
    redirect = f"http://localhost:{free_port()}/cb"
    printed: list[str] = []

    def fake_browser(url: str) -> bool:
        query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        target = f"http://127.0.0.1:{urlsplit(redirect).port}/cb?code=c0de&state={query['state']}"
        threading.Thread(target=httpx.get, args=(target,), daemon=True).start()
        return True

    result = run_local_authorization(
        scopes=DEFAULT_SCOPES,
        login_url=LOGIN,
        client_id="c",
        mode="browser",
        redirect_uri=redirect,
        open_browser=fake_browser,
        output=printed.append,
        timeout=10,
    )
    assert result.code == "c0de" and result.redirect_uri == redirect
    assert "c0de" not in repr(result)
    assert LOGIN in printed[0]


def test_forged_state_on_the_callback_is_refused() -> None:
    def attacker(url: str) -> bool:
        redirect = parse_qs(urlsplit(url).query)["redirect_uri"][0]
        threading.Thread(
            target=httpx.get, args=(f"{redirect}?code=x&state=forged",), daemon=True
        ).start()
        return True

    with pytest.raises(AuthorizationFailed, match="state"):
        run_local_authorization(
            scopes=DEFAULT_SCOPES,
            login_url=LOGIN,
            client_id="c",
            redirect_uri=f"http://127.0.0.1:{free_port()}/callback",
            open_browser=attacker,
            output=lambda _s: None,
            timeout=10,
        )


def test_paste_mode() -> None:
    printed: list[str] = []

    def paste(_prompt: str) -> str:
        query = parse_qs(urlsplit(printed[0].split("\n")[1]).query)
        return f"{query['redirect_uri'][0]}?code=pasted&state={query['state'][0]}"

    result = run_local_authorization(
        scopes=DEFAULT_SCOPES,
        login_url=LOGIN,
        client_id="c",
        mode="paste",
        output=printed.append,
        read_line=paste,
    )
    assert result.code == "pasted" and result.redirect_uri == DEFAULT_REDIRECT_URI


def test_no_callback_times_out_with_advice() -> None:
    with pytest.raises(AuthorizationFailed, match="no-browser"):
        run_local_authorization(
            scopes=DEFAULT_SCOPES,
            login_url=LOGIN,
            client_id="c",
            mode="print",
            redirect_uri=f"http://localhost:{free_port()}/callback",
            output=lambda _s: None,
            timeout=0.2,
        )


def test_redirect_uri_must_be_loopback_http() -> None:
    with pytest.raises(ValueError, match="loopback"):
        run_local_authorization(
            scopes=DEFAULT_SCOPES,
            login_url=LOGIN,
            client_id="c",
            redirect_uri="https://evil.test/cb",
        )
    for bad in (
        "http://example.com:8765/cb",
        "http://192.168.1.2:8765/cb",
        "https://localhost:1/x",
    ):
        with pytest.raises(ValueError, match="loopback"):
            listen_address(bad)
    with pytest.raises(ValueError, match="explicit port"):
        listen_address("http://localhost/callback")


def test_listen_address_follows_the_uri() -> None:
    assert listen_address(DEFAULT_REDIRECT_URI) == ("127.0.0.1", 8765, "/callback")
    assert listen_address("http://127.0.0.1:9001/oauth/cb") == ("127.0.0.1", 9001, "/oauth/cb")
    assert resolve_redirect_uri(None) == DEFAULT_REDIRECT_URI
    assert resolve_redirect_uri(None, 9002) == "http://localhost:9002/callback"
    assert resolve_redirect_uri("https://app.example/cb", 9002) == "https://app.example/cb"


def test_paste_mode_accepts_a_non_loopback_registered_uri() -> None:
    printed: list[str] = []

    def paste(_prompt: str) -> str:
        query = parse_qs(urlsplit(printed[0].split("\n")[1]).query)
        assert query["redirect_uri"] == ["https://app.example/cb"]
        return f"https://app.example/cb?code=p2&state={query['state'][0]}"

    result = run_local_authorization(
        scopes=DEFAULT_SCOPES,
        login_url=LOGIN,
        client_id="c",
        mode="paste",
        redirect_uri="https://app.example/cb",
        output=printed.append,
        read_line=paste,
    )
    assert result.code == "p2" and result.redirect_uri == "https://app.example/cb"


def test_a_busy_callback_port_says_what_to_do() -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(AuthorizationFailed, match="--redirect-uri"):
            run_local_authorization(
                scopes=DEFAULT_SCOPES,
                login_url=LOGIN,
                client_id="c",
                mode="print",
                redirect_uri=f"http://localhost:{port}/callback",
                output=lambda _s: None,
                timeout=0.2,
            )


def test_unattended_without_a_redirect_to_the_uri_fails() -> None:
    def elsewhere(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/identity/connect/authorize":
            return httpx.Response(302, headers={"Location": "https://login.test/other"})
        return httpx.Response(200, text="a login page")

    with pytest.raises(AuthorizationFailed, match="never redirected"):
        run_local_authorization(
            scopes=DEFAULT_SCOPES,
            login_url=LOGIN,
            client_id="c",
            mode="unattended",
            transport=httpx.MockTransport(elsewhere),
        )

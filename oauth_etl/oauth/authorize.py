"""Interactive authorization: PKCE, the authorize URL, a local callback, the first token set."""

from __future__ import annotations

import base64
import hashlib
import http.server
import logging
import re
import secrets
import threading
import time
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from oauth_etl.oauth.errors import AuthorizationFailed, sanitize
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.provider import NEUTRAL, Provider
from oauth_etl.oauth.tokens import TokenSet

logger = logging.getLogger(__name__)

AUTHORIZE_PATH = "/identity/connect/authorize"
LOOPBACK = "127.0.0.1"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1"})

# The one redirect URI users register on their Xero app. Xero compares redirect URIs
# exactly, allows no wildcards (developer.xero.com/faq/oauth2) and plain http only for
# localhost (RFC 8252 section 7.3 loopback redirects; Xero's app form refuses
# other http URIs): so a fixed `localhost` URI, not a random
# port. 8765 is the port paste mode always used; any free port works if registered.
DEFAULT_REDIRECT_URI = "http://localhost:8765/callback"

Mode = Literal["browser", "print", "paste", "unattended"]

_VERIFIER_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


# -- PKCE (RFC 7636) ---------------------------------------------------------------
def generate_code_verifier(length: int = 64) -> str:
    if not 43 <= length <= 128:
        raise ValueError("a PKCE code verifier has 43 to 128 characters")
    verifier = secrets.token_urlsafe(length)[:length]  # url-safe alphabet ⊂ RFC 7636's
    return verifier


def code_challenge_s256(verifier: str) -> str:
    if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_ALPHABET:
        raise ValueError("invalid PKCE code verifier (43-128 characters of [A-Za-z0-9-._~])")
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_state() -> str:
    return secrets.token_urlsafe(24)


def build_authorize_url(
    login_url: str,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str] | str,
    state: str,
    challenge: str | None,
) -> str:
    """The authorize URL; `login_url` is the authorize host or the full endpoint."""
    base = login_url.rstrip("/")
    if not urlsplit(base).path.rstrip("/"):
        base += AUTHORIZE_PATH
    scope = scopes if isinstance(scopes, str) else " ".join(scopes)
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": state,
    }
    if challenge:
        params["code_challenge"] = challenge
        params["code_challenge_method"] = "S256"
    return f"{base}?{urlencode(params)}"


# -- the callback ----------------------------------------------------------------------
@dataclass
class AuthorizationResult:
    code: str = field(repr=False)
    redirect_uri: str
    code_verifier: str = field(repr=False)
    state: str = field(repr=False)


def parse_callback(url_or_query: str, expected_state: str, redirect_uri: str = "") -> str:
    """The code from a redirect URL (or its query); state checked, errors explained.

    Text carrying none of `code`, `state` and `error` is not a callback at all (a paste
    of something else): said so, with what to paste, rather than called forged."""
    query = urlsplit(url_or_query.strip()).query if "?" in url_or_query else url_or_query
    params = {k: v[0] for k, v in parse_qs(query.strip()).items() if v}
    if not params.keys() & {"code", "state", "error"}:
        starts = f", starting with {redirect_uri}?code=" if redirect_uri else ""
        raise AuthorizationFailed(
            "the pasted text is not the callback address (it carries no code and no "
            "state): paste the full address the browser was sent to after you approved"
            f"{starts} (copy it from the address bar), or run `oauth-etl authorize` again"
        )
    if "error" in params:
        description = params.get("error_description", "")
        raise AuthorizationFailed(
            f"the authorization was refused: {sanitize(params['error'])}"
            + (f" ({sanitize(description, 200)})" if description else "")
        )
    if params.get("state") != expected_state:
        raise AuthorizationFailed(
            "the callback's state does not match this authorization (a stale or forged "
            "redirect): start `oauth-etl authorize` again"
        )
    code = params.get("code")
    if not code:
        raise AuthorizationFailed("the callback carries no authorization code")
    return code


class _CallbackServer(http.server.HTTPServer):
    def __init__(self, host: str, port: int, path: str) -> None:
        super().__init__((host, port), _CallbackHandler)
        self.path = path
        self.query: str | None = None
        self.received = threading.Event()


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    server: _CallbackServer

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.path:
            self.send_error(404)
            return
        self.server.query = parts.query
        self.server.received.set()
        body = (
            b"<html><body><p>oauth-etl: authorization received, "
            b"you can close this window.</p></body></html>"
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the query holds the code: never log it


def check_redirect_uri(redirect_uri: str) -> str:
    """`redirect_uri` if an authorization server may redirect to it, in every mode: an
    absolute http(s) URL with a host and no fragment (RFC 6749 section 3.1.2), plain
    http only for loopback (RFC 8252 section 7.3; Xero's app form refuses other http
    URIs). Else ValueError saying what to pass."""
    parts = urlsplit(redirect_uri.strip())
    problem = None
    try:
        parts.port  # noqa: B018  (a malformed port raises here)
    except ValueError:
        problem = "its port is not a number from 1 to 65535"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problem = "it is not an absolute http:// or https:// URL"
    elif parts.fragment:
        problem = "it has a #fragment"
    elif parts.scheme == "http" and parts.hostname not in LOOPBACK_NAMES:
        problem = "plain http is only allowed for a loopback host (localhost, 127.0.0.1)"
    if problem:
        raise ValueError(
            f"redirect URI {redirect_uri!r} is not usable: {problem}; pass the URI "
            f"registered on the app exactly, e.g. {DEFAULT_REDIRECT_URI}"
        )
    return redirect_uri.strip()


def listen_address(redirect_uri: str) -> tuple[str, int, str]:
    """Where the local callback listens for `redirect_uri`: (127.0.0.1, port, path).

    Only loopback URIs can be served here; anything else is refused with the reason.
    """
    parts = urlsplit(check_redirect_uri(redirect_uri))
    if parts.scheme != "http" or (parts.hostname or "") not in LOOPBACK_NAMES:
        raise ValueError(
            f"redirect URI {redirect_uri!r}: the local callback listens only on this machine's "
            "loopback interface, so the URI must be http://localhost:PORT/PATH (or "
            "http://127.0.0.1:PORT/PATH), registered exactly so on the app; for another "
            "host use --no-browser and paste the address you land on"
        )
    if parts.port is None:
        raise ValueError(f"redirect URI {redirect_uri!r} needs an explicit port")
    if parts.fragment:
        raise ValueError(f"redirect URI {redirect_uri!r} must not have a fragment")
    return LOOPBACK, parts.port, parts.path or "/"


def resolve_redirect_uri(redirect_uri: str | None, port: int | None = None) -> str:
    """The redirect URI to send: the given one, else the default (on `port` if given)."""
    if redirect_uri:
        return redirect_uri
    if port:
        return f"http://localhost:{port}/callback"
    return DEFAULT_REDIRECT_URI


def run_local_authorization(
    *,
    login_url: str,
    client_id: str,
    scopes: Sequence[str] | str,
    mode: Mode = "browser",
    redirect_uri: str | None = None,
    port: int | None = None,
    timeout: float = 300.0,
    http_timeout: float = 30.0,
    use_pkce: bool = True,
    output: Callable[[str], None] = print,
    read_line: Callable[[str], str] = input,
    open_browser: Callable[[str], bool] = webbrowser.open,
    transport: httpx.BaseTransport | None = None,
    provider: Provider = NEUTRAL,
) -> AuthorizationResult:
    """Get an authorization code sent to `redirect_uri` (default `DEFAULT_REDIRECT_URI`).

    browser: open the URL and wait for the callback on the URI's loopback port and path;
    print: print it and wait likewise; paste: print it, the user pastes the address they
    land on (no local server, any registered URI); unattended: fetch the URL and read the
    code from the redirect (the sandbox approves at once; no local server either).
    `port` (older callers): the default URI on that port.
    """
    verifier = generate_code_verifier()
    challenge = code_challenge_s256(verifier) if use_pkce else None
    state = generate_state()
    uri = check_redirect_uri(resolve_redirect_uri(redirect_uri, port))
    url = build_authorize_url(login_url, client_id, uri, scopes, state, challenge)

    if mode == "paste":
        output(f"Open this URL in a browser, approve, then paste the address you land on:\n{url}")
        pasted = read_line("redirect URL: ")
        return AuthorizationResult(parse_callback(pasted, state, uri), uri, verifier, state)
    if mode == "unattended":
        landed = _follow(url, uri, http_timeout, transport, provider)
        return AuthorizationResult(parse_callback(landed, state, uri), uri, verifier, state)

    host, listen_port, path = listen_address(uri)
    try:
        server = _CallbackServer(host, listen_port, path)
    except OSError as exc:
        raise AuthorizationFailed(
            f"cannot listen for the callback of {uri} on {host}:{listen_port} "
            f"({exc.strerror}): free the port, or register another redirect URI and pass it "
            "with --redirect-uri (or use --no-browser)"
        ) from None
    thread = threading.Thread(target=server.serve_forever, name="oauth-callback", daemon=True)
    thread.start()
    try:
        if mode == "browser":
            output(f"Opening the browser to authorize; if it does not open, visit:\n{url}")
            if not open_browser(url):
                output("(could not open a browser: open the URL above yourself)")
        else:
            output(f"Visit this URL to authorize:\n{url}")
        deadline = time.monotonic() + timeout
        if not server.received.wait(max(0.0, deadline - time.monotonic())):
            raise AuthorizationFailed(
                f"no authorization callback on {uri} within {timeout:.0f} s: run "
                "`oauth-etl authorize` again (or use --no-browser to paste the redirect URL)"
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5.0)
    assert server.query is not None
    return AuthorizationResult(parse_callback(server.query, state, uri), uri, verifier, state)


def _same_endpoint(location: str, redirect_uri: str) -> bool:
    """Does a redirect go to `redirect_uri` (scheme, host, port, path; query ignored)?"""
    a, b = urlsplit(location), urlsplit(redirect_uri)
    return (a.scheme, (a.hostname or "").lower(), a.port, a.path or "/") == (
        b.scheme,
        (b.hostname or "").lower(),
        b.port,
        b.path or "/",
    )


def _follow(
    url: str,
    redirect_uri: str,
    timeout: float,
    transport: httpx.BaseTransport | None,
    provider: Provider = NEUTRAL,
) -> str:
    """Follow the authorize URL's redirects (bounded) until one goes to `redirect_uri`."""
    try:
        with httpx.Client(timeout=timeout, transport=transport, follow_redirects=False) as client:
            for _hop in range(10):
                response = client.get(url)
                location = response.headers.get("location")
                if not response.is_redirect or location is None:
                    break
                url = str(response.url.join(location))
                if _same_endpoint(url, redirect_uri):
                    return url
    except httpx.HTTPError as exc:
        raise AuthorizationFailed(
            f"unattended authorization failed: {type(exc).__name__} fetching the authorize URL"
        ) from None
    if response.status_code >= 400:
        raise AuthorizationFailed(
            f"unattended authorization failed: HTTP {response.status_code} "
            f"({sanitize(re.sub(r'<[^>]*>', ' ', response.text), 200)!r})"
            + _page_hint(response.text, redirect_uri, provider)
        )
    raise AuthorizationFailed(
        f"unattended authorization failed: the authorize URL never redirected to {redirect_uri}"
    )


def _page_hint(text: str, redirect_uri: str, provider: Provider) -> str:
    """What to do about an authorize error screen (redirect URI or scope refused)."""
    if "redirect_uri" in text:
        return (
            f": register {redirect_uri} exactly on the app ({provider.app_settings}) or pass "
            "a registered one with --redirect-uri"
        )
    if "scope" in text:
        return ": the app may not have one of the scopes asked for" + (
            f" ({provider.opt_in_advice})" if provider.opt_in_advice else ""
        )
    return ""


def complete_authorization(manager: TokenManager, result: AuthorizationResult) -> TokenSet:
    """Exchange the code and store the first token set through the manager's locks."""
    endpoint = manager.endpoint
    exchange = getattr(endpoint, "exchange_code", None)
    if exchange is None:
        raise TypeError("the manager's endpoint cannot exchange authorization codes")
    payload = exchange(result.code, result.redirect_uri, result.code_verifier)
    tokens = manager.tokens_from(payload, None)
    manager.store_initial(tokens)
    return tokens


def authorize(
    manager: TokenManager,
    *,
    login_url: str,
    client_id: str,
    scopes: Sequence[str] | str,
    mode: Mode = "browser",
    redirect_uri: str | None = None,
    **kwargs: Any,
) -> TokenSet:
    """The whole `oauth-etl authorize`: code → token set → store."""
    kwargs.setdefault("provider", manager.provider)
    result = run_local_authorization(
        login_url=login_url,
        client_id=client_id,
        scopes=scopes,
        mode=mode,
        redirect_uri=redirect_uri,
        **kwargs,
    )
    tokens = complete_authorization(manager, result)
    if tokens.refresh_token is None:
        logger.warning("no refresh token granted: include the offline_access scope")
    return tokens

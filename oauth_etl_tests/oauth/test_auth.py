from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from oauth_etl.oauth.auth import BearerAuth, Unauthorized, classify_401, is_expired_token_response
from oauth_etl_tests.oauth.test_manager import Env

API = "https://api.test/api.xro/2.0/Invoices"
EXPIRED = {"Title": "Unauthorized", "Status": 401, "Detail": "TokenExpired: token expired at x"}
NOT_ENTITLED = {"Title": "Unauthorized", "Status": 401, "Detail": "AuthorizationUnsuccessful"}
FORBIDDEN = {"Title": "Forbidden", "Status": 403, "Detail": "AuthenticationUnsuccessful"}


class Api:
    """Accepts only the tokens in `valid`; records the bearer tokens it sees."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.valid: set[str] = set()
        self.seen: list[str] = []
        self.answer = answer
        self._lock = threading.Lock()

    def handle(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._lock:
            self.seen.append(token)
        if self.answer is not None:
            return self.answer(request)
        if token in self.valid:
            return httpx.Response(200, json={"Invoices": []})
        return httpx.Response(
            401, json=EXPIRED, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )


@pytest.fixture
def env(tmp_path: Path) -> Env:
    environment = Env(tmp_path)
    environment.seed()
    return environment


def client_for(env: Env, api: Api) -> httpx.Client:
    return httpx.Client(auth=BearerAuth(env.manager), transport=httpx.MockTransport(api.handle))


def test_bearer_on_every_request(env: Env) -> None:
    api = Api()
    api.valid.add(env.manager.access_token())
    with client_for(env, api) as client:
        for _ in range(3):
            assert client.get(API).status_code == 200
    assert len(set(api.seen)) == 1 and len(api.seen) == 3


def test_expired_token_gets_one_refresh_and_one_retry(env: Env) -> None:
    api = Api()
    stale = env.manager.access_token()
    with client_for(env, api) as client:
        # server revoked the access token early: the refreshed one is accepted
        def accept_new(request: httpx.Request) -> httpx.Response:
            token = request.headers["authorization"].removeprefix("Bearer ")
            if token != stale:
                return httpx.Response(200, json={})
            return httpx.Response(401, json=EXPIRED)

        api.answer = accept_new
        assert client.get(API).status_code == 200
    assert api.seen[0] == stale and api.seen[1] != stale and len(api.seen) == 2
    assert env.refreshes() == 1


def test_never_loops_when_the_retry_fails_too(env: Env) -> None:
    api = Api()  # rejects every token
    with client_for(env, api) as client:
        response = client.get(API)
    assert response.status_code == 401
    assert len(api.seen) == 2 and env.refreshes() == 1


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (401, NOT_ENTITLED, {}),
        (401, NOT_ENTITLED, {"WWW-Authenticate": 'Bearer error="invalid_token"'}),
        (403, FORBIDDEN, {}),
        (401, {"Detail": "something else"}, {}),
        (500, EXPIRED, {}),
    ],
)
def test_not_token_problems_pass_through(
    env: Env, status: int, body: dict[str, object], headers: dict[str, str]
) -> None:
    api = Api(lambda request: httpx.Response(status, json=body, headers=headers))
    with client_for(env, api) as client:
        response = client.get(API)
    assert response.status_code == status
    assert response.json() == body  # the body reaches the caller intact
    assert len(api.seen) == 1 and env.refreshes() == 0


def test_header_only_invalid_token_triggers_refresh() -> None:
    request = httpx.Request("GET", API)
    header = {"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'}
    assert is_expired_token_response(httpx.Response(401, headers=header, request=request))
    assert is_expired_token_response(httpx.Response(401, json=EXPIRED, request=request))
    assert not is_expired_token_response(httpx.Response(401, text="<html>", request=request))


def test_many_threads_sharing_one_client_refresh_once(env: Env) -> None:
    stale = env.manager.access_token()
    api = Api()

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        if token == stale:
            return httpx.Response(401, json=EXPIRED)
        return httpx.Response(200, json={})

    api.answer = answer
    with client_for(env, api) as client, ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _i: client.get(API).status_code, range(32)))
    assert statuses == [200] * 32
    assert env.refreshes() == 1


def test_streaming_responses_are_not_buffered_for_success(env: Env) -> None:
    api = Api(lambda request: httpx.Response(200, content=iter([b"a", b"b"])))
    with client_for(env, api) as client, client.stream("GET", API) as response:
        assert not response.is_stream_consumed
        assert b"".join(response.iter_bytes()) == b"ab"


async def _async_get(env: Env, api: Api) -> httpx.Response:
    async with httpx.AsyncClient(
        auth=BearerAuth(env.manager), transport=httpx.MockTransport(api.handle)
    ) as client:
        return await client.get(API)


def test_async_client_single_retry(env: Env) -> None:
    import asyncio

    api = Api()
    response = asyncio.run(_async_get(env, api))
    assert response.status_code == 401 and len(api.seen) == 2 and env.refreshes() == 1


@pytest.mark.parametrize(
    ("detail", "challenge", "kind"),
    [
        ("TokenExpired: token expired at 12/01/2026", "", Unauthorized.TOKEN),
        ("TokenInvalid", "", Unauthorized.TOKEN),  # a persistent one is not a scope problem
        ("", 'Bearer error="invalid_token"', Unauthorized.TOKEN),
        ("AuthorizationUnsuccessful", 'Bearer error="invalid_token"', Unauthorized.NOT_ENTITLED),
        ("AuthorizationUnsuccessful", "", Unauthorized.NOT_ENTITLED),
        ("", "", Unauthorized.UNKNOWN),
    ],
)
def test_one_classifier_for_every_401(detail: str, challenge: str, kind: Unauthorized) -> None:
    assert classify_401(detail, challenge) is kind


class BlockingSource:
    """A token source that blocks until another coroutine on the same loop releases it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []

    def access_token(self) -> str:
        self.threads.append(threading.current_thread().name)
        if not self.release.wait(timeout=5):
            raise AssertionError("the event loop was blocked: nothing could release the token")
        return "tok"

    def refresh(self, force: bool = True, stale_access_token: str | None = None) -> Any:
        raise AssertionError("no refresh expected")


def test_async_flow_does_not_block_the_event_loop() -> None:
    import asyncio

    source = BlockingSource()

    async def main() -> int:
        async with httpx.AsyncClient(
            auth=BearerAuth(source),
            transport=httpx.MockTransport(lambda request: httpx.Response(200, json={})),
        ) as client:
            request = asyncio.ensure_future(client.get(API))
            await asyncio.sleep(0.01)  # the request is now waiting for its token
            source.release.set()  # runs only if the loop is free
            response = await request
            return response.status_code

    assert asyncio.run(main()) == 200
    assert source.threads and source.threads[0] != "MainThread"

"""Bad input matrix (issue #8): every kind of bad answer, with the outcome it must have.

Outcome for every case: a clear error naming the part and what to do, or a bounded
recovery; never a hang (pytest-timeout plus short client timeouts), never a lost token
(the store unchanged, or the rotated set saved or rescued), never a partial batch visible.
The whole matrix (including rows proven by the layer tests) is `bad_matrix.MATRIX`;
`test_every_matrix_row_is_a_real_test` keeps it honest.

End to end where practical: `dg.materialize` of the real asset with the resources of
`build_resources(..., env_vars=False)` against the sandbox over HTTP and Azurite.
"""

from __future__ import annotations

import importlib
import os
import re
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from oauth_etl.oauth.errors import (
    AuthorizationRequired,
    TokenEndpointError,
    TokenSaveFailed,
    TokenStoreError,
)
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultAccessError, KeyVaultTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl.storage import LandingBatch, list_batches, make_blob_service_client, write_batch
from oauth_etl.storage.errors import StorageUnreachable
from oauth_etl.xero.catalog import endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.errors import RateLimited
from oauth_etl.xero.rate import RateBudget
from oauth_etl_dev.local_services import AZURITE_KEY, Azurite, start_azurite, start_sandbox
from oauth_etl_tests.conftest import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET, SandboxHandle
from oauth_etl_tests.oauth.fake_keyvault import VAULT_URL, FakeKeyVaultTransport, fake_secret_client
from oauth_etl_tests.oauth.fake_token_server import Scripted, respond
from oauth_etl_tests.oauth.test_manager import Env
from oauth_etl_tests.reliability.bad_matrix import MATRIX
from oauth_etl_tests.reliability.bad_stack import Stack, fresh_container
from oauth_etl_tests.reliability.faults_log import record
from oauth_etl_tests.storage._support import record as invoice
from oauth_etl_tests.storage._support import records
from oauth_etl_tests.xero.fake_xero import TENANT, BearerAuth, FakeXero, make_records

pytestmark = pytest.mark.timeout(60)

CORRELATION = re.compile(r"Xero-Correlation-Id: [0-9a-f-]{36}")
INVOICES = "/api.xro/2.0/Invoices"
# What every TokenEndpointError tells the operator to do (oauth_etl/oauth/errors.py).
TOKEN_ENDPOINT_REMEDY = (
    "The stored token set was not changed: try again later, and if it persists check "
    "XERO_IDENTITY_URL"
)


def no_secret_in(text: str, *secrets: str | None) -> None:
    for secret in secrets:
        if secret:
            assert secret not in text


# == token endpoint answers (manager + real file store; scripted token endpoint) ===============
# (answer, error type, text naming the problem). Every answer arrives on every attempt.
BAD_TOKEN_ANSWERS = [
    pytest.param(respond(200, "<html><body>Sign in</body></html>"), "not JSON", id="html"),
    pytest.param(respond(200, ""), "not JSON", id="empty"),
    pytest.param(respond(200, '{"access_token": "at-trunc'), "not JSON", id="truncated-json"),
    pytest.param(respond(200, "[1, 2]"), "not a JSON object", id="json-array"),
    pytest.param(
        respond(200, '{"refresh_token": "rt-x-0000000000000000", "expires_in": 1800}'),
        "lacks the field 'access_token'",
        id="missing-access_token",
    ),
    pytest.param(
        respond(200, '{"access_token": "at-x-0000000000000000", "refresh_token": "rt-y"}'),
        "lacks the field 'expires_in'",
        id="missing-expires_in",
    ),
    pytest.param(
        respond(200, '{"access_token": 12345, "expires_in": 1800}'),
        "'access_token' is not a string",
        id="access_token-not-string",
    ),
    pytest.param(
        respond(200, '{"access_token": "at-x-0000000000000000", "expires_in": "soon"}'),
        "'expires_in' is not a positive number",
        id="expires_in-not-number",
    ),
    pytest.param(
        respond(
            200, '{"access_token": "at-x-00000000000000", "expires_in": 9, "refresh_token": 7}'
        ),
        "'refresh_token' is not a string",
        id="refresh_token-not-string",
    ),
    pytest.param(
        respond(
            200, '{"access_token": "at-x-0000000000000000", "expires_in": 60, "token_type": "MAC"}'
        ),
        "Bearer only",
        id="token_type-mac",
    ),
    pytest.param(respond(500, "Internal Server Error"), "HTTP 500", id="http-500"),
    pytest.param(
        respond(503, "The Xero API is currently offline for maintenance"),
        "HTTP 503",
        id="http-503-maintenance",
    ),
    pytest.param(respond(502, "<html>Bad gateway</html>"), "HTTP 502", id="http-502-html"),
]


@pytest.mark.parametrize(("answer", "problem"), BAD_TOKEN_ANSWERS)
def test_bad_token_answer_every_time_fails_bounded_and_keeps_the_store(
    tmp_path: Path, answer: Scripted, problem: str
) -> None:
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    before = env.store.path.read_bytes()
    for _ in range(10):
        env.server.script.append(answer)
    with pytest.raises(TokenEndpointError) as info:
        env.manager.access_token()
    message = str(info.value)
    assert message.startswith("token endpoint:") and problem in message  # names the part
    assert message.endswith(TOKEN_ENDPOINT_REMEDY)  # and says what to do
    assert len(env.server.requests) == 3  # refresh_attempts: bounded, never a loop
    assert env.store.path.read_bytes() == before  # no lost token: the store is untouched
    assert not env.rescue_dir.exists()
    no_secret_in(message, seeded.access_token, seeded.refresh_token, "at-x-", "at-trunc", "rt-x-")
    record(f"token endpoint answer: {problem}", 3, "bounded TokenEndpointError", "none")


@pytest.mark.parametrize(("answer", "problem"), BAD_TOKEN_ANSWERS)
def test_bad_token_answer_once_recovers_and_saves_the_rotation(
    tmp_path: Path, answer: Scripted, problem: str
) -> None:
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    env.server.script.append(answer)
    token = env.manager.access_token()
    saved = env.store.load()
    assert saved is not None and saved.access_token == token
    # A garbled 200 may have rotated the token: the same refresh token is re-sent (grace).
    sent = [r["refresh_token"] for r in env.server.requests]
    assert sent == [seeded.refresh_token, seeded.refresh_token]
    assert saved.refresh_token != seeded.refresh_token and saved.refresh_token in env.server.valid
    record("token endpoint bad answer once", 1, "recovered, rotated set saved", "none")


def test_answer_without_refresh_token_keeps_the_previous_one(tmp_path: Path) -> None:
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    env.server.script.append(
        respond(200, '{"access_token": "at-new-0000000000", "expires_in": 1800}')
    )
    assert env.manager.access_token() == "at-new-0000000000"
    saved = env.store.load()
    assert saved is not None and saved.refresh_token == seeded.refresh_token  # RFC 6749 §6


@pytest.mark.parametrize(
    "expires_in",
    ['"²"', '"0\\u001f"', "1e20", "31622401"],
    ids=["superscript-digit", "unit-separator", "huge", "over-a-year"],
)
def test_unparseable_expires_in_is_retried_like_a_lost_answer(
    tmp_path: Path, expires_in: str
) -> None:
    # The server rotated the token and answered 200 with an expires_in that is no lifetime
    # (int() refuses it, or it is beyond a year): the manager treats it like any other bad
    # 200 (re-send the same refresh token in grace) and saves the rotated set.
    env = Env(tmp_path)
    seeded = env.seed(expires_in=-1)
    env.server.script.append(
        respond(200, f'{{"access_token": "at-odd-000000000", "expires_in": {expires_in}}}')
    )
    token = env.manager.access_token()
    sent = [r["refresh_token"] for r in env.server.requests]
    assert sent == [seeded.refresh_token, seeded.refresh_token]
    saved = env.store.load()
    assert saved is not None and saved.access_token == token != "at-odd-000000000"
    assert saved.refresh_token != seeded.refresh_token and saved.refresh_token in env.server.valid
    record(
        f"token endpoint expires_in {expires_in} once", 1, "recovered, rotated set saved", "none"
    )


def test_token_endpoint_errors_say_what_to_do(tmp_path: Path) -> None:
    env = Env(tmp_path)
    env.seed(expires_in=-1)
    before = env.store.path.read_bytes()
    for _ in range(3):
        env.server.script.append(respond(503, "The Xero API is currently offline"))
    with pytest.raises(TokenEndpointError) as info:
        env.manager.access_token()
    message = str(info.value)
    assert message.startswith("token endpoint: HTTP 503") and TOKEN_ENDPOINT_REMEDY in message
    assert env.store.path.read_bytes() == before  # what the remedy promises holds


# == token store: corrupt file, wrong permissions (manager + real file store) =================
CORRUPTIONS = [
    pytest.param(b"", id="empty"),
    pytest.param(b'{"access_token": "at-1234567890abcdef", "refresh_tok', id="truncated"),
    pytest.param(b"\x00\x00\x00\x00", id="zeroed"),
    pytest.param(b"<html>not a token</html>", id="html"),
    pytest.param(b"[]", id="array"),
    pytest.param(b'{"access_token": 5, "expires_at": 1, "obtained_at": 1}', id="wrong-types"),
]
# No rescue copy here: the fix is to authorize (with a copy: `token restore` it, as
# oauth_etl_tests/cli/test_token_gaps.py checks).
REMEDY = ("is not a token set", "holds no rescue copy", "oauth-etl authorize")


@pytest.mark.parametrize("content", CORRUPTIONS)
def test_corrupt_token_file_is_a_clear_error_and_kept(tmp_path: Path, content: bytes) -> None:
    env = Env(tmp_path)
    env.seed()
    env.store.path.write_bytes(content)
    with pytest.raises(TokenStoreError) as info:
        env.manager.access_token()
    message = str(info.value)
    assert str(env.store.path) in message  # names the part
    assert all(remedy in message for remedy in REMEDY)  # and says what to do
    assert env.store.path.read_bytes() == content  # left untouched for a person to look at
    assert env.server.requests == []  # no refresh on a guess: nothing rotated, nothing lost
    no_secret_in(message, "at-1234567890abcdef")
    record("corrupt token file", 1, "clear error, file kept, no refresh", "none")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"[]", "JSON, but not an object"),
        (b'{"access_token": 5, "expires_at": 1}', "JSON of another shape"),
    ],
)
def test_token_file_of_valid_json_but_no_token_set_says_what_to_do(
    tmp_path: Path, content: bytes, problem: str
) -> None:
    env = Env(tmp_path)
    env.store.path.parent.mkdir(parents=True, exist_ok=True)
    env.store.path.write_bytes(content)
    env.store.path.chmod(0o600)
    with pytest.raises(TokenStoreError) as info:
        env.manager.access_token()
    message = str(info.value)
    assert problem in message and all(remedy in message for remedy in REMEDY)
    assert env.server.requests == [] and env.store.path.read_bytes() == content


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_token_file_with_open_permissions_is_refused(tmp_path: Path, mode: int) -> None:
    env = Env(tmp_path)
    env.seed(expires_in=-1)
    before = env.store.path.read_bytes()
    env.store.path.chmod(mode)
    with pytest.raises(TokenStoreError) as info:
        env.manager.access_token()
    assert f"chmod 600 {env.store.path}" in str(info.value) and f"{mode:04o}" in str(info.value)
    assert env.server.requests == []  # not even a refresh with a possibly copied token
    assert env.store.path.read_bytes() == before
    assert (env.store.path.stat().st_mode & 0o777) == mode  # not silently "fixed"
    record("token file with open permissions", 1, "clear error naming chmod 600", "none")


# == Key Vault store (real SecretClient, fake vault transport) =================================
SECRET_NAME = "xero-token"


def vault_manager(env: Env, fake: FakeKeyVaultTransport) -> tuple[TokenManager, KeyVaultTokenStore]:
    store = KeyVaultTokenStore(
        VAULT_URL, SECRET_NAME, client=fake_secret_client(fake, retry_total=2)
    )
    manager = TokenManager(
        store,
        env.endpoint,
        FileLock(env.rescue_dir.parent / "kv.lock", timeout=5),
        clock=env.clock,
        rescue_dir=env.rescue_dir,
        sleep=lambda _s: None,
        save_attempts=2,
    )
    return manager, store


def seed_vault(env: Env, fake: FakeKeyVaultTransport, expires_in: float) -> TokenSet:
    tokens = env.seed(expires_in=expires_in)
    fake.put_value(SECRET_NAME, tokens.to_json().decode(), "application/json")
    return tokens


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        pytest.param(lambda f: f.deny("GET"), "denied Get", id="get-403"),
        pytest.param(lambda f: f.inject(429, methods=("GET",), count=50), "HTTP 429", id="get-429"),
        pytest.param(lambda f: f.inject(500, methods=("GET",), count=50), "HTTP 500", id="get-500"),
    ],
)
def test_key_vault_read_failures_are_clear_and_refresh_nothing(
    tmp_path: Path, fault: Callable[[FakeKeyVaultTransport], None], needle: str
) -> None:
    env, fake = Env(tmp_path), FakeKeyVaultTransport()
    seeded = seed_vault(env, fake, expires_in=-1)
    manager, _ = vault_manager(env, fake)
    fault(fake)
    with pytest.raises(KeyVaultAccessError) as info:
        manager.access_token()
    message = str(info.value)
    assert needle in message and SECRET_NAME in message and VAULT_URL in message
    if needle.startswith("denied"):
        assert "Key Vault Secrets Officer" in message  # what to grant
    else:
        assert "bounded retries" in message
    assert env.server.requests == []  # nothing rotated while the store cannot be read
    assert fake.versions(SECRET_NAME) == 1
    assert len(fake.sleeps) <= 2  # bounded: retry_total
    no_secret_in(message, seeded.access_token, seeded.refresh_token)
    record(f"Key Vault read {needle}", 1, "clear error, no refresh", "none")


def test_key_vault_secret_missing_asks_for_authorization(tmp_path: Path) -> None:
    env, fake = Env(tmp_path), FakeKeyVaultTransport()
    manager, _ = vault_manager(env, fake)
    with pytest.raises(AuthorizationRequired) as info:
        manager.access_token()
    assert SECRET_NAME in str(info.value) and "oauth-etl authorize" in str(info.value)
    assert [status for method, _, status in fake.log if method == "GET"][-1] == 404
    assert env.server.requests == []
    record("Key Vault secret missing (404)", 1, "authorization required", "none")


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        pytest.param(lambda f: f.deny("PUT"), "denied Set", id="put-403"),
        pytest.param(lambda f: f.inject(429, methods=("PUT",), count=50), "HTTP 429", id="put-429"),
        pytest.param(lambda f: f.inject(500, methods=("PUT",), count=50), "HTTP 500", id="put-500"),
    ],
)
def test_key_vault_write_failures_rescue_the_rotated_token(
    tmp_path: Path, fault: Callable[[FakeKeyVaultTransport], None], needle: str
) -> None:
    env, fake = Env(tmp_path), FakeKeyVaultTransport()
    seeded = seed_vault(env, fake, expires_in=-1)
    manager, store = vault_manager(env, fake)
    fault(fake)
    with pytest.raises(TokenSaveFailed) as info:
        manager.access_token()
    message = str(info.value)
    rescue = info.value.rescue_path
    assert needle in message and "oauth-etl token restore" in message
    assert (
        rescue is not None and str(rescue) in message and (rescue.stat().st_mode & 0o777) == 0o600
    )
    rescued = TokenSet.from_json(rescue.read_bytes())
    assert rescued.refresh_token != seeded.refresh_token  # the rotated set, not the old one
    assert fake.versions(SECRET_NAME) == 1  # the vault still has the old set, untouched
    no_secret_in(message, seeded.refresh_token, rescued.refresh_token, rescued.access_token)

    # The remedy the message names works: the rotated refresh token is not lost.
    fake.deny()  # the outage is over: no denial, no injected faults left
    with fake._state() as state:
        state["faults"] = []
    manager.restore(rescue)
    assert store.load() == rescued
    env.clock.now += 4000
    manager.forget()
    assert manager.access_token() != rescued.access_token  # refreshes with the rescued token
    record(f"Key Vault write {needle} after a refresh", 1, "rescue file, restore works", "none")


def test_key_vault_throttling_that_ends_recovers(tmp_path: Path) -> None:
    env, fake = Env(tmp_path), FakeKeyVaultTransport()
    seed_vault(env, fake, expires_in=-1)
    manager, store = vault_manager(env, fake)
    fake.inject(429, methods=("GET", "PUT"), count=2, retry_after=3)
    token = manager.access_token()
    assert store.load() is not None and store.load().access_token == token  # type: ignore[union-attr]
    assert 3 in fake.sleeps  # honoured Retry-After
    record("Key Vault 429 x2", 1, "recovered", "none")


# == the API, end to end: dg.materialize against the sandbox and Azurite ======================
@pytest.fixture(scope="module")
def sandbox_module() -> Iterator[SandboxHandle]:
    handle = SandboxHandle(
        start_sandbox(
            client_id=SANDBOX_CLIENT_ID,
            client_secret=SANDBOX_CLIENT_SECRET,
            extra_args=["--tenants", "1", "--records", "250", "--no-limits"],
        )
    )
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def stack(
    sandbox_module: SandboxHandle, azurite: Azurite, blob_service: BlobServiceClient, tmp_path: Path
) -> Iterator[Stack]:
    sandbox_module.admin.delete("/_sandbox/faults").raise_for_status()
    container = fresh_container(blob_service)
    stack = Stack(
        sandbox_module, azurite.connection_string, tmp_path / "xero-token.json", container
    )
    stack.authorize()
    try:
        yield stack
    finally:
        sandbox_module.admin.delete("/_sandbox/faults").raise_for_status()
        container.delete_container()


PASS_FIRST_CALL = {"fault": "delay", "seconds": 0, "count": 1, "match": {"path": INVOICES}}


def forever(kind: str, **extra: Any) -> dict[str, Any]:
    return {"fault": kind, "forever": True, "match": {"path": INVOICES}, **extra}


API_FAULTS = [
    # (faults, substrings of the step failure, correlation id expected)
    pytest.param(
        [PASS_FIRST_CALL, forever("status", status=500)],
        ["Xero Invoices unavailable after 2 attempts", "HTTP 500", "run again later"],
        True,
        id="500-after-page-1",
    ),
    pytest.param(
        [forever("status", status=503)],
        ["unavailable after 2 attempts", "offline for maintenance", "run again later"],
        True,
        id="503-maintenance",
    ),
    pytest.param(
        [PASS_FIRST_CALL, forever("truncated")],
        ["Xero Invoices page", "not JSON", "Retry the run"],
        True,
        id="truncated-json",
    ),
    pytest.param(
        [forever("non_json")],
        ["Xero Invoices page 1", "not JSON", "<html>", "Retry the run"],
        True,
        id="non-json-html",
    ),
    pytest.param(
        [PASS_FIRST_CALL, forever("drop")],
        ["unavailable after 2 attempts", "no response", "RemoteProtocolError"],
        False,
        id="dropped-connection",
    ),
    pytest.param(
        [forever("delay", seconds=5)],
        ["unavailable after 2 attempts", "no response", "ReadTimeout"],
        False,
        id="slower-than-timeout",
    ),
]


@pytest.mark.parametrize(("faults", "needles", "correlated"), API_FAULTS)
def test_api_fault_fails_the_materialization_cleanly(
    stack: Stack, faults: list[dict[str, Any]], needles: list[str], correlated: bool
) -> None:
    token_before = stack.token_path.read_bytes()
    for spec in faults:
        stack.fault(spec)
    outcome = stack.materialize()
    assert not outcome.success
    for needle in needles:
        assert needle in outcome.error, (needle, outcome.error[:2000])
    if correlated:
        assert CORRELATION.search(outcome.error), outcome.error[:2000]
    assert outcome.blobs == []  # no manifest, and the parts of page 1 were removed
    assert stack.token_path.read_bytes() == token_before  # the token set is untouched
    no_secret_in(outcome.error, TokenSet.from_json(token_before).access_token)
    no_secret_in(outcome.error, TokenSet.from_json(token_before).refresh_token)
    fired = stack.sandbox.stats()["faults_fired"]
    assert isinstance(fired, dict) and sum(fired.values()) >= 1
    record(f"API {faults[-1]['fault']} during materialization", 1, "step failed clearly", "none")


def test_api_fault_that_ends_is_retried_and_lands_the_batch(stack: Stack) -> None:
    stack.fault({"fault": "status", "status": 503, "count": 1, "match": {"path": INVOICES}})
    outcome = stack.materialize()
    assert outcome.success, outcome.error[:2000]
    manifests = [name for name in outcome.blobs if name.endswith("/_manifest.json")]
    assert len(manifests) == 1 and len(outcome.blobs) > 2  # a complete batch of several parts
    batches = list_batches(
        stack.container, prefix="", source="xero", tenant_id=stack.tenant_id, endpoint="invoices"
    )
    assert [m.record_count for m in batches] == [250]
    record("API 503 once during materialization", 1, "recovered, batch landed", "none")


def expire_token_file(path: Path) -> bytes:
    store = FileTokenStore(path)
    tokens = store.load()
    assert tokens is not None
    store.save(replace(tokens, expires_at=tokens.obtained_at - 60))
    return path.read_bytes()


def test_token_endpoint_outage_fails_the_materialization_and_keeps_the_token(
    stack: Stack,
) -> None:
    before = expire_token_file(stack.token_path)
    grants_before = stack.sandbox.stats()["grants"]
    stack.fault(
        {
            "fault": "status",
            "status": 503,
            "forever": True,
            "match": {"path": "/connect/token", "method": "POST"},
        }
    )
    outcome = stack.materialize()
    assert not outcome.success
    assert (
        "token endpoint: HTTP 503" in outcome.error and "offline for maintenance" in outcome.error
    )
    assert outcome.blobs == []
    assert stack.token_path.read_bytes() == before  # nothing rotated, nothing lost
    assert stack.sandbox.stats()["grants"] == grants_before  # every refresh was refused
    no_secret_in(outcome.error, TokenSet.from_json(before).refresh_token)
    # Once the token endpoint is back, the same token set works: the next run lands.
    stack.sandbox.admin.delete("/_sandbox/faults").raise_for_status()
    assert stack.materialize().success
    record("token endpoint 503 during materialization", 1, "step failed, token kept", "none")


@pytest.mark.parametrize(
    ("spoil", "needle"),
    [
        pytest.param(
            lambda p: p.write_bytes(p.read_bytes()[:40]), "not JSON: corrupt", id="truncated"
        ),
        pytest.param(lambda p: p.chmod(0o644), "chmod 600", id="mode-0644"),
    ],
)
def test_bad_token_file_fails_the_materialization_before_any_call(
    stack: Stack, spoil: Callable[[Path], Any], needle: str
) -> None:
    spoil(stack.token_path)
    before = stack.token_path.read_bytes()
    calls_before = stack.sandbox.stats()["api_calls_total"]
    outcome = stack.materialize()
    assert not outcome.success
    assert needle in outcome.error and str(stack.token_path) in outcome.error
    assert outcome.blobs == []
    assert stack.sandbox.stats()["api_calls_total"] == calls_before
    assert stack.token_path.read_bytes() == before
    record(f"token file {needle} at materialization", 1, "step failed clearly", "none")


# == 429 storms ================================================================================
def test_429_storm_that_ends_recovers_against_the_sandbox(stack: Stack) -> None:
    stack.fault({"fault": "minute_limit", "seconds": 1, "count": 3, "match": {"path": INVOICES}})
    with XeroClient(stack.sandbox.url, stack.resources()["oauth"].auth(), timeout=5) as client:
        extraction = client.extract(endpoint("invoices"), stack.tenant_id)
        assert sum(1 for _ in extraction) == 250
    assert extraction.stats.rate_limited == 3 and extraction.stats.complete
    record("429 minute x3 in a row (sandbox)", 3, "waited Retry-After, recovered", "none")


def test_429_storm_that_never_ends_is_a_clear_error(stack: Stack) -> None:
    stack.fault(forever("minute_limit", seconds=1))
    with (
        XeroClient(
            stack.sandbox.url, stack.resources()["oauth"].auth(), timeout=5, max_rate_limit_waits=2
        ) as client,
        pytest.raises(RateLimited) as info,
    ):
        list(client.extract(endpoint("invoices"), stack.tenant_id))
    message = str(info.value)
    assert "kept answering 429" in message and "Run again later" in message
    assert CORRELATION.search(message)
    record("429 minute forever (sandbox)", 3, "RateLimited after 2 waits", "none")


@pytest.mark.parametrize("storm", [1, 5, 10, 11, 40])
def test_429_storm_is_bounded_by_max_rate_limit_waits(storm: int) -> None:
    """Virtual clock: a storm up to max_rate_limit_waits (10) is waited out, a longer one
    ends in RateLimited after exactly 11 calls, whatever its length."""
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    fake = FakeXero(
        endpoints={"Invoices": endpoint("invoices")},
        data={"Invoices": make_records(endpoint("invoices"), 10)},
    )
    left = [storm]

    def storm_answer(request: httpx.Request) -> httpx.Response | None:
        if left[0] <= 0:
            return None
        left[0] -= 1
        return httpx.Response(
            429,
            headers={
                "Retry-After": "7",
                "X-Rate-Limit-Problem": "minute",
                "Xero-Correlation-Id": "corr-storm",
            },
        )

    fake.faults.append(storm_answer)
    client = XeroClient(
        "https://api.example.test",
        auth=BearerAuth(),
        transport=fake.transport(),
        sleep=sleep,
        budget_factory=lambda t: RateBudget(t, clock=lambda: now[0], sleep=sleep),
    )
    with client:
        extraction = client.extract(endpoint("invoices"), TENANT)
        if storm <= client.max_rate_limit_waits:
            assert len(list(extraction)) == 10
            assert extraction.stats.rate_limited == storm and now[0] >= 7 * storm
            outcome = f"recovered after {now[0]:.0f} s of waits"
        else:
            with pytest.raises(RateLimited, match="kept answering 429") as info:
                list(extraction)
            assert "corr-storm" in str(info.value)
            assert len(fake.calls) == client.max_rate_limit_waits + 1
            outcome = "RateLimited, clear error"
    record(f"429 minute x{storm} in a row", storm, outcome, "none")


# == Azurite stopped mid-run ===================================================================
@pytest.mark.timeout(90)
def test_azurite_stopped_mid_batch_is_unreachable_and_leaves_nothing() -> None:
    own = start_azurite()
    restarted = None
    try:
        service = make_blob_service_client(connection_string=own.connection_string)
        container = service.create_container("stopmid")

        stopped_at: list[float] = []

        def producer() -> Iterator[dict[str, Any]]:
            for i in range(2000):
                if i == 100:
                    # Kill the account only once a part is committed: mid-batch, for real.
                    deadline = time.monotonic() + 10
                    while not any(True for _ in container.list_blobs()):
                        assert time.monotonic() < deadline, "no part committed"
                        time.sleep(0.02)
                    own.stop()
                    stopped_at.append(time.monotonic())
                yield invoice(i)

        batch = LandingBatch("xero", "invoices", "t1", producer())
        with pytest.raises(StorageUnreachable) as info:
            write_batch(container, batch, prefix="p/", run_id="stopped1", part_size_bytes=16_000)
        # Bounded and fast: the failing upload's own retries take ~3-4 s; the clean-up deletes
        # are not retried (writer.py `_Pipeline.abort`, retry_total=0). Retried deletes cost
        # ~3.7 s per committed part against the dead account (measured: 7-11 s in all).
        elapsed = time.monotonic() - stopped_at[0]
        assert elapsed < 8, f"{elapsed:.1f} s from stop to StorageUnreachable"
        error = info.value
        message = str(error)
        assert "storage account 'devstoreaccount1'" in message  # names the account
        assert "start Azurite" in message  # and the remedy
        text = "".join(traceback.format_exception(error))
        chain: list[BaseException] = []
        seen: BaseException | None = error
        while seen is not None and len(chain) < 20:
            chain.append(seen)
            seen = seen.__cause__ or seen.__context__
        for shown in [text, *map(str, chain)]:
            assert AZURITE_KEY not in shown and "AccountKey=" not in shown
            assert "sig=" not in shown

        # In-memory Azurite lost everything on stop; after a restart on the same port the
        # next run lands a complete batch and nothing partial is listed.
        restarted = start_azurite(port=own.port)
        container = make_blob_service_client(
            connection_string=restarted.connection_string
        ).create_container("stopmid")
        assert (
            list_batches(container, prefix="p/", source="xero", tenant_id="t1", endpoint="invoices")
            == []
        )
        write_batch(
            container,
            LandingBatch("xero", "invoices", "t1", records(500)),
            prefix="p/",
            run_id="after1",
            part_size_bytes=16_000,
        )
        landed = list_batches(
            container, prefix="p/", source="xero", tenant_id="t1", endpoint="invoices"
        )
        assert [m.record_count for m in landed] == [500]
        record(
            "Azurite stopped mid-batch",
            1,
            f"StorageUnreachable naming the account after {elapsed:.0f} s",
            "none",
        )
    finally:
        own.stop()
        if restarted is not None:
            restarted.stop()


# == the matrix itself =========================================================================
def test_every_matrix_row_is_a_real_test() -> None:
    """Each row names a test function (and parameter id) that exists and is collected."""
    for row in MATRIX:
        module_name, _, rest = row.test.partition("::")
        name, _, param = rest.partition("[")
        module = importlib.import_module(module_name.removesuffix(".py").replace("/", "."))
        function = getattr(module, name, None)
        assert callable(function) and name.startswith("test_"), row
        if param:
            ids = {
                p.id
                for mark in getattr(function, "pytestmark", [])
                if mark.name == "parametrize"
                for p in mark.args[1]
                if hasattr(p, "id")
            }
            assert param.rstrip("]") in ids, (row, sorted(i for i in ids if i))
        assert row.outcome and row.case
    assert os.path.basename(__file__) in {r.test.split("::")[0].rsplit("/", 1)[-1] for r in MATRIX}

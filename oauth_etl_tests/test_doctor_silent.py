"""`doctor` against hosts that accept a connection and never answer (a firewall that
drops, a proxy that hangs): every probe gives up after its own short timeout, the lanes
wait side by side, so the whole run ends in under 10 s, and each failure says which URL
"did not answer within 3 s"."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from oauth_etl import doctor
from oauth_etl.doctor.run import stream_environment
from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY
from oauth_etl_tests import canary
from oauth_etl_tests.cli.conftest import cli
from oauth_etl_tests.test_doctor_down import clean, vault_client, with_vault

Silent = Callable[[str], str]


@pytest.fixture
def silent() -> Iterator[Silent]:
    """`silent("http")`: the URL of a 127.0.0.1 socket that listens (the kernel completes
    every connection) and never reads or answers."""
    opened: list[socket.socket] = []

    def make(scheme: str = "http") -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        opened.append(server)
        return f"{scheme}://127.0.0.1:{server.getsockname()[1]}"

    yield make
    for server in opened:
        server.close()


def silent_env(tmp_path: Path, silent: Silent) -> dict[str, str]:
    xero = silent("http")
    return {
        "XERO_CLIENT_ID": "cid",
        "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
        "XERO_LOGIN_URL": xero,
        "XERO_IDENTITY_URL": xero,
        "XERO_API_URL": silent("http"),
        "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'token.json'}",
        "AZURE_STORAGE_CONNECTION_STRING": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={silent('http')}/{AZURITE_ACCOUNT};"
        ),
        "XERO_WEBHOOK_KEY": "k" * 40,
        "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING": (
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"QueueEndpoint={silent('http')}/{AZURITE_ACCOUNT};"
        ),
    }


def stored(tmp_path: Path, *, expired: bool) -> None:
    now = time.time()
    FileTokenStore(tmp_path / "token.json").save(
        TokenSet(
            access_token="a" * 40,
            refresh_token="r" * 40,
            expires_at=now - 10 if expired else now + 1500,
            scope="offline_access accounting.invoices.read",
            token_type="Bearer",
            obtained_at=now - 300,
            refresh_token_issued_at=now - 300,
        )
    )


def timed(env: dict[str, str], **kwargs: Any) -> tuple[dict[str, doctor.CheckResult], str]:
    started = time.monotonic()
    results = list(stream_environment(env, **kwargs))
    elapsed = time.monotonic() - started
    text = doctor.render_text(results)
    assert elapsed < 10, f"doctor took {elapsed:.1f} s with every host silent:\n{text}"
    clean(text)
    return {r.name: r for r in results}, text


@pytest.mark.parametrize("expired", [True, False], ids=["identity", "api"])
def test_silent_xero_storage_and_queue_end_in_seconds_naming_each_url(
    tmp_path: Path, silent: Silent, expired: bool
) -> None:
    env = silent_env(tmp_path, silent)
    stored(tmp_path, expired=expired)  # expired: doctor refreshes (identity); else: the API
    by_name, _ = timed(env)
    if expired:
        token_set = by_name["token set"]
        assert token_set.status == "fail", token_set
        assert f"at {env['XERO_IDENTITY_URL']}: did not answer within 3 s" in token_set.detail
        assert "XERO_IDENTITY_URL" in token_set.fix
        assert by_name["tenants"].status == "skip"
    else:
        tenants = by_name["tenants"]
        assert tenants.status == "fail", tenants
        assert f"Xero's API at {env['XERO_API_URL']}: did not answer within 3 s" in tenants.detail
        assert "XERO_API_URL" in tenants.fix
    landing = by_name["landing container"]
    assert landing.status == "fail" and "did not answer within 3 s" in landing.detail, landing
    assert "the storage account at http://127.0.0.1:" in landing.detail
    assert "AZURE_STORAGE_CONNECTION_STRING" in landing.fix
    assert by_name["webhook queue"].status == "fail"


def test_a_silent_key_vault_and_storage_end_in_seconds(tmp_path: Path, silent: Silent) -> None:
    vault = silent("https")
    env = with_vault(silent_env(tmp_path, silent), vault)
    by_name, text = timed(env, secret_client=vault_client)
    token_store = by_name["token store"]
    assert token_store.status == "fail", token_store
    assert f"the Key Vault at {vault}: did not answer within 3 s" in token_store.detail
    assert text.count(f"the Key Vault at {vault}") == 1  # one root cause, reported once
    for name in ("lock", "credential secrets", "rescue location"):
        assert by_name[name].status == "skip", by_name[name]
    assert "did not answer within 3 s" in by_name["landing container"].detail


def test_the_command_streams_in_order_with_every_host_silent(
    tmp_path: Path, silent: Silent
) -> None:
    env = silent_env(tmp_path, silent)
    stored(tmp_path, expired=True)
    started = time.monotonic()
    done = cli(env, "doctor", timeout=60)
    total = time.monotonic() - started
    assert total < 10, f"{total:.1f} s"
    assert done.returncode == 1 and done.stderr == ""  # no retry log line, no traceback
    clean(done.stdout)
    names = [line[2:].split(":", 1)[0] for line in done.stdout.splitlines() if line[:1] in "✔✘!-"]
    assert names[:6] == ["settings", "token store", "lock", "token set", "scopes", "tenants"]
    assert names.index("landing container") < names.index("webhook key")


def test_lanes_run_side_by_side_and_lines_keep_their_order() -> None:
    def slow(name: str, status: str = "ok") -> Callable[[], doctor.CheckResult]:
        def run() -> doctor.CheckResult:
            time.sleep(1.0)
            return doctor.CheckResult(name, status, "done")  # type: ignore[arg-type]

        return run

    steps = [
        doctor.Step("first", slow("first", "fail"), lane="a"),
        doctor.Step("second", slow("second"), lane="b"),
        doctor.Step("needs first", slow("needs first"), ("first",), lane="b"),
        doctor.Step("third", slow("third"), lane="c"),
    ]
    started = time.monotonic()
    results = list(doctor.iter_checks(steps))
    elapsed = time.monotonic() - started
    assert [r.name for r in results] == ["first", "second", "needs first", "third"]
    assert [r.status for r in results] == ["fail", "ok", "skip", "ok"]
    assert results[2].detail == "skipped: needs first"
    assert elapsed < 2.5, f"{elapsed:.1f} s: the lanes did not run side by side"

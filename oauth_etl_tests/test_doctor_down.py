"""`doctor` when things are down or misconfigured: short probes (everything down ends in
under 10 s), the real cause with the URL and the setting, one root cause reported once
(what it blocks skipped), and the settings validated before any network call."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from oauth_etl import doctor
from oauth_etl.doctor.causes import Service, explain
from oauth_etl.doctor.run import stream_environment
from oauth_etl.oauth.stores import FileTokenStore, make_secret_client
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY, PROJECT_ROOT, free_port
from oauth_etl_tests import canary
from oauth_etl_tests.oauth.fake_keyvault import FakeCredential

FORBIDDEN_WORDS = ("Error", "Exception", "see the message", "Traceback")


def dead(scheme: str = "http") -> str:
    return f"{scheme}://127.0.0.1:{free_port()}"


def all_down(tmp_path: Path, store: str | None = None) -> dict[str, str]:
    xero = dead()
    return {
        "XERO_CLIENT_ID": "cid",
        "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
        "XERO_LOGIN_URL": xero,
        "XERO_IDENTITY_URL": xero,
        "XERO_API_URL": xero,
        "OAUTH_ETL_TOKEN_STORE": store or f"file:{tmp_path / 'token.json'}",
        "AZURE_STORAGE_CONNECTION_STRING": (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};BlobEndpoint={dead()}/{AZURITE_ACCOUNT};"
        ),
    }


def clean(text: str) -> None:
    assert canary.found_in([text]) == [] and AZURITE_KEY not in text
    for word in FORBIDDEN_WORDS:
        assert word not in text, f"{word!r} in doctor's output:\n{text}"


def with_vault(env: dict[str, str], vault: str) -> dict[str, str]:
    """`env` with the token set and the client secret in the Key Vault at `vault`."""
    return {
        **env,
        "OAUTH_ETL_TOKEN_STORE": f"keyvault:{vault}/xero-token",
        "XERO_CREDENTIALS_VAULT_URL": vault,
        "XERO_CLIENT_SECRET_SECRET_NAME": "xero-client-secret",
    }


def vault_client(url: str) -> Any:
    """The real SecretClient with a static AAD token, one attempt, 3 s."""
    return make_secret_client(url, FakeCredential(), retry_total=0, timeout=3)


def test_everything_down_with_a_key_vault_store_ends_in_seconds(tmp_path: Path) -> None:
    vault = dead("https")
    env = with_vault(all_down(tmp_path), vault)
    started = time.monotonic()
    results = list(stream_environment(env, secret_client=vault_client))
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"doctor took {elapsed:.1f} s with everything down"
    text = doctor.render_text(results)
    clean(text)
    by_name = {r.name: r for r in results}
    assert by_name["settings"].status == "ok"
    token_store = by_name["token store"]
    assert token_store.status == "fail" and "connection refused" in token_store.detail
    assert vault in token_store.detail and "XERO_CREDENTIALS_VAULT_URL" in token_store.fix
    # One root cause, reported once: what shares it or needs it is skipped.
    assert text.count("connection refused") == 2  # the vault, then storage
    assert by_name["lock"].status == "skip" and by_name["token set"].status == "skip"
    assert by_name["credential secrets"].status == "skip"
    landing = by_name["landing container"]
    assert landing.status == "fail" and "the storage account" in landing.detail
    assert "AZURE_STORAGE_CONNECTION_STRING" in landing.fix


def test_the_command_streams_each_line_as_its_check_ends(tmp_path: Path) -> None:
    env = all_down(tmp_path)
    (tmp_path / "token.json").write_text("{}")  # a broken store: the token checks fail fast
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "oauth_etl.cli", "doctor"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline()
    first_at = time.monotonic() - started
    rest, err = process.communicate(timeout=30)
    total = time.monotonic() - started
    assert first.startswith("✔ settings"), first
    assert total < 10, f"{total:.1f} s"
    assert first_at < total  # printed before the run ended: streamed, not at the end
    assert process.returncode == 1 and err == ""
    clean(first + rest)
    assert "storage account at http://127.0.0.1:" in rest and "connection refused" in rest


@pytest.mark.parametrize(
    ("change", "needle", "setting"),
    [
        ({"AZURE_STORAGE_CONNECTION_STRING": "garbage"}, "not a connection string", "copy"),
        ({"AZURE_STORAGE_CONNECTION_STRING": "AccountName=a;Bogus=1"}, "unknown key", "copy"),
        ({"AZURE_STORAGE_ACCOUNT_URL": "not-a-url"}, "not a URL", "https://ACCOUNT"),
        ({"XERO_API_URL": "not-a-url"}, "XERO_API_URL is not a URL", "XERO_API_URL"),
        ({"OAUTH_ETL_TOKEN_STORE": "keyvault:not-a-url/x"}, "must be https", "keyvault:https"),
    ],
)
def test_settings_are_parsed_before_any_network_call(
    tmp_path: Path, change: dict[str, str], needle: str, setting: str
) -> None:
    env = {**all_down(tmp_path), **change}
    if "AZURE_STORAGE_ACCOUNT_URL" in change:
        env.pop("AZURE_STORAGE_CONNECTION_STRING")
    result = doctor.check_settings(env)
    assert result.status == "fail" and needle in result.detail, result
    assert setting in result.fix
    clean(result.detail + result.fix)


def test_an_empty_environment_says_client_id_once() -> None:
    results = list(stream_environment({"HOME": os.environ.get("HOME", "/tmp")}))
    text = doctor.render_text(results)
    assert text.count("XERO_CLIENT_ID is not set") == 1
    by_name = {r.name: r for r in results}
    assert by_name["credential secrets"].status == "skip"  # not ✔ without a client id
    assert [r.name for r in results if r.status == "fail"] == ["settings"]
    clean(text)


def test_causes_name_dns_tls_403_and_a_timeout() -> None:
    service = Service("the storage account", "https://acct.example.invalid", "AZURE_X", "Role R")
    import httpx

    dns = explain(httpx.ConnectError("[Errno -2] Name or service not known"), service)
    assert dns is not None and "DNS cannot resolve acct.example.invalid" in dns.detail
    tls = explain(httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate"), service)
    assert tls is not None and "TLS" in tls.detail and "SSL_CERT_FILE" in tls.fix

    class Forbidden(Exception):
        status_code = 403

    denied = explain(Forbidden(), service)
    assert denied is not None and "403" in denied.detail and "Role R" in denied.fix
    slow = explain(httpx.ReadTimeout("timed out"), service, timeout=3)
    assert slow is not None and "did not answer within 3 s" in slow.detail
    assert explain(ValueError("ours"), service) is None


def test_xero_down_names_the_identity_server_and_prints_nothing_else(tmp_path: Path) -> None:
    env = all_down(tmp_path)
    now = time.time()
    expired = TokenSet(
        access_token="a" * 40,
        refresh_token="r" * 40,
        expires_at=now - 10,
        scope="offline_access accounting.invoices.read",
        token_type="Bearer",
        obtained_at=now - 2000,
        refresh_token_issued_at=now - 2000,
    )
    FileTokenStore(tmp_path / "token.json").save(expired)  # due: doctor must refresh it
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "oauth_etl.cli", "doctor"],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == 1 and done.stderr == ""  # no library log line, no traceback
    line = next(x for x in done.stdout.splitlines() if x.startswith("✘ token set"))
    assert f"Xero's identity server at {env['XERO_IDENTITY_URL']}: connection refused" in line
    assert "fix: check the port in XERO_IDENTITY_URL" in done.stdout
    clean(done.stdout)


def test_a_key_vault_store_with_storage_down_reports_storage_once(tmp_path: Path) -> None:
    env = all_down(tmp_path, f"keyvault:{dead('https')}/xero-token")

    def vault_client(url: str) -> Any:
        return make_secret_client(url, FakeCredential(), retry_total=0, timeout=3)

    results = list(stream_environment(env, secret_client=vault_client))
    text = doctor.render_text(results)
    clean(text)
    assert text.count("connection refused") == 1  # the store's lock lives in the account
    by_name = {r.name: r for r in results}
    assert "the storage account at http://127.0.0.1:" in by_name["token store"].detail
    for name in ("lock", "landing container", "rescue location"):
        assert by_name[name].status == "skip"
        assert "the same cause as token store" in by_name[name].detail

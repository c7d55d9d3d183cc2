"""`doctor` against the sandbox, Azurite and the fake Key Vault: every ✘ path, no secret shown."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from azure.storage.blob import (
    BlobServiceClient,
    ContainerClient,
    ContainerSasPermissions,
    generate_container_sas,
)

from oauth_etl import doctor
from oauth_etl.doctor import CheckResult, Step
from oauth_etl.doctor.causes import Service
from oauth_etl.doctor.run import stream_environment
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.rescue import BlobRescueSink, FileRescueSink
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore, read_secret
from oauth_etl.xero.catalog import CATALOG, endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.scopes import scopes_for
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY, Azurite, free_port
from oauth_etl_tests import canary
from oauth_etl_tests.conftest import SandboxHandle
from oauth_etl_tests.oauth.fake_keyvault import VAULT_URL, FakeKeyVaultTransport, fake_secret_client
from oauth_etl_tests.oauth.test_sandbox_integration import authorized, expire, manager_for

GOOD_ENV = {
    "XERO_CLIENT_ID": "client-abc",
    "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
    "OAUTH_ETL_TOKEN_STORE": "keyvault:https://my-vault.vault.azure.net/xero-token",
    "AZURE_STORAGE_ACCOUNT_URL": "https://acct.blob.core.windows.net",
    "OAUTH_ETL_CONTAINER": "xero-raw",
}


def shown(results: list[CheckResult]) -> str:
    text = doctor.render_text(results) + doctor.render_json(results, now=0.0)
    assert canary.found_in([text]) == []
    return text


def only(result: CheckResult, status: str) -> CheckResult:
    assert result.status == status, result
    if status == "fail":
        assert result.fix, "every ✘ says how to fix it"
    return result


def test_everything_passes_and_nothing_secret_is_shown(
    sandbox: SandboxHandle, container: ContainerClient, tmp_path: Path
) -> None:
    manager = authorized(sandbox, tmp_path / "token.json")
    with XeroClient(sandbox.url, BearerAuth(manager), timeout=10) as xero:
        steps = doctor.standard_steps(
            environ=GOOD_ENV,
            manager=lambda: manager,
            connections=xero.connections,
            landing=lambda: container,
            prefix="team",
            endpoints=[e for e in CATALOG if e.name in ("invoices", "contacts", "accounts")],
        )
        results = doctor.run_checks(steps)
    text = shown(results)
    assert [r.name for r in results] == [
        "settings",
        "token store",
        "lock",
        "token set",
        "scopes",
        "tenants",
        "landing container",
        "credential secrets",
        "rescue location",
    ]
    assert [r.status for r in results] == ["ok"] * 9, text
    assert doctor.exit_code(results) == 0
    assert text.count("✔") == 9 and "✘" not in text
    assert results[5].detail.startswith("2: ")  # the sandbox's two organisations, named
    assert list(container.list_blobs()) == []  # the probe is gone
    payload = orjson.loads(doctor.render_json(results, now=0.0))
    assert payload["ok"] is True and len(payload["checks"]) == 9


def test_a_missing_token_set_stops_what_depends_on_it(
    sandbox: SandboxHandle, container: ContainerClient, tmp_path: Path
) -> None:
    manager = manager_for(sandbox, tmp_path / "none.json")
    results = doctor.run_checks(
        doctor.standard_steps(
            environ=GOOD_ENV,
            manager=lambda: manager,
            connections=lambda: [],
            landing=lambda: container,
        )
    )
    by_name = {r.name: r for r in results}
    assert by_name["token set"].status == "fail"
    assert by_name["scopes"].status == "skip" and "needs token set" in by_name["scopes"].detail
    assert by_name["tenants"].status == "skip"
    assert by_name["landing container"].status == "ok"  # independent links still checked
    assert doctor.exit_code(results) == 1
    shown(results)


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"XERO_CLIENT_ID": ""}, "XERO_CLIENT_ID"),
        ({"OAUTH_ETL_TOKEN_STORE": "s3:bucket/key"}, "token store"),
        ({"OAUTH_ETL_LEASE_SECONDS": "thirty"}, "whole number"),
        ({"AZURE_STORAGE_ACCOUNT_URL": ""}, "storage account"),
        ({"OAUTH_ETL_CONTAINER": "Xero_Raw"}, "container name"),
        ({"XERO_IDENTITY_URL": "http://identity.example"}, "https"),
        ({doctor.REDIRECT_URI_VAR: "http://example.com:8765/callback"}, "redirect URI"),
        ({doctor.REDIRECT_URI_VAR: "http://localhost/callback"}, "redirect URI"),
        ({doctor.RESCUE_LOCATION_VAR: "/tmp/rescue"}, "rescue location"),
        ({doctor.TOKEN_LOCK_VAR: "nolock"}, "lock location"),
    ],
)
def test_settings_failures_say_what_to_set(change: dict[str, str], needle: str) -> None:
    result = only(doctor.check_settings({**GOOD_ENV, **change}), "fail")
    assert needle in result.detail
    assert canary.CLIENT_SECRET not in result.detail + result.fix


def test_settings_ok_mentions_no_value_of_a_secret() -> None:
    result = only(doctor.check_settings(GOOD_ENV), "ok")
    assert "confidential" in result.detail and canary.CLIENT_SECRET not in result.detail


def test_file_store_readable_by_others_or_unwritable(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    authorized(sandbox, tmp_path / "token.json")
    store = FileTokenStore(tmp_path / "token.json")
    store.path.chmod(0o644)
    assert "chmod 600" in only(doctor.check_token_store(store), "fail").fix
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    nested = FileTokenStore(blocker / "token.json")  # its directory cannot exist
    assert "OAUTH_ETL_TOKEN_STORE" in only(doctor.check_token_store(nested), "fail").fix
    # Nothing stored yet and a directory nobody (not even root) can create: not writable.
    unwritable = FileTokenStore("/proc/self/oauth-etl-doctor/token.json")
    assert "write access" in only(doctor.check_token_store(unwritable), "fail").fix


def _vault(
    tmp_path: Path, sandbox: SandboxHandle
) -> tuple[FakeKeyVaultTransport, KeyVaultTokenStore]:
    manager = authorized(sandbox, tmp_path / "token.json")
    tokens = manager.current()
    assert tokens is not None
    fake = FakeKeyVaultTransport()
    fake.put_value("xero-token", tokens.to_json().decode(), "application/json")
    return fake, KeyVaultTokenStore(VAULT_URL, "xero-token", client=fake_secret_client(fake, 0))


def test_key_vault_get_and_set_permissions(sandbox: SandboxHandle, tmp_path: Path) -> None:
    fake, store = _vault(tmp_path, sandbox)
    lock = FileLock(tmp_path / "kv.lock", timeout=5)
    before = fake.value("xero-token")
    assert "Get and Set" in only(doctor.check_token_store(store, lock), "ok").detail
    assert fake.value("xero-token") == before  # the same set, one more version
    fake.deny("PUT")
    denied = only(doctor.check_token_store(store, lock), "fail")
    assert "Set" in denied.detail and "Key Vault Secrets Officer" in denied.fix
    fake.deny("GET")
    assert "Key Vault Secrets Officer" in only(doctor.check_token_store(store, lock), "fail").fix
    shown([denied])


def test_a_held_lock_fails(tmp_path: Path) -> None:
    path = tmp_path / "token.json.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import filelock, sys, time; lock = filelock.FileLock(sys.argv[1]); lock.acquire(); "
            "print('held', flush=True); time.sleep(60)",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        result = only(doctor.check_lock(FileLock(path, timeout=0.2)), "fail")
        assert "another process" in result.fix
    finally:
        holder.kill()
        holder.wait(10)
    assert doctor.check_lock(FileLock(path, timeout=5)).status == "ok"


def test_token_set_missing_rejected_unknown_age_and_old(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    empty = manager_for(sandbox, tmp_path / "none.json")
    assert "oauth-etl authorize" in only(doctor.check_token_set(empty), "fail").fix

    manager = authorized(sandbox, tmp_path / "token.json")
    tokens = manager.current()
    assert tokens is not None and tokens.refresh_token is not None
    store = FileTokenStore(tmp_path / "token.json")
    store.save(replace(tokens, refresh_token_issued_at=None))
    assert (
        "unknown" in only(doctor.check_token_set(manager_for(sandbox, store.path)), "warn").detail
    )
    old = time.time() - 50 * 86400
    store.save(replace(tokens, refresh_token_issued_at=old))
    aged = only(doctor.check_token_set(manager_for(sandbox, store.path)), "warn")
    assert "10.0 days left" in aged.detail and "keep-alive" in aged.fix

    manager.endpoint.revoke(tokens.refresh_token)
    store.save(tokens)
    expire(store.path)
    rejected = only(doctor.check_token_set(manager_for(sandbox, store.path)), "fail")
    assert "invalid_grant" in rejected.detail
    shown([rejected, aged])


def test_scopes_name_the_assets_that_will_fail() -> None:
    granted = scopes_for().text()
    result = only(
        doctor.check_scopes(granted, [endpoint("invoices"), endpoint("journals")]), "fail"
    )
    assert "journals need accounting.journals.read" in result.detail
    assert "Advanced" in result.detail and "invoices" not in result.detail
    assert "--with-journals" in result.fix and "--with-classic" not in result.fix
    only(doctor.check_scopes(granted, [endpoint("invoices")]), "ok")
    # One granted scope: the fix adds the scopes missing and keeps the one granted and
    # offline_access (a set asked for without them could not refresh, or read invoices).
    narrow = only(doctor.check_scopes("offline_access accounting.invoices.read", CATALOG), "fail")
    command = narrow.fix.split("`")[1]
    asked = command.split('"')[1].split()
    assert {"offline_access", "accounting.invoices.read", "accounting.contacts.read"} <= set(asked)
    assert "--with-journals" in command and "accounting.journals.read" not in asked
    default = only(doctor.check_scopes("accounting.invoices.read", [endpoint("contacts")]), "fail")
    assert "--with-journals" not in default.fix and "--with-classic" not in default.fix
    assert "accounting.contacts.read" in default.fix


def test_tenants_unreachable_or_none(tmp_path: Path, sandbox: SandboxHandle) -> None:
    manager = authorized(sandbox, tmp_path / "token.json")
    dead = f"http://127.0.0.1:{free_port()}"
    api = Service("Xero's API", dead, "XERO_API_URL")
    with XeroClient(dead, BearerAuth(manager), timeout=2, max_attempts=1) as xero:
        refused = only(doctor.check_tenants(xero.connections, api), "fail")
    assert "connection refused" in refused.detail and dead in refused.detail
    assert "XERO_API_URL" in refused.fix and refused.cause
    assert "authorize" in only(doctor.check_tenants(lambda: []), "fail").fix


def test_landing_container_missing_or_read_only(
    blob_service: BlobServiceClient, container: ContainerClient
) -> None:
    missing = blob_service.get_container_client("doctor-no-such-container")
    assert "az storage container create" in only(doctor.check_landing(missing), "fail").fix
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        container.container_name,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(minutes=5),
    )
    read_only = ContainerClient.from_container_url(f"{container.url}?{sas}")
    result = only(doctor.check_landing(read_only), "fail")
    assert "Storage Blob Data Contributor" in result.fix
    assert sas not in doctor.render_text([result])


def test_credential_secrets(tmp_path: Path) -> None:
    fake = FakeKeyVaultTransport()
    fake.put_value("xero-client-secret", canary.CLIENT_SECRET)
    client = fake_secret_client(fake, 0)

    def read(name: str) -> str:
        return read_secret(VAULT_URL, name, client=client)

    ok = only(doctor.check_credential_secrets(read, ["xero-client-secret"]), "ok")
    missing = only(doctor.check_credential_secrets(read, ["xero-client-id"]), "fail")
    assert "not found" in missing.detail
    assert doctor.check_credential_secrets(None, []).status == "ok"
    shown([ok, missing])


def test_rescue_location_for_a_key_vault_store(tmp_path: Path, container: ContainerClient) -> None:
    store = KeyVaultTokenStore(
        VAULT_URL, "xero-token", client=fake_secret_client(FakeKeyVaultTransport())
    )
    home = FileRescueSink(Path.home() / ".oauth_etl" / "rescue")
    assert "dies with the pod" in only(doctor.check_rescue(store, home), "warn").detail
    only(doctor.check_rescue(store, BlobRescueSink(container)), "ok")
    only(doctor.check_rescue(FileTokenStore(tmp_path / "t.json"), home), "ok")


def test_a_failed_prerequisite_skips_and_the_exit_code_fails() -> None:
    def boom() -> CheckResult:
        raise RuntimeError("with a https://x?sig=SECRET url")

    results = doctor.run_checks(
        [
            Step("settings", lambda: CheckResult("settings", "ok", "fine")),
            Step("token store", boom),
            Step("token set", lambda: CheckResult("token set", "ok", "x"), ("token store",)),
            Step("age", lambda: CheckResult("age", "warn", "old", "keep it alive")),
        ]
    )
    assert [r.status for r in results] == ["ok", "fail", "skip", "warn"]
    assert results[1].detail == "the check could not run"  # a foreign message: never quoted
    assert "--debug" in results[1].fix and "RuntimeError" not in results[1].fix
    assert "needs token store" in results[2].detail
    text = doctor.render_text(results)
    assert text.splitlines()[0].startswith("✔ settings") and "! age: old" in text
    assert "SECRET" not in text and doctor.exit_code(results) == 1
    assert doctor.exit_code(results[:1] + results[3:]) == 0  # warnings alone pass


def test_the_whole_chain_from_the_environment_with_a_key_vault_store(
    sandbox: SandboxHandle, azurite: Azurite, blob_service: BlobServiceClient, tmp_path: Path
) -> None:
    """`oauth-etl doctor` as the command builds it: the contract, the real lease lock on
    Azurite, the fake Key Vault, the sandbox."""
    fake, _ = _vault(tmp_path, sandbox)
    landing = f"doctor-{uuid.uuid4().hex[:12]}"
    rescue = f"rescue-{uuid.uuid4().hex[:12]}"
    env = {
        **local_environment(sandbox.sandbox, azurite, tmp_path),
        "OAUTH_ETL_TOKEN_STORE": f"keyvault:{VAULT_URL}/xero-token",
        "OAUTH_ETL_CONTAINER": landing,
    }

    def check(**extra: str) -> dict[str, CheckResult]:
        results = list(
            stream_environment({**env, **extra}, secret_client=lambda _url: vault_client)
        )
        shown(results)
        return {r.name: r for r in results}

    vault_client = fake_secret_client(fake, 0)
    first = check()
    assert "Get and Set" in only(first["token store"], "ok").detail
    assert "oauth-etl-locks" in only(first["lock"], "ok").detail
    assert "dies with the pod" in only(first["rescue location"], "warn").detail
    only(first["tenants"], "ok")
    assert doctor.exit_code(list(first.values())) == 0  # a warning alone passes

    durable = check(OAUTH_ETL_RESCUE_LOCATION=f"blob:{rescue}")
    assert rescue in only(durable["rescue location"], "ok").detail

    fake.deny("PUT")
    denied = check()
    assert "Key Vault Secrets Officer" in only(denied["token store"], "fail").fix
    assert doctor.exit_code(list(denied.values())) == 1
    for name in (landing, "oauth-etl-locks"):
        assert blob_service.get_container_client(name).exists()
    blob_service.delete_container(landing)

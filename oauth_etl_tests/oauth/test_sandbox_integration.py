"""The token lifecycle against the real sandbox over HTTP, including several OS processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.app.provider import XERO
from oauth_etl.oauth.auth import BearerAuth
from oauth_etl.oauth.authorize import DEFAULT_REDIRECT_URI, authorize
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import AuthorizationRequired, InvalidClient
from oauth_etl.oauth.locks import FileLock
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl.xero.scopes import DEFAULT_SCOPES
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.oauth.fake_keyvault import VAULT_URL, FakeKeyVaultTransport, fake_secret_client

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def endpoint_for(sandbox: Any, wrong_secret: bool = False) -> TokenEndpoint:
    return TokenEndpoint(
        f"{sandbox.url}/connect/token",
        f"{sandbox.url}/connect/revocation",
        sandbox.client_id,
        "wrong" if wrong_secret else sandbox.client_secret,
        timeout=5.0,
        provider=XERO,  # the advice Xero's authorize screens get
    )


def manager_for(sandbox: Any, store_path: Path, **kwargs: Any) -> TokenManager:
    store = FileTokenStore(store_path)
    kwargs.setdefault("refresh_backoff", 0.05)
    return TokenManager(store, endpoint_for(sandbox), FileLock(store.lock_path, 10), **kwargs)


def authorized(sandbox: Any, store_path: Path) -> TokenManager:
    manager = manager_for(sandbox, store_path)
    authorize(
        manager,
        login_url=sandbox.url,
        client_id=sandbox.client_id,
        mode="unattended",
        output=lambda _s: None,
        scopes=DEFAULT_SCOPES,
    )
    return manager


def expire(path: Path) -> TokenSet:
    store = FileTokenStore(path)
    tokens = store.load()
    assert tokens is not None
    expired = replace(tokens, expires_at=time.time() - 60)
    store.save(expired)
    return expired


def grants(sandbox: Any) -> dict[str, Any]:
    stats = sandbox.stats()
    return {
        "refresh_token": stats["grants"]["refresh_token"],
        "invalid_grant": stats["invalid_grant"],
        "grace_reuses": stats["grace_reuses"],
    }


def test_authorize_refresh_and_rotation(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("--strict")
    path = tmp_path / "token.json"
    manager = authorized(sandbox, path)
    first = FileTokenStore(path).load()
    assert first is not None and first.refresh_token and "offline_access" in first.scope
    with httpx.Client(base_url=sandbox.url, auth=BearerAuth(manager), timeout=5) as api:
        assert api.get("/connections").status_code == 200
    rotated = manager.refresh(force=True)
    assert rotated.refresh_token != first.refresh_token
    assert FileTokenStore(path).load() == rotated
    manager.refresh(force=True)  # the rotated token works; the old one would be invalid_grant
    assert grants(sandbox) == {"refresh_token": 2, "invalid_grant": 0, "grace_reuses": 0}


def test_public_pkce_client(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory(client_secret=None)
    manager = authorized(sandbox, tmp_path / "token.json")
    assert manager.refresh(force=True).access_token


def test_wrong_client_secret_is_invalid_client(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    store = FileTokenStore(path)
    manager = TokenManager(
        store, endpoint_for(sandbox, wrong_secret=True), FileLock(store.lock_path)
    )
    with pytest.raises(InvalidClient) as info:
        manager.refresh(force=True)
    assert "wrong" not in str(info.value)


def test_expired_access_token_at_the_api_refreshes_once(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("--access-ttl", "600")
    manager = authorized(sandbox, tmp_path / "token.json")
    with httpx.Client(base_url=sandbox.url, auth=BearerAuth(manager), timeout=5) as api:
        assert api.get("/connections").status_code == 200
        sandbox.advance_clock(700)  # the server says expired; our clock does not know yet
        assert api.get("/connections").status_code == 200
    assert grants(sandbox)["refresh_token"] == 1


def test_lost_refresh_answer_recovers_in_grace(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory()
    path = tmp_path / "token.json"
    manager = authorized(sandbox, path)
    before = FileTokenStore(path).load()
    sandbox.post(
        "/_sandbox/faults",
        {"fault": "lost_response", "match": {"path": "/connect/token", "method": "POST"}},
    )
    tokens = manager.refresh(force=True)
    assert tokens.refresh_token != before.refresh_token  # type: ignore[union-attr]
    assert FileTokenStore(path).load() == tokens
    assert grants(sandbox) == {"refresh_token": 2, "invalid_grant": 0, "grace_reuses": 1}


def test_lost_refresh_answer_in_strict_mode_needs_authorization(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("--strict")
    path = tmp_path / "token.json"
    manager = authorized(sandbox, path)
    before = FileTokenStore(path).load()
    sandbox.post(
        "/_sandbox/faults",
        {"fault": "lost_response", "match": {"path": "/connect/token", "method": "POST"}},
    )
    with pytest.raises(AuthorizationRequired, match="grace period is over"):
        manager.refresh(force=True)
    assert FileTokenStore(path).load() == before


@pytest.mark.parametrize("fault", ["truncated", "non_json"])
def test_garbled_refresh_answer_is_treated_as_lost(
    sandbox_factory: SandboxFactory, tmp_path: Path, fault: str
) -> None:
    sandbox = sandbox_factory()
    manager = authorized(sandbox, tmp_path / "token.json")
    sandbox.post(
        "/_sandbox/faults", {"fault": fault, "match": {"path": "/connect/token", "method": "POST"}}
    )
    tokens = manager.refresh(force=True)
    assert FileTokenStore(tmp_path / "token.json").load() == tokens
    assert grants(sandbox)["invalid_grant"] == 0


# -- several OS processes ------------------------------------------------------------------
def worker(sandbox: Any, store: Path, *extra: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "oauth_etl_tests.oauth.token_worker",
        "--url",
        sandbox.url,
        "--client-id",
        sandbox.client_id,
        "--store",
        str(store),
        *extra,
    ]
    if sandbox.client_secret:
        argv += ["--client-secret", sandbox.client_secret]
    return argv


def run_at_once(argvs: list[list[str]], tmp_path: Path) -> list[tuple[int, dict[str, Any]]]:
    """Start the processes, wait until all are ready, then release them together."""
    go = tmp_path / "go"
    procs = []
    for i, argv in enumerate(argvs):
        ready = tmp_path / f"ready-{i}"
        procs.append(
            (
                ready,
                subprocess.Popen(
                    [*argv, "--ready", str(ready), "--go", str(go)],
                    cwd=PROJECT_ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                ),
            )
        )
    deadline = time.monotonic() + 60
    while not all(ready.exists() for ready, _ in procs):
        assert time.monotonic() < deadline, "workers did not get ready"
        assert all(p.poll() is None for _, p in procs), [p.communicate() for _, p in procs]
        time.sleep(0.02)
    go.touch()
    results = []
    for _, proc in procs:
        out, err = proc.communicate(timeout=60)
        line = out.decode().strip().splitlines()[-1] if out.strip() else "{}"
        results.append((proc.returncode, orjson.loads(line) | {"stderr": err.decode()[-500:]}))
    return results


def test_eight_processes_one_refresh_strict(
    sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    sandbox = sandbox_factory("--strict")
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    expired = expire(path)
    results = run_at_once([worker(sandbox, path)] * 8, tmp_path)
    assert [code for code, _ in results] == [0] * 8, results
    assert len({r["access"] for _, r in results}) == 1  # all use the one refreshed token
    assert grants(sandbox) == {"refresh_token": 1, "invalid_grant": 0, "grace_reuses": 0}
    stored = FileTokenStore(path).load()
    assert stored is not None and stored.refresh_token != expired.refresh_token


def test_eight_processes_one_refresh_on_shared_key_vault(
    sandbox_factory: SandboxFactory, tmp_path: Path, azurite: Azurite, container: ContainerClient
) -> None:
    """As in production: one Key Vault secret, locked by a blob lease on (real) Azurite."""
    sandbox = sandbox_factory("--strict")
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    vault_dir = tmp_path / "vault"
    fake = FakeKeyVaultTransport(state_dir=vault_dir)
    store = KeyVaultTokenStore(VAULT_URL, "xero-token", client=fake_secret_client(fake))
    store.save(expire(path))
    lease = f"{azurite.connection_string}/{container.container_name}"
    argv = worker(sandbox, tmp_path, "--keyvault-state", str(vault_dir), "--lease", lease)
    results = run_at_once([argv] * 8, tmp_path)
    assert [code for code, _ in results] == [0] * 8, results
    assert grants(sandbox) == {"refresh_token": 1, "invalid_grant": 0, "grace_reuses": 0}
    assert fake.versions("xero-token") == 2  # the seed and exactly one rotation
    assert container.get_blob_client("_locks/xero-token.lock").exists()  # the lease was used


def test_killed_between_answer_and_save(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    sandbox = sandbox_factory("--grace", "120")
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    # 1. killed after the server rotated, before the save: the store keeps the old set
    seeded = expire(path)
    killed = subprocess.run(
        worker(sandbox, path, "--kill-after-refresh"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    assert FileTokenStore(path).load() == seeded
    # 2. the next process recovers with the old refresh token while the grace lasts
    done = subprocess.run(worker(sandbox, path), cwd=PROJECT_ROOT, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    recovered = FileTokenStore(path).load()
    assert recovered is not None and recovered.refresh_token != seeded.refresh_token
    assert grants(sandbox) == {"refresh_token": 2, "invalid_grant": 0, "grace_reuses": 1}
    # 3. killed again; this time the grace runs out before anyone retries
    expired = expire(path)
    before = path.read_bytes()
    killed = subprocess.run(
        worker(sandbox, path, "--kill-after-refresh"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL
    sandbox.advance_clock(121)
    failed = subprocess.run(
        worker(sandbox, path), cwd=PROJECT_ROOT, capture_output=True, timeout=60
    )
    assert failed.returncode == 2
    result = orjson.loads(failed.stdout.decode().strip().splitlines()[-1])
    assert result["error"] == "AuthorizationRequired"
    assert "oauth-etl authorize" in result["message"]
    assert str(expired.refresh_token) not in result["message"]
    assert path.read_bytes() == before  # the store is unchanged
    assert grants(sandbox)["invalid_grant"] == 1
    assert os.stat(path).st_mode & 0o077 == 0


def test_unattended_authorize_against_a_strict_new_app(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """A new app (granular scopes, the documented redirect URI) accepts the defaults and
    refuses journals and an unregistered redirect URI with advice, storing nothing."""
    from oauth_etl.oauth.errors import AuthorizationFailed
    from oauth_etl.xero.scopes import scopes_for

    sandbox = sandbox_factory("--scopes", "new-app", "--redirect-uri", DEFAULT_REDIRECT_URI)
    manager = manager_for(sandbox, tmp_path / "token.json")

    def run(**kwargs: Any) -> Any:
        return authorize(
            manager,
            login_url=sandbox.url,
            client_id=sandbox.client_id,
            mode="unattended",
            output=lambda _s: None,
            **kwargs,
        )

    with pytest.raises(AuthorizationFailed, match="--with-journals"):
        run(scopes=scopes_for(with_journals=True).scopes)
    with pytest.raises(
        AuthorizationFailed, match=re.escape("register http://127.0.0.1:8765/callback")
    ):
        run(scopes=scopes_for().scopes, redirect_uri="http://127.0.0.1:8765/callback")
    assert manager.current() is None
    tokens = run(scopes=scopes_for().scopes)
    assert set(tokens.scope.split()) == set(scopes_for().scopes)
    assert manager.current() == tokens

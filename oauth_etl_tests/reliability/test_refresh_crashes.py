"""SIGKILL at each step of the refresh protocol, then recovery without a person.

For every step: the killed process leaves a store that loads (never corrupt, still
0600); the next process recovers on its own while the sandbox's grace lasts. Then the
same crash again, with the sandbox clock moved past the grace: where the rotated
token really was lost, the next process fails with the `oauth-etl authorize` message
and leaves the store byte-identical; where it was not, the chain still works.

A process killed while holding the blob lease (Key Vault store) blocks the next one
until the lease expires: the next holder gets the lock after lease_seconds, not before.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.oauth.fake_keyvault import VAULT_URL, FakeKeyVaultTransport, fake_secret_client
from oauth_etl_tests.oauth.test_sandbox_integration import (
    PROJECT_ROOT,
    authorized,
    expire,
    grants,
    manager_for,
    worker,
)
from oauth_etl_tests.reliability.faults_log import record

GRACE = 120  # the sandbox's --grace, seconds
LEASE_SECONDS = 15  # Azure's shortest finite lease


@dataclass(frozen=True)
class Step:
    name: str
    rotates: bool  # the server rotated the refresh token before the process died
    loses_chain: bool  # the rotated token never reached the store


STEPS = [
    Step("before-call", rotates=False, loses_chain=False),
    Step("after-answer", rotates=True, loses_chain=True),
    # The rotated set is whole in the fsynced temp file: the next holder of the lock
    # adopts it, with or without the grace.
    Step("mid-save", rotates=True, loses_chain=False),
    Step("after-save", rotates=True, loses_chain=False),
]


def crash_argv(sandbox: Any, step: str, *extra: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "oauth_etl_tests.reliability.token_crash_worker",
        "--url",
        sandbox.url,
        "--client-id",
        sandbox.client_id,
        "--kill-at",
        step,
        *extra,
    ]
    if sandbox.client_secret:
        argv += ["--client-secret", sandbox.client_secret]
    return argv


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, list[dict[str, Any]]]:
    done = subprocess.run(
        argv, cwd=PROJECT_ROOT, capture_output=True, timeout=90, env=env, check=False
    )
    lines = [orjson.loads(line) for line in done.stdout.decode().splitlines() if line.strip()]
    if done.returncode not in (0, -signal.SIGKILL) and not lines:
        raise AssertionError(done.stderr.decode()[-2000:])
    return done.returncode, lines


def temp_files(directory: Path) -> set[Path]:
    return set(directory.glob(".token.json.*.tmp"))


def chains_live(sandbox: Any) -> int:
    stats: dict[str, Any] = sandbox.stats()
    return int(stats["chains"]["live"])


def assert_private(path: Path) -> None:
    assert os.stat(path).st_mode & 0o077 == 0, oct(os.stat(path).st_mode)


@pytest.mark.parametrize("step", STEPS, ids=[s.name for s in STEPS])
def test_sigkill_at_each_refresh_step(
    sandbox_factory: SandboxFactory, tmp_path: Path, step: Step
) -> None:
    sandbox = sandbox_factory("--grace", str(GRACE))
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    store = FileTokenStore(path)

    # -- round 1: killed, then the next process recovers within the grace -------------
    seeded = expire(path)
    before = path.read_bytes()
    temps = temp_files(tmp_path)
    code, _ = run(crash_argv(sandbox, step.name, "--store", str(path)))
    assert code == -signal.SIGKILL
    left = store.load()  # loads: never corrupt
    assert left is not None
    assert_private(path)
    if step.name == "after-save":
        assert left.refresh_token != seeded.refresh_token and left.access_valid(time.time())
    else:
        assert path.read_bytes() == before
    new_temps = temp_files(tmp_path) - temps
    rotated = None
    if step.name == "mid-save":
        # The rotated set was written whole to the temp file; the store never saw it.
        (temp,) = new_temps
        assert_private(temp)
        rotated = TokenSet.from_json(temp.read_bytes())
        assert rotated.refresh_token not in (None, seeded.refresh_token)
    else:
        assert not new_temps
    assert grants(sandbox) == {
        "refresh_token": int(step.rotates),
        "invalid_grant": 0,
        "grace_reuses": 0,
    }

    recovered = subprocess.run(
        worker(sandbox, path), cwd=PROJECT_ROOT, capture_output=True, timeout=90
    )
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    now = store.load()
    assert now is not None and now.refresh_token != seeded.refresh_token
    assert now.access_valid(time.time())
    # Lost answer: one grace re-send. Not sent: one normal refresh. Saved: nothing to do.
    expected_refreshes = 2 if step.loses_chain else 1
    assert grants(sandbox) == {
        "refresh_token": expected_refreshes,
        "invalid_grant": 0,
        "grace_reuses": int(step.loses_chain),
    }
    assert chains_live(sandbox) == 1
    if rotated is not None:  # adopted from the interrupted save, not refreshed again
        assert now.refresh_token == rotated.refresh_token
        assert not temp_files(tmp_path) - temps

    # -- round 2: killed again, and nobody retries until the grace is over -----------
    seeded = expire(path)
    before = path.read_bytes()
    temps = temp_files(tmp_path)
    code, _ = run(crash_argv(sandbox, step.name, "--store", str(path)))
    assert code == -signal.SIGKILL
    sandbox.advance_clock(GRACE + 1)
    after = subprocess.run(worker(sandbox, path), cwd=PROJECT_ROOT, capture_output=True, timeout=90)
    if step.loses_chain:
        assert after.returncode == 2, after.stdout + after.stderr
        result = orjson.loads(after.stdout.decode().strip().splitlines()[-1])
        assert result["error"] == "AuthorizationRequired"
        assert "oauth-etl authorize" in result["message"]
        assert str(seeded.refresh_token) not in result["message"]
        assert path.read_bytes() == before  # intact, byte for byte
        assert grants(sandbox)["invalid_grant"] == 1
        outcome = (
            "next process recovered by a grace re-send; after the grace: "
            "AuthorizationRequired (`oauth-etl authorize`), store byte-identical"
        )
        lost = "the rotated refresh token (only within the grace is it recovered)"
        if step.name == "mid-save":
            # The whole rotated set sits in the 0600 temp file: a person can restore it.
            (temp,) = temp_files(tmp_path) - temps
            manager = manager_for(sandbox, path)
            manager.restore(temp)
            assert manager.refresh(force=True).access_token
            lost += "; a person can restore it from the 0600 temp file the save left"
    else:
        assert after.returncode == 0, after.stdout + after.stderr
        # The chain survived the grace: a forced refresh with the stored token works.
        stored = store.load()
        assert stored is not None
        fresh = manager_for(sandbox, path).refresh(force=True)
        assert fresh.refresh_token != stored.refresh_token
        assert grants(sandbox)["invalid_grant"] == 0
        outcome = (
            "next process adopted the interrupted save (fsynced temp file) under the lock"
            if step.name == "mid-save"
            else "next process recovered; chain still valid after the grace"
        )
        lost = "nothing"
    assert_private(path)
    assert store.load() is not None
    record(
        f"SIGKILL during refresh: {step.name} (file store + FileLock)",
        trials=2,
        outcome=outcome,
        lost=lost,
    )


def test_sigkill_while_holding_the_blob_lease(
    sandbox_factory: SandboxFactory, tmp_path: Path, azurite: Azurite, container: ContainerClient
) -> None:
    sandbox = sandbox_factory("--grace", str(GRACE))
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    vault_dir = tmp_path / "vault"
    fake = FakeKeyVaultTransport(state_dir=vault_dir)
    vault = KeyVaultTokenStore(VAULT_URL, "xero-token", client=fake_secret_client(fake))
    env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
    kv_args = ("--keyvault-state", str(vault_dir), "--lease-container", container.container_name)
    waits: list[float] = []

    def seed_expired() -> tuple[str | None, int]:
        current = vault.load() or FileTokenStore(path).load()
        assert current is not None
        vault.save(replace(current, expires_at=time.time() - 60))
        return fake.value("xero-token"), fake.versions("xero-token")

    def killed_then_next(grace_over: bool) -> tuple[int, dict[str, Any]]:
        """Kill one holder after the answer, run the next; return its exit code and result."""
        code, lines = run(crash_argv(sandbox, "after-answer", *kv_args), env)
        assert code == -signal.SIGKILL
        dead = next(line["acquired"] for line in lines if "acquired" in line)
        if grace_over:
            sandbox.advance_clock(GRACE + 1)
        code, lines = run(crash_argv(sandbox, "none", *kv_args), env)
        waiting = next(line["waiting"] for line in lines if "waiting" in line)
        acquired = next(line["acquired"] for line in lines if "acquired" in line)
        # Not before the dead holder's lease expired...
        assert acquired - dead >= LEASE_SECONDS - 0.5, acquired - dead
        # ...and soon after it did (or after this process started asking, if later).
        assert acquired - max(waiting, dead + LEASE_SECONDS) <= 2.0, (waiting, acquired, dead)
        waits.append(acquired - dead)
        return code, lines[-1]

    # -- round 1: the next process waits out the lease, then recovers in the grace ------
    value, versions = seed_expired()
    code, result = killed_then_next(grace_over=False)
    assert code == 0, result
    assert fake.versions("xero-token") == versions + 1  # exactly one new version
    assert fake.value("xero-token") != value
    assert grants(sandbox) == {"refresh_token": 2, "invalid_grant": 0, "grace_reuses": 1}
    assert chains_live(sandbox) == 1

    # -- round 2: the same, but the grace is over by the time the lease frees -----------
    value, versions = seed_expired()
    code, result = killed_then_next(grace_over=True)
    assert code == 2, result
    assert result["error"] == "AuthorizationRequired"
    assert "oauth-etl authorize" in result["message"]
    assert fake.value("xero-token") == value  # the vault secret is unchanged
    assert fake.versions("xero-token") == versions  # and no version was added
    assert grants(sandbox)["invalid_grant"] == 1

    record(
        f"SIGKILL while holding the blob lease ({LEASE_SECONDS} s), Key Vault store",
        trials=len(waits),
        outcome=(
            "next holder took the lease over after "
            + ", ".join(f"{w:.1f}" for w in waits)
            + " s (not before expiry); recovered within the grace; after the grace: "
            "AuthorizationRequired, secret unchanged"
        ),
        lost="the rotated refresh token once the grace is over; nothing within the grace",
    )

"""Operations: `oauth-etl webhooks serve` and `status` as processes over real HTTP and
Azurite's queue, and the doctor's webhook checks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from oauth_etl.doctor import run_checks
from oauth_etl.doctor.settings import check_settings
from oauth_etl.doctor.webhooks import webhook_steps
from oauth_etl_dev.local_services import (
    AzuriteQueue,
    free_port,
    spawn_service,
    wait_for_port,
)
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.webhooks.conftest import WEBHOOK_KEY


def environment(azurite_queue: AzuriteQueue, **extra: str) -> dict[str, str]:
    return {
        "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING": azurite_queue.connection_string,
        "OAUTH_ETL_WEBHOOK_QUEUE": f"ops-{uuid.uuid4().hex[:12]}",
        **extra,
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "oauth_etl.webhooks", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_serve_passes_intent_to_receive_and_status_counts_what_waits(
    azurite_queue: AzuriteQueue, sandbox_factory: SandboxFactory, tmp_path: Path
) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    port = free_port()
    argv = [sys.executable, "-m", "oauth_etl.webhooks", "serve", "--port", str(port)]
    log = tmp_path / "receiver.log"
    service = spawn_service(
        "receiver", argv, f"http://127.0.0.1:{port}", log, env={**os.environ, **env}
    )
    try:
        wait_for_port(port, 30, service.process)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        sandbox = sandbox_factory("--records", "5", "--no-limits")
        url = f"http://127.0.0.1:{port}/webhooks/xero"
        sandbox.post("/_sandbox/webhooks", {"url": url, "key": WEBHOOK_KEY})
        assert sandbox.post("/_sandbox/webhooks/intent", {}).json()["ok"]
        sandbox.post("/_sandbox/change", {"endpoint": "Invoices", "kind": "edit", "position": 0})
        assert sandbox.post("/_sandbox/webhooks/flush", {}).json()["target"]["deliveries"] == 1
    finally:
        service.stop()
    text = log.read_text()
    assert "kept: 1 event(s)" in text and WEBHOOK_KEY not in text
    status = cli(env, "status")
    assert status.returncode == 0, status.stderr
    assert "1 message(s) waiting, 0 event(s) set aside" in status.stdout


@pytest.mark.parametrize(
    ("unset", "says"),
    [
        ("XERO_WEBHOOK_KEY", "no webhook key"),
        ("OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING", "no webhook queue"),
    ],
)
def test_serve_without_its_settings_says_what_to_set(
    azurite_queue: AzuriteQueue, unset: str, says: str
) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    env[unset] = ""
    done = cli(env, "serve", "--port", str(free_port()))
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: {says}") and "Traceback" not in done.stderr


def test_doctor_checks_the_key_and_the_queue(azurite_queue: AzuriteQueue) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    missing = run_checks(webhook_steps(env))
    assert [(r.name, r.status) for r in missing] == [
        ("webhook key", "ok"),
        ("webhook queue", "fail"),
    ]
    assert "oauth-etl webhooks serve" in missing[1].fix
    from oauth_etl.webhooks.config import webhook_settings
    from oauth_etl.webhooks.queue import open_queue

    queue = open_queue(webhook_settings(env))
    queue.ensure()
    try:
        found = run_checks(webhook_steps(env))
        assert [(r.name, r.status) for r in found] == [
            ("webhook key", "ok"),
            ("webhook queue", "ok"),
        ]
        no_key = run_checks(webhook_steps({**env, "XERO_WEBHOOK_KEY": ""}))
        assert [(r.name, r.status) for r in no_key] == [
            ("webhook key", "fail"),
            ("webhook queue", "skip"),  # not run: it needs the key
        ]
        assert "XERO_WEBHOOK_KEY" in no_key[0].detail
        short = run_checks(webhook_steps({**env, "XERO_WEBHOOK_KEY": "short"}))
        assert short[0].status == "warn"
        assert all(WEBHOOK_KEY not in r.detail + r.fix for r in found + no_key)
    finally:
        queue.main.delete_queue()
        queue.unactionable.delete_queue()
        queue.close()
    assert [r.status for r in run_checks(webhook_steps({}))] == ["ok", "ok"]  # not configured


# Looks like a connection string with a key, but is not one: it must never be printed.
MALFORMED = "AccountKey=c2VjcmV0LWtleS1tYXJrZXI=;garbage"


@pytest.mark.parametrize("command", ["serve", "status"])
def test_a_malformed_connection_string_names_its_variable_and_the_fix(
    azurite_queue: AzuriteQueue, command: str
) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    env["OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING"] = MALFORMED
    argv = [command, "--port", str(free_port())] if command == "serve" else [command]
    done = cli(env, *argv)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(
        "error: OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING is not a connection string"
    )
    assert "AccountName=...;AccountKey=..." in done.stderr  # what to set
    assert MALFORMED not in done.stderr + done.stdout and "c2VjcmV0" not in done.stderr


def test_doctor_names_a_malformed_connection_string(azurite_queue: AzuriteQueue) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    env["OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING"] = MALFORMED
    # Reported once, by the settings check; the webhook checks are skipped.
    settings = check_settings(env)
    assert settings.status == "fail" and MALFORMED not in settings.detail + settings.fix
    assert "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING is not a connection string" in settings.detail
    assert [r.status for r in run_checks(webhook_steps(env))] == ["skip", "skip"]


def test_serve_on_a_port_in_use_says_which_and_how_to_change_it(
    azurite_queue: AzuriteQueue,
) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        done = cli(env, "serve", "--port", str(port))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "--port" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "listening on" not in done.stderr  # said only once it listens


def test_serve_on_an_unknown_host_says_so(azurite_queue: AzuriteQueue) -> None:
    env = environment(azurite_queue, XERO_WEBHOOK_KEY=WEBHOOK_KEY)
    done = cli(env, "serve", "--host", "no-such-host.invalid", "--port", str(free_port()))
    assert done.returncode == 1 and "listening on" not in done.stderr
    assert done.stderr.startswith("error: cannot listen on no-such-host.invalid:")
    assert "--host" in done.stderr

"""The sandbox takes its client secret from the environment or a file, so it stays out of
the process list; the flag still works, and giving it twice is refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from oauth_etl_dev.local_services import LOOPBACK, free_port, start_sandbox, wait_for_port


def _token_status(url: str, secret: str) -> int:
    """The token endpoint's answer to a client-credentials grant with `secret`."""
    response = httpx.post(
        f"{url}/connect/token",
        data={"grant_type": "client_credentials"},
        auth=("cid", secret),
        timeout=10,
    )
    return response.status_code


def test_started_with_the_secret_in_its_environment_not_its_command_line() -> None:
    sandbox = start_sandbox(client_id="cid", client_secret="sekret-from-env-123")
    try:
        cmdline = Path(f"/proc/{sandbox.service.process.pid}/cmdline").read_bytes()
        assert b"sekret-from-env-123" not in cmdline
        assert _token_status(sandbox.url, "wrong") == 401
        assert _token_status(sandbox.url, "sekret-from-env-123") != 401
    finally:
        sandbox.stop()


@pytest.mark.parametrize("twice", [False, True])
def test_secret_from_a_file(tmp_path: Path, twice: bool) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("sekret-from-file-456\n")
    port = free_port()
    argv = [sys.executable, "-m", "oauth_etl_dev.sandbox", "--host", LOOPBACK, "--port", str(port)]
    argv += ["--client-id", "cid", "--client-secret-file", str(secret_file)]
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_CLIENT_SECRET"}
    if twice:
        env["SANDBOX_CLIENT_SECRET"] = "other"
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        if twice:
            _, err = process.communicate(timeout=60)
            assert process.returncode == 2 and b"give the secret once" in err
            return
        wait_for_port(port, 60, process)
        url = f"http://{LOOPBACK}:{port}"
        assert _token_status(url, "sekret-from-file-456") != 401
        assert _token_status(url, "nope") == 401
    finally:
        process.kill()
        process.wait(10)

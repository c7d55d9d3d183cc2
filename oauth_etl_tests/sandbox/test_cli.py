"""The `sandbox` command's argument checks and the in-process server's start errors."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner

from oauth_etl_dev.sandbox import SandboxConfig, SandboxServer, SandboxStartError
from oauth_etl_dev.sandbox.cli import sandbox_command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scopes", "accounting.everything"], "unknown scopes"),
        (["--deny-endpoint", "Widgets"], "unknown endpoint"),
        (["--tenants", "0"], "--tenants"),
    ],
)
def test_bad_arguments_are_usage_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(sandbox_command, ["--client-id", "x", *args])
    assert result.exit_code == 2 and message in result.output


def test_client_id_is_required() -> None:
    result = CliRunner().invoke(sandbox_command, [])
    assert result.exit_code == 2 and "--client-id" in result.output


def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(SandboxStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            SandboxServer(SandboxConfig(client_id="x", port=port)).start()

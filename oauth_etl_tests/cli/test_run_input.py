"""`run`, `list`, `table` and `ui` refuse what they would otherwise accept silently (an
empty --select, --location without --submit, a tenant the table does not have, a taken
port), quote a 10,000-character value by its start only, never print Dagster's telemetry
banner, and every command that prints data takes --json."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from oauth_etl.cli import main
from oauth_etl_dev.local_services import free_port
from oauth_etl_tests.cli.conftest import cli, secrets_in
from oauth_etl_tests.cli.test_bad_input import leaves

LONG = "x" * 10_000
# Commands that act (connect, rotate, serve, start a local stack) rather than print data.
ACTIONS = {
    "authorize",
    "demo",
    "sandbox",
    "ui",
    "token ensure",
    "token import",
    "token refresh",
    "token restore",
    "token revoke",
    "webhooks serve",
}


def _refused(done: subprocess.CompletedProcess[str], *said: str) -> str:
    """One error line saying `said`, no traceback, no 10,000-character echo."""
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and " — " in line, line
    assert len(line) < 1000 and "x" * 250 not in line, line[:300]
    for text in said:
        assert text in line, line
    return line


@pytest.fixture
def offline(tmp_path: Path) -> dict[str, str]:
    """Enough for the commands to start; nothing to reach (a closed port)."""
    home = tmp_path / "home"
    home.mkdir()
    return {
        "XERO_CLIENT_ID": "cid",
        "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'token.json'}",
        "XERO_API_URL": "http://127.0.0.1:1",
        "DAGSTER_HOME": str(home),
    }


def test_empty_and_misplaced_options_are_refused(offline: dict[str, str]) -> None:
    env = offline
    for command in (("run",), ("list", "cursors")):
        line = _refused(cli(env, *command, "--select", ""), "--select names no endpoint")
        assert "`oauth-etl list endpoints`" in line and "leave --select out" in line
    _refused(cli(env, "run", "--select", " , "), "--select names no endpoint")
    _refused(
        cli(env, "run", "--select", "invoices", "--location", "foo"),
        "--location only applies with --submit",
        "add --submit URL",
    )
    _refused(cli(env, "run", "--submit", ""), "--submit is empty", "http://127.0.0.1:3000")
    _refused(
        cli(env, "run", "--submit", "http://127.0.0.1:1", "--tenant", "t", "--location", " "),
        "--location is empty",
    )


def test_ten_thousand_characters_are_quoted_by_their_start(offline: dict[str, str]) -> None:
    env = offline
    _refused(cli(env, "run", "--select", LONG), "no endpoint 'xxxx", "`oauth-etl list endpoints`")
    _refused(cli(env, "list", "cursors", "--select", LONG), "no endpoint 'xxxx")
    _refused(cli(env, "list", "cursors", "--tenant", LONG), "no tenant is known in DAGSTER_HOME")
    _refused(cli(env, "table", "show", LONG), "no table 'xxxx", "invoice_line_items")
    _refused(
        cli(env, "run", "--submit", LONG, "--tenant", "t"),
        "is not the webserver's URL",
    )
    # Without DAGSTER_HOME --submit queues the given tenants at once: the webserver is asked.
    away = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
    _refused(cli(away, "run", "--submit", "http://" + LONG, "--tenant", "t"), "--submit")
    _refused(
        cli(away, "run", "--submit", "http://127.0.0.1:1", "--tenant", "t", "--location", LONG),
        "http://127.0.0.1:1",
    )
    relative = {**env, "DAGSTER_HOME": "."}
    _refused(cli(relative, "run"), "DAGSTER_HOME is '.', not an absolute path")


def test_run_tenant_and_table_tenant_are_checked(
    authorized: dict[str, str], tmp_path: Path
) -> None:
    # A fresh Dagster home with no dagster.yaml: Dagster's default is telemetry on.
    fresh = tmp_path / "fresh-home"
    fresh.mkdir()
    env = {**authorized, "DAGSTER_HOME": str(fresh), "OAUTH_ETL_PREFIX": f"in-{uuid.uuid4().hex}/"}
    listed = json.loads(cli(env, "list", "tenants", "--json").stdout)["tenants"]
    one, other = (row["tenant_id"] for row in listed)
    _refused(cli(env, "run", "--select", "invoices", "--tenant", LONG), "is not known", one)
    _refused(cli(env, "run", "--tenant", ""), "tenant '' is not known to the token sets", one)

    done = cli(env, "run", "--select", "invoices", "--tenant", one)
    assert done.returncode == 0, done.stdout + done.stderr
    # No banner, and the home is not written a dagster.yaml for it.
    assert "Telemetry" not in done.stdout + done.stderr, done.stderr
    assert not (fresh / "dagster.yaml").exists()

    line = _refused(
        cli(env, "table", "show", "invoices", "--tenant", "nonsense"),
        "no tenant 'nonsense' in xero_tables/invoices",
        f"give one of the tenants it has: {one}",
    )
    assert other not in line  # never extracted: not in the table
    _refused(cli(env, "table", "show", "invoices", "--tenant", LONG), "no tenant 'xxxx")
    _refused(cli(env, "table", "show", "invoices", "--tenant", ""), "no tenant ''")

    shown = cli(env, "table", "show", "invoice_line_items", "--tenant", one, "--json")
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    assert set(payload) == {
        "table",
        "uri",
        "version",
        "tenant_id",
        "rows",
        "tenants",
        "columns",
        "history",
    }
    assert payload["table"] == "xero_tables/invoice_line_items" and payload["tenant_id"] == one
    assert payload["rows"] > 0 and payload["tenants"] == 1
    assert {"name": "tenant_id", "type": "string"} in payload["columns"]
    assert payload["history"][0]["version"] == payload["version"]
    for secret in secrets_in(env):
        assert secret not in done.stdout + done.stderr + shown.stdout + line


def test_every_command_that_prints_data_takes_json() -> None:
    found = {" ".join(path): command for path, command in leaves(main)}
    assert set(found) >= ACTIONS, ACTIONS - set(found)  # no stale exemption
    without = [
        name
        for name, command in found.items()
        if name not in ACTIONS and not any("--json" in p.opts for p in command.params)
    ]
    assert without == [], f"print data without --json: {without}"


def test_ui_on_a_taken_port_says_which_before_starting_anything() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = int(taken.getsockname()[1])
        done = cli(dict(os.environ), "ui", "--port", str(port), timeout=60)
    line = _refused(done, f"cannot listen on 127.0.0.1:{port}: ", "--port")
    assert "Dagster UI on" not in done.stdout and "sandbox" not in done.stdout, done.stdout
    assert line.endswith("choose another port with --port")


@pytest.mark.parametrize("serves", [False, True])
def test_ui_whose_dagster_dev_ends_by_itself_exits_1_saying_so(
    serves: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dagster dev` logs why its webserver died, then exits 0: `ui` must not report that
    as success. A stand-in child (listening a moment, or never) plays it, on a free port."""
    from oauth_etl_dev import ui

    port = free_port()
    stand_in = (
        f"import socket, time; s = socket.create_server(('127.0.0.1', {port})); time.sleep(1)"
        if serves
        else "print('dagster-webserver process shut down unexpectedly')"
    )
    real_popen = subprocess.Popen

    def popen(command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        assert command[1:4] == ["-m", "dagster", "dev"] and str(port) in command
        return real_popen([sys.executable, "-c", stand_in], **kwargs)

    @contextlib.contextmanager
    def stack(*_: object) -> Iterator[Any]:
        yield SimpleNamespace(environment={})

    monkeypatch.setattr(ui, "local_stack", stack)
    monkeypatch.setattr(ui, "LOCAL_HOME", tmp_path)
    monkeypatch.setattr(ui.subprocess, "Popen", popen)
    said: list[str] = []
    with pytest.raises(ui.UiStopped) as stopped:
        ui.run_ui(port=port, echo=said.append)
    if serves:
        assert said and said[-1].startswith(f"Dagster UI on http://127.0.0.1:{port}")
        assert "stopped by itself (exit status 0)" in stopped.value.message
    else:
        assert not said  # the address is said only once it answers
        assert f"did not serve on 127.0.0.1:{port}" in stopped.value.message
    assert stopped.value.exit_code == 1

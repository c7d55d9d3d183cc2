"""Every command of `oauth-etl` with bad input: no traceback, no unexpected failure, no
secret, at most a one-line error (or click's usage message).

The commands are found by walking the click tree (deferred commands loaded), so a command
added later is swept too. Each runs in this process (click's runner, fast) under two
environments: an empty one and one where every setting is garbage and the secrets are
canaries. Development commands (they start servers) get only input click itself refuses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from oauth_etl.cli import main
from oauth_etl.cli.base import Deferred
from oauth_etl_dev.local_services import AZURITE_KEY
from oauth_etl_tests import canary

DEVELOPMENT = ("sandbox", "demo", "ui")
BAD_TEXT = "no/such..thing"
# Far longer than any id, scope list, path or URL: each text option and argument gets it,
# and every setting in the `long` environment.
LONG = "x" * 10_000


def leaves(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    if isinstance(command, Deferred):
        command = command.load()
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from leaves(command.commands[name], (*path, name))
    else:
        yield path, command


COMMANDS = list(leaves(main))


def bad_values(param: click.Parameter, development: bool = False) -> list[str]:
    """Values the parameter should refuse; for a development command only those click
    itself refuses (a value it accepts would start the demo or a server)."""
    kind = param.type
    if isinstance(kind, click.types.IntParamType | click.types.FloatParamType):
        return ["not-a-number"] if development else ["not-a-number", "-1"]
    if isinstance(kind, click.Choice):
        return ["no-such-choice"]
    if isinstance(kind, click.Path):
        return ["/no/such/file", "/" + LONG]
    return [BAD_TEXT, "", LONG, f"https://{LONG}.invalid/{LONG}"]


def invocations(path: tuple[str, ...], command: click.Command) -> Iterator[list[str]]:
    development = path[0] in DEVELOPMENT
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    filled = [BAD_TEXT for _ in arguments]
    yield [*path, "--no-such-option"]
    if not development:
        yield [*path, *filled]
    for param in command.params:
        if not isinstance(param, click.Option) or param.is_flag or param.name == "help":
            continue
        for value in bad_values(param, development):
            text_like = isinstance(param.type, click.types.StringParamType)
            if development and text_like:
                continue  # a string they accept would start a server
            yield [*path, *filled, param.opts[0], value]
    for argument in arguments:
        for value in bad_values(argument):
            if not development:
                yield [*path, *[value if a is argument else BAD_TEXT for a in arguments]]


def environments(tmp_path: Path) -> dict[str, dict[str, str]]:
    home = str(tmp_path)
    return {
        "empty": {"HOME": home, "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / 'token.json'}"},
        "garbage": {
            "HOME": home,
            "XERO_CLIENT_ID": "cid",
            "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
            "XERO_LOGIN_URL": "not-a-url",
            "XERO_IDENTITY_URL": "not-a-url",
            "XERO_API_URL": "not-a-url",
            "OAUTH_ETL_TOKEN_STORE": "file:/proc/self/no-such-dir/token.json",
            "AZURE_STORAGE_CONNECTION_STRING": f"AccountName=x;AccountKey={AZURITE_KEY};Junk",
            "OAUTH_ETL_LEASE_SECONDS": "thirty",
            "OAUTH_ETL_CONNECTIONS": "Bad Name!",
            "DAGSTER_HOME": str(tmp_path / "no-such-home"),
        },
        # A directory where the token file should be (IsADirectoryError before).
        "directory": {
            "HOME": home,
            "XERO_CLIENT_ID": "cid",
            "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
            "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path}",
        },
        # Every setting far too long.
        "long": {
            "HOME": home,
            "XERO_CLIENT_ID": LONG,
            "XERO_CLIENT_SECRET": canary.CLIENT_SECRET,
            "XERO_LOGIN_URL": f"https://{LONG}.invalid",
            "XERO_IDENTITY_URL": f"https://{LONG}.invalid",
            "XERO_API_URL": f"https://{LONG}.invalid",
            "XERO_REDIRECT_URI": f"http://localhost:8765/{LONG}",
            "XERO_SCOPES": LONG,
            "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path / LONG[:200] / LONG}",
            "OAUTH_ETL_RESCUE_LOCATION": f"file:{LONG}",
            "OAUTH_ETL_CONNECTIONS": LONG,
            "OAUTH_ETL_CONTAINER": LONG,
            "DAGSTER_HOME": str(tmp_path / LONG),
        },
    }


def ids(item: tuple[tuple[str, ...], click.Command]) -> str:
    return " ".join(item[0])


@pytest.mark.parametrize("item", COMMANDS, ids=[ids(c) for c in COMMANDS])
def test_every_command_with_bad_input_fails_cleanly(
    item: tuple[tuple[str, ...], click.Command], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, command = item
    for name in list(os.environ):
        if name.startswith(("XERO_", "OAUTH_ETL_", "AZURE_", "DAGSTER_")):
            monkeypatch.delenv(name)
    runner = CliRunner()
    swept = 0
    for env_name, env in environments(tmp_path).items():
        for args in invocations(path, command):
            result = runner.invoke(main, args, env=env, input="")
            said = f"{env_name}: oauth-etl {' '.join(args)}\n{result.stdout}{result.stderr}"
            swept += 1
            assert result.exit_code in (0, 1, 2), said
            assert isinstance(result.exception, SystemExit | None), said
            assert "Traceback" not in said and "failed unexpectedly" not in said, said
            assert canary.found_in([said]) == [] and AZURITE_KEY not in said, said
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            assert len(errors) <= 1, said  # one line, said once
    assert swept >= 2


def test_the_sweep_reaches_every_command() -> None:
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"authorize", "doctor", "run", "table show", "token status", "list cursors"} <= names
    assert {"sandbox", "demo", "ui"} <= names


def test_the_readme_lists_every_command_once() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `oauth-etl ")]
    for path, _ in COMMANDS:
        name = "oauth-etl " + " ".join(path)
        found = [row for row in rows if row.startswith((f"| `{name}` |", f"| `{name} "))]
        assert len(found) == 1, f"{name}: {len(found)} rows in the README's command table"
    assert len(rows) == len(COMMANDS)

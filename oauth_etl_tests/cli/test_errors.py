"""The one error handler: a user error is `error: <what> — <fix>` on stderr and exit 1; an
unexpected one says so without quoting it (it may hold a secret); `--debug` or
OAUTH_ETL_DEBUG=1 adds the traceback."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from oauth_etl.cli import main
from oauth_etl.cli.base import Group, fail


@click.group(cls=Group)
@click.option("--debug", is_flag=True)
def app(debug: bool) -> None:
    """A root group like `oauth-etl`'s."""


@app.command("mine")
def mine() -> None:
    fail("the thing is wrong", "set THING to something right")


@app.command("bug")
def bug() -> None:
    raise RuntimeError("leaked https://x?sig=s3cr3t")


def test_a_user_error_is_one_line_with_its_fix() -> None:
    result = CliRunner().invoke(app, ["mine"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "error: the thing is wrong — set THING to something right\n"


def test_an_unexpected_error_is_not_quoted_and_points_at_debug() -> None:
    result = CliRunner().invoke(app, ["bug"], env={"OAUTH_ETL_DEBUG": ""})
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: `app bug` failed unexpectedly") and "--debug" in line
    assert "s3cr3t" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["flag", "variable"])
def test_debug_shows_the_traceback(how: str) -> None:
    args, env = (["--debug", "bug"], {}) if how == "flag" else (["bug"], {"OAUTH_ETL_DEBUG": "1"})
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "RuntimeError" in result.stderr


def test_the_real_command_line_too(tmp_path: object) -> None:
    env = {"XERO_CLIENT_ID": "", "OAUTH_ETL_TOKEN_STORE": f"file:{tmp_path}/t.json"}
    plain = CliRunner().invoke(main, ["token", "ensure"], env=env)
    assert plain.exit_code == 1 and plain.stderr.startswith("error: the Xero client id")
    assert "XERO_CLIENT_ID" in plain.stderr and "Traceback" not in plain.stderr
    debug = CliRunner().invoke(main, ["--debug", "token", "ensure"], env=env)
    assert "Traceback" in debug.stderr and debug.stderr.rstrip().endswith(
        plain.stderr.rstrip().splitlines()[-1]
    )

"""What every command of `oauth-etl` shares: the one error handler, the connection, the
options, JSON output and the deferred registration.

Errors: a command raises (or lets through) a user error: our configuration, OAuth, Xero
and storage errors, or `UserError(what, fix)`; the root group prints it as one line on
stderr, `error: <what> — <fix>`, and exits 1. Anything else is a bug: one line saying so,
the traceback only with `--debug` or OAUTH_ETL_DEBUG=1 (it may quote a server's text).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn

import click
import orjson

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

    from oauth_etl.app.connection import XeroApi, XeroConnection
    from oauth_etl.oauth.manager import TokenManager

DEBUG_VAR = "OAUTH_ETL_DEBUG"
DEV_INSTALL = (
    "is a development tool: it comes with the development install "
    "(`uv sync` in a clone of the repository), not with the oauth-etl package"
)


class UserError(Exception):
    """Something the person at the keyboard can fix: what is wrong, and how to fix it."""

    def __init__(self, what: str, fix: str = "") -> None:
        super().__init__(f"{what} — {fix}" if fix else what)
        self.what = what
        self.fix = fix


def fail(what: str, fix: str = "") -> NoReturn:
    raise UserError(what, fix)


def user_errors() -> tuple[type[Exception], ...]:
    """Errors whose message is ours: it says what happened and what to do, no secret."""
    from oauth_etl.app.contract import ConfigError
    from oauth_etl.oauth.errors import OAuthError
    from oauth_etl.storage.errors import StorageError
    from oauth_etl.xero.errors import XeroError

    # ValueError: a malformed setting (e.g. a token store URI) names itself.
    return (UserError, ConfigError, OAuthError, XeroError, StorageError, ValueError)


def debugging(ctx: click.Context | None = None) -> bool:
    root = ctx.find_root() if ctx is not None else None
    flag = bool(root and root.params.get("debug"))
    return flag or os.environ.get(DEBUG_VAR, "").strip().lower() in ("1", "true", "yes")


def report(exc: BaseException, ctx: click.Context | None) -> NoReturn:
    """The one way a command ends on an error (exit status 1)."""
    if debugging(ctx):
        traceback.print_exception(exc, file=sys.stderr)
    if isinstance(exc, user_errors()):
        click.echo(f"error: {exc}", err=True)
    else:
        command = "oauth-etl"
        if ctx is not None:
            command = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
        click.echo(
            f"error: `{command}` failed unexpectedly — run it again with --debug (or "
            f"{DEBUG_VAR}=1) for the traceback, and report it",
            err=True,
        )
    sys.exit(1)


class Deferred(click.Command):
    """A command listed by `--help` without importing it; loaded when it runs."""

    def __init__(self, name: str, target: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help, help=short_help)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        try:
            command = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:
            if exc.name and exc.name.startswith("oauth_etl."):
                raise
            fail(f"`oauth-etl {self.name}` {DEV_INSTALL}", f"{exc.name} is not installed")
        assert isinstance(command, click.Command)
        return command


class Group(click.Group):
    """Subcommands registered as text (`register`), and the one error handler."""

    def register(self, name: str, target: str, short_help: str) -> None:
        """One line per command or group: `module:attribute`, imported when it runs."""
        self.add_command(Deferred(name, target, short_help))

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, Deferred):
            command = command.load()
        return name, command, rest

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise  # click's own: usage errors, --help, Ctrl-C
        except Exception as exc:
            report(exc, ctx)


def quick_vault(url: str) -> SecretClient:
    """A person waits on a command: one retry and 10 s per request, not a run's patience
    (4 retries, 30 s), so an unreachable vault is reported in seconds."""
    from oauth_etl.oauth.stores import make_secret_client

    return make_secret_client(url, retry_total=1, retry_backoff_factor=0.5, timeout=10.0)


@contextlib.contextmanager
def connected(token_set: str | None = None) -> Iterator[tuple[XeroConnection, XeroApi]]:
    """The connection and API of the environment contract (of `token_set`, else the
    default set's); closed on exit. A named set's OAuth error names the set."""
    from oauth_etl.app.connection import open_from_environment
    from oauth_etl.oauth.errors import OAuthError

    try:
        with open_from_environment(token_set=token_set, secret_client=quick_vault) as pair:
            yield pair
    except OAuthError as exc:
        if not token_set:
            raise
        from oauth_etl.app.token_sets import set_error

        raise UserError(set_error(token_set, exc)) from exc


@contextlib.contextmanager
def token_manager(token_set: str | None = None) -> Iterator[TokenManager]:
    with connected(token_set) as (connection, _):
        yield connection.token_manager()


CONNECTION_HELP = (
    "The token set NAME, listed in OAUTH_ETL_CONNECTIONS (one per Xero user who connected "
    "organisations); default: the set at OAUTH_ETL_TOKEN_STORE."
)


def connection_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option(
        "--connection", "token_set", default=None, metavar="NAME", help=CONNECTION_HELP
    )(command)


def json_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")(
        command
    )


def echo_json(payload: Any) -> None:
    click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())


def table(rows: list[tuple[str, ...]]) -> None:
    """Aligned columns, the first row the header."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )

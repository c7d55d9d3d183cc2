"""`oauth-etl`: authorize, look after the token set; in a development install also the
sandbox, the demo and the UI.

Every command resolves the environment contract (`oauth_etl.app.contract`) into the same
`XeroConnection` the Dagster resources open (`oauth_etl.app.connection`), so the command line
and a Dagster run share one token store and one lock. Start-up stays short: `--help` and
the token commands import neither Dagster nor an Azure SDK (an Azure SDK only when a Key
Vault store is configured), and heavier commands are imported when they run.

Adding a command: decorate a function with `@main.command(...)` (or `@token_group`), open
the connection with `with connected() as (connection, api):`, print with `click.echo`.
Errors the user can act on (configuration, OAuth, Xero, storage) become `error: ...`
and exit status 1 there.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, NoReturn

import click

# httpx imports its own command line (rich, pygments, click: ~0.3 s) when those are
# installed, and Dagster installs them. We never call it: without `httpx._main`, httpx
# defines a stub in its place (its `except ImportError` branch).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

if TYPE_CHECKING:
    from oauth_etl.app.connection import XeroApi, XeroConnection
    from oauth_etl.oauth.manager import TokenManager

DEFAULT_SCOPES_HELP = (
    "offline_access + the granular read scopes any new app gets, for every endpoint it can "
    "read; Journals and classic expenses only with their --with-* flag"
)
DEV_INSTALL = (
    "is a development tool: it comes with the development install "
    "(`uv sync` in a clone of the repository), not with the oauth-etl package"
)


def fail(exc: BaseException | str) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


def _user_errors() -> tuple[type[Exception], ...]:
    from oauth_etl.app.contract import ConfigError
    from oauth_etl.oauth.errors import OAuthError
    from oauth_etl.storage.errors import StorageError
    from oauth_etl.xero.errors import XeroError

    # ValueError: a malformed setting (e.g. a token store URI) names itself.
    return (ConfigError, OAuthError, XeroError, StorageError, ValueError)


@contextlib.contextmanager
def connected(token_set: str | None = None) -> Iterator[tuple[XeroConnection, XeroApi]]:
    """The connection and API of the environment contract (of `token_set`, else the
    default set's); closed on exit. A configuration, OAuth, Xero or storage error ends the
    command with `error: ...` and status 1."""
    from oauth_etl.app.connection import open_from_environment
    from oauth_etl.oauth.errors import OAuthError

    errors = _user_errors()
    try:
        with open_from_environment(token_set=token_set) as pair:
            yield pair
    except errors as exc:
        if token_set and isinstance(exc, OAuthError):
            from oauth_etl.app.token_sets import set_error

            fail(set_error(token_set, exc))  # names the set and its own authorize command
        fail(exc)


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


class _Deferred(click.Command):
    """A command listed by `--help` without importing it; loaded when it runs."""

    def __init__(self, name: str, target: str, short_help: str) -> None:
        super().__init__(name, short_help=short_help, help=short_help)
        self.target = target

    def load(self) -> click.Command:
        module, _, attribute = self.target.partition(":")
        try:
            command = getattr(importlib.import_module(module), attribute)
        except ImportError as exc:
            fail(f"`oauth-etl {self.name}` {DEV_INSTALL} ({exc.name} is not installed)")
        assert isinstance(command, click.Command)
        return command


class _Group(click.Group):
    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if isinstance(command, _Deferred):
            command = command.load()
        return name, command, rest


@click.group(cls=_Group)
def main() -> None:
    """Keep a Xero OAuth 2.0 connection alive and land its data in Azure Blob Storage."""


for _name, _target, _help in (
    ("sandbox", "oauth_etl_dev.sandbox.cli:sandbox_command", "A local Xero (development)."),
    ("demo", "oauth_etl_dev.demo:demo_command", "The whole job on local defaults (development)."),
    ("ui", "oauth_etl_dev.demo:ui_command", "`dagster dev` on local defaults (development)."),
):
    main.add_command(_Deferred(_name, _target, _help))


# Kept as text so that `--help` imports nothing: test_cli checks it against the code.
DEFAULT_REDIRECT_URI_HELP = "http://localhost:8765/callback"
JOURNALS_HELP = (
    "Also ask for accounting.journals.read (Journals): only if the app has it (Xero's "
    "Advanced tier; apps created from March 2026 do not), or the whole consent fails."
)
CLASSIC_EXPENSES_HELP = (
    "Also ask for accounting.classicexpenses.read (ExpenseClaims, Receipts): only if the "
    "app has it (apps created from March 2026 do not), or the whole consent fails."
)


@main.command("authorize")
@click.option("--scopes", default=None, help=f"Space separated (default: {DEFAULT_SCOPES_HELP}).")
@click.option(
    "--redirect-uri",
    default=None,
    help="The redirect URI registered on the Xero app, exactly (default: XERO_REDIRECT_URI, "
    f"else {DEFAULT_REDIRECT_URI_HELP}). The callback listens on its port on 127.0.0.1.",
)
@click.option("--with-journals", is_flag=True, help=JOURNALS_HELP)
@click.option("--with-classic-expenses", is_flag=True, help=CLASSIC_EXPENSES_HELP)
@click.option(
    "--port",
    type=int,
    default=0,
    help="Use http://localhost:PORT/callback (registered on the app) instead of the default "
    "redirect URI; ignored with --redirect-uri or XERO_REDIRECT_URI.",
)
@click.option("--no-browser", is_flag=True, help="Print the URL; paste the redirect URL back here.")
@click.option(
    "--unattended",
    is_flag=True,
    help="Follow the authorize redirect without a person (the sandbox approves at once).",
)
@connection_option
def authorize_command(
    token_set: str | None,
    scopes: str | None,
    redirect_uri: str | None,
    with_journals: bool,
    with_classic_expenses: bool,
    port: int,
    no_browser: bool,
    unattended: bool,
) -> None:
    """Authorization code flow with PKCE: stores the first token set, lists the tenants.

    Log in to Xero as the user who connected the organisations; with --connection NAME
    the token set is stored as NAME's (a second Xero user's organisations)."""
    from oauth_etl.oauth.authorize import Mode
    from oauth_etl.xero.scopes import CLASSIC_EXPENSES_SCOPE, JOURNALS_SCOPE, scopes_for

    mode: Mode = "unattended" if unattended else "paste" if no_browser else "browser"
    if scopes:
        opted = [JOURNALS_SCOPE] * with_journals + [CLASSIC_EXPENSES_SCOPE] * with_classic_expenses
        requested = [*scopes.split(), *(s for s in opted if s not in scopes.split())]
    else:
        plan = scopes_for(with_journals=with_journals, with_classic_expenses=with_classic_expenses)
        requested = list(plan.scopes)
        if plan.left_out:
            click.echo(
                f"not asked for (opt-in): {', '.join(sorted(plan.left_out))}; see "
                "--with-journals and --with-classic-expenses"
            )
    with connected(token_set) as (connection, api):
        tokens = connection.authorize(
            mode=mode, scopes=requested, redirect_uri=redirect_uri, port=port, output=click.echo
        )
        store = connection.token_manager().store.describe()
        named = f" (token set {token_set!r})" if token_set else ""
        click.echo(f"authorized{named}: {tokens!r} saved to {store}")
        for tenant in api.connections_of(connection.name):
            click.echo(f"tenant {tenant.tenant_id}  {tenant.tenant_type:<12} {tenant.tenant_name}")


@main.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for automation).")
@click.option("--with-journals", is_flag=True, help="Check the scope Journals needs too.")
@click.option(
    "--with-classic-expenses",
    is_flag=True,
    help="Check the scope ExpenseClaims and Receipts need too.",
)
def doctor_command(as_json: bool, with_journals: bool, with_classic_expenses: bool) -> None:
    """Check every link from the settings to a landed blob; no secret is printed.

    One line per check (✔ ok, ! warning, ✘ failed with its fix); exit status 0 only when
    nothing failed.
    """
    from oauth_etl.doctor import exit_code, render_json, render_text
    from oauth_etl.doctor.run import check_environment

    results = check_environment(
        with_journals=with_journals, with_classic_expenses=with_classic_expenses
    )
    click.echo(render_json(results) if as_json else render_text(results))
    sys.exit(exit_code(results))


@main.group("token")
def token_group() -> None:
    """Inspect and look after the stored token set (never prints a token)."""


@token_group.command("status")
@connection_option
def token_status(token_set: str | None) -> None:
    """Store, access-token expiry, refresh-token age and days left (of every token set,
    unless --connection names one)."""
    with connected(token_set) as (connection, _):
        names = (connection.name,) if token_set else connection.set_names()
        statuses = [(name, connection.for_set(name).token_manager().status()) for name in names]
    for name, status in statuses:
        if len(statuses) > 1:
            click.echo(f"token set {name}:")
        for line in status.lines():
            click.echo(("  " if len(statuses) > 1 else "") + line)
    if not all(status.present for _, status in statuses):
        sys.exit(1)


@token_group.command("ensure")
@connection_option
def token_ensure(token_set: str | None) -> None:
    """Make sure a valid access token exists, refreshing only if needed."""
    with token_manager(token_set) as manager:
        manager.access_token()
    click.echo("access token valid")


@token_group.command("refresh")
@connection_option
def token_refresh(token_set: str | None) -> None:
    """Refresh now (rotates the refresh token)."""
    with token_manager(token_set) as manager:
        tokens = manager.refresh(force=True)
    click.echo(f"refreshed: {tokens!r}")


@token_group.command("revoke")
@connection_option
@click.confirmation_option(prompt="Revoke the refresh token? A person must authorize again.")
def token_revoke(token_set: str | None) -> None:
    """Revoke the refresh token at Xero and forget the token set."""
    with token_manager(token_set) as manager:
        manager.revoke()
    again = "oauth-etl authorize" + (f" --connection {token_set}" if token_set else "")
    click.echo(f"revoked: run `{again}` to connect again")


@token_group.command("import")
@connection_option
def token_import(token_set: str | None) -> None:
    """Read a refresh token from standard input (moving from another tool) and store it."""
    refresh_token = sys.stdin.readline().strip()
    if not refresh_token:
        fail("no refresh token on standard input")
    with token_manager(token_set) as manager:
        manager.import_refresh_token(refresh_token)
    click.echo("imported: the first `token ensure` will refresh it")


@token_group.command("restore")
@click.argument("rescue_location")
@connection_option
def token_restore(rescue_location: str, token_set: str | None) -> None:
    """Put a rescued token set back into the store: RESCUE_LOCATION is the file path or
    blob URL a failed save named (with --connection NAME, into NAME's store)."""
    with token_manager(token_set) as manager:
        manager.restore(rescue_location)
    click.echo(f"restored from {rescue_location}; you may delete it now")


@main.group("table")
def table_group() -> None:
    """The Delta tables merged from the landed batches (read-only)."""


@table_group.command("show")
@click.argument("name")
@click.option("--tenant", default=None, help="Count one tenant's rows (default: every tenant).")
@click.option("--history", type=int, default=10, show_default=True, help="Versions listed.")
def table_show(name: str, tenant: str | None, history: int) -> None:
    """Schema, row count and latest versions of a table, e.g. `xero/invoices`."""
    from oauth_etl.app import contract
    from oauth_etl.app.contract import StorageSettings, TablesSettings
    from oauth_etl.tables.location import TableStore
    from oauth_etl.tables.show import describe, render
    from oauth_etl.tables.upkeep import TableMissing

    try:
        storage = contract.settings(StorageSettings)
        tables = contract.settings(TablesSettings)
        storage.credential()  # names the variables to set when there is no account
        store = TableStore.for_account(
            container=storage.container,
            prefix=storage.prefix,
            connection_string=storage.connection_string,
            account_url=storage.account_url,
            sas_token=storage.sas_token,
            root=tables.root,
            endpoint_url=tables.endpoint_url,
        )
        click.echo(render(describe(store, name, tenant_id=tenant, history=history)))
    except (TableMissing, KeyError) as exc:
        fail(exc.args[0] if exc.args else exc)
    except _user_errors() as exc:
        fail(exc)


if __name__ == "__main__":
    main()

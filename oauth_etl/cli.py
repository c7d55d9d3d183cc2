"""`oauth-etl`: authorize, look after the token set, run the sandbox, the demo and the UI.

Every command reads the environment contract of DESIGN.md through
`oauth_etl.settings` and builds the same resources the Dagster code location uses,
so the CLI and a Dagster run always share one token store and one lock.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from oauth_etl.defs.resources import XeroApiResource, XeroOAuthResource, build_resources
from oauth_etl.oauth.authorize import DEFAULT_SCOPES, Mode
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.oauth.manager import TokenManager
from oauth_etl.sandbox.cli import sandbox_command
from oauth_etl.settings import Settings
from oauth_etl.xero.errors import XeroError


def _resources() -> tuple[XeroOAuthResource, XeroApiResource]:
    resources = build_resources(Settings.from_env())
    oauth, xero = resources["oauth"], resources["xero"]
    assert isinstance(oauth, XeroOAuthResource) and isinstance(xero, XeroApiResource)
    return oauth, xero


def _manager() -> TokenManager:
    try:
        return _resources()[0].token_manager()
    except ValueError as exc:
        _fail(exc)


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group()
def main() -> None:
    """Keep a Xero OAuth 2.0 connection alive and land its data in Azure Blob Storage."""


main.add_command(sandbox_command)


@main.command("authorize")
@click.option("--scopes", default=" ".join(DEFAULT_SCOPES), show_default=True)
@click.option("--port", type=int, default=0, help="Local callback port (default: random).")
@click.option("--no-browser", is_flag=True, help="Print the URL; paste the redirect URL back here.")
@click.option(
    "--unattended",
    is_flag=True,
    help="Follow the authorize redirect without a person (the sandbox approves at once).",
)
def authorize_command(scopes: str, port: int, no_browser: bool, unattended: bool) -> None:
    """Authorization code flow with PKCE: stores the first token set, lists the tenants."""
    oauth, xero = _resources()
    mode: Mode = "unattended" if unattended else "paste" if no_browser else "browser"
    try:
        tokens = oauth.authorize(mode=mode, scopes=scopes.split(), port=port, output=click.echo)
        click.echo(f"authorized: {tokens!r} saved to {oauth.token_manager().store.describe()}")
        for connection in xero.connections():
            click.echo(
                f"tenant {connection.tenant_id}  {connection.tenant_type:<12} "
                f"{connection.tenant_name}"
            )
    except (OAuthError, XeroError, ValueError) as exc:
        _fail(exc)


@main.group("token")
def token_group() -> None:
    """Inspect and look after the stored token set (never prints a token)."""


@token_group.command("status")
def token_status() -> None:
    """Store, access-token expiry, refresh-token age and days left."""
    try:
        status = _manager().status()
    except OAuthError as exc:
        _fail(exc)
    for line in status.lines():
        click.echo(line)
    if not status.present:
        sys.exit(1)


@token_group.command("ensure")
def token_ensure() -> None:
    """Make sure a valid access token exists, refreshing only if needed."""
    try:
        _manager().access_token()
    except OAuthError as exc:
        _fail(exc)
    click.echo("access token valid")


@token_group.command("refresh")
def token_refresh() -> None:
    """Refresh now (rotates the refresh token)."""
    try:
        tokens = _manager().refresh(force=True)
    except OAuthError as exc:
        _fail(exc)
    click.echo(f"refreshed: {tokens!r}")


@token_group.command("revoke")
@click.confirmation_option(prompt="Revoke the refresh token? A person must authorize again.")
def token_revoke() -> None:
    """Revoke the refresh token at Xero and forget the token set."""
    try:
        _manager().revoke()
    except OAuthError as exc:
        _fail(exc)
    click.echo("revoked: run `oauth-etl authorize` to connect again")


@token_group.command("import")
def token_import() -> None:
    """Read a refresh token from standard input (moving from another tool) and store it."""
    refresh_token = sys.stdin.readline().strip()
    if not refresh_token:
        _fail(ValueError("no refresh token on standard input"))
    try:
        _manager().import_refresh_token(refresh_token)
    except OAuthError as exc:
        _fail(exc)
    click.echo("imported: the first `token ensure` will refresh it")


@token_group.command("restore")
@click.argument("rescue_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def token_restore(rescue_file: Path) -> None:
    """Put a rescued token set (left by a failed save) back into the store."""
    try:
        _manager().restore(rescue_file)
    except OAuthError as exc:
        _fail(exc)
    click.echo(f"restored from {rescue_file}; you may delete it now")


@main.command("demo")
@click.option("--tenants", type=int, default=2, show_default=True)
@click.option("--records", type=int, default=1000, show_default=True)
def demo_command(tenants: int, records: int) -> None:
    """The whole job on local defaults: sandbox Xero, Azurite, a file token store."""
    from oauth_etl.demo import run_demo

    sys.exit(run_demo(tenants=tenants, records=records, echo=click.echo))


@main.command("ui")
@click.option("--port", type=int, default=3000, show_default=True)
def ui_command(port: int) -> None:
    """`dagster dev` wired to the local defaults (sandbox, Azurite, file store)."""
    from oauth_etl.demo import run_ui

    sys.exit(run_ui(port=port, echo=click.echo))


if __name__ == "__main__":
    main()

"""`oauth-etl token ...`: inspect and look after the stored token sets (never a token)."""

from __future__ import annotations

import dataclasses
import sys

import click

from oauth_etl.cli.base import (
    connected,
    connection_option,
    echo_json,
    fail,
    json_option,
    token_manager,
)
from oauth_etl.cli.show import token_line


@click.group("token")
def token_group() -> None:
    """Inspect and look after the stored token set (never prints a token)."""


@token_group.command("status")
@connection_option
@json_option
def token_status(token_set: str | None, as_json: bool) -> None:
    """Store, access-token expiry, refresh-token age and days left (of every token set,
    unless --connection names one)."""
    with connected(token_set) as (connection, _):
        names = (connection.name,) if token_set else connection.set_names()
        statuses = [(name, connection.for_set(name).token_manager().status()) for name in names]
    if as_json:
        echo_json([{"token_set": name, **dataclasses.asdict(s)} for name, s in statuses])
    for name, status in statuses if not as_json else ():
        if len(statuses) > 1:
            click.echo(f"token set {name}:")
        for line in status.lines():
            click.echo(("  " if len(statuses) > 1 else "") + line)
    # Exit 1 whenever a set cannot give an access token: none stored, revoked, neither an
    # access token that is still valid nor a refresh token.
    if not all(status.usable for _, status in statuses):
        sys.exit(1)


@token_group.command("ensure")
@connection_option
def token_ensure(token_set: str | None) -> None:
    """Make sure a valid access token exists, refreshing only if needed."""
    with token_manager(token_set) as manager:
        manager.access_token()
        tokens = manager.current()
    click.echo("access token valid" + (f": {token_line(tokens)}" if tokens else ""))


@token_group.command("refresh")
@connection_option
def token_refresh(token_set: str | None) -> None:
    """Refresh now (rotates the refresh token)."""
    with token_manager(token_set) as manager:
        tokens = manager.refresh(force=True)
    click.echo(f"refreshed: {token_line(tokens)}")


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
        fail(
            "no refresh token on standard input",
            "pipe it in: `echo TOKEN | oauth-etl token import`",
        )
    with token_manager(token_set) as manager:
        tokens = manager.import_refresh_token(refresh_token)
    click.echo(f"imported: {token_line(tokens)}")


@token_group.command("restore")
@click.argument("rescue_location")
@connection_option
def token_restore(rescue_location: str, token_set: str | None) -> None:
    """Put a rescued token set back into the store: RESCUE_LOCATION is the file path or
    blob URL a failed save named (with --connection NAME, into NAME's store)."""
    with token_manager(token_set) as manager:
        tokens = manager.restore(rescue_location)
    click.echo(f"restored {token_line(tokens)} from {rescue_location}; you may delete it now")

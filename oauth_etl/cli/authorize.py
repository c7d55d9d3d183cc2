"""`oauth-etl authorize`: the authorization code flow with PKCE, the first token set."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from oauth_etl.cli.base import connected, connection_option, fail
from oauth_etl.cli.show import token_line

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager

DEFAULT_SCOPES_HELP = (
    "offline_access + the granular read scopes any new app gets, for every endpoint it can "
    "read; Journals and classic expenses only with their --with-* flag"
)
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


@click.command("authorize")
@click.option(
    "--scopes",
    default=None,
    help=f"Space separated (default: {DEFAULT_SCOPES_HELP}). offline_access is always "
    "asked for, given or not: without it Xero grants no refresh token and the set dies "
    "with its access token. A scope this project does not know is refused "
    "(`oauth-etl list endpoints` shows each endpoint's).",
)
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
    type=click.IntRange(1, 65535),
    default=None,
    help="Use http://localhost:PORT/callback (registered on the app) instead of the default "
    "redirect URI; not together with --redirect-uri or XERO_REDIRECT_URI.",
)
@click.option("--no-browser", is_flag=True, help="Print the URL; paste the redirect URL back here.")
@click.option(
    "--unattended",
    is_flag=True,
    help="Follow the authorize redirect without a person (the sandbox approves at once).",
)
@click.option(
    "--yes", is_flag=True, help="Replace a working token set without asking (needed unattended)."
)
@connection_option
def authorize_command(
    token_set: str | None,
    scopes: str | None,
    redirect_uri: str | None,
    with_journals: bool,
    with_classic_expenses: bool,
    port: int | None,
    no_browser: bool,
    unattended: bool,
    yes: bool,
) -> None:
    """Authorization code flow with PKCE: stores the token set, lists the organisations.

    Log in to Xero as the user who connected the organisations; with --connection NAME
    the token set is stored as NAME's (a second Xero user's organisations)."""
    from oauth_etl.oauth.authorize import Mode, check_redirect_uri
    from oauth_etl.xero.scopes import CLASSIC_EXPENSES_SCOPE, JOURNALS_SCOPE, scopes_for

    if unattended and no_browser:
        fail("--unattended and --no-browser exclude each other", "pass one of them")
    mode: Mode = "unattended" if unattended else "paste" if no_browser else "browser"
    if scopes is not None and not scopes.split():
        fail("--scopes is empty", "leave it out for the default scopes, or name them")
    with connected(token_set) as (connection, api):
        _check_urls(connection.settings.login_url, connection.settings.identity_url)
        configured = redirect_uri or connection.settings.redirect_uri
        if port and configured:
            where = "--redirect-uri" if redirect_uri else "XERO_REDIRECT_URI"
            fail(
                f"--port {port} conflicts with {where} ({configured})",
                f"give the port inside the redirect URI, or drop {where} to use "
                f"http://localhost:{port}/callback",
            )
        uri = check_redirect_uri(connection.redirect_uri(redirect_uri, port or 0))
        if scopes:
            opted = [JOURNALS_SCOPE] * with_journals
            opted += [CLASSIC_EXPENSES_SCOPE] * with_classic_expenses
            requested = _given_scopes(scopes, opted)
        else:
            plan = scopes_for(
                with_journals=with_journals, with_classic_expenses=with_classic_expenses
            )
            requested = list(plan.scopes)
            if plan.left_out:
                click.echo(
                    f"not asked for (opt-in): {', '.join(sorted(plan.left_out))}; see "
                    "--with-journals and --with-classic-expenses"
                )
        manager = connection.token_manager()
        _confirm_replacing(manager, yes=yes, unattended=unattended, token_set=token_set)
        tokens = connection.authorize(
            mode=mode, scopes=requested, redirect_uri=uri, output=click.echo
        )
        named = f" (token set {token_set!r})" if token_set else ""
        click.echo(f"authorized{named}: {token_line(tokens)}, saved to {manager.store.describe()}")
        if tokens.refresh_token is None:
            click.echo(
                "no refresh token granted: the set ends with its access token; ask for "
                "offline_access (the default scopes include it)"
            )
        granted = tokens.scope.split()
        click.echo(f"scopes granted ({len(granted)}): {' '.join(sorted(granted)) or '(none)'}")
        organisations = api.connections_of(connection.name)
        click.echo(f"organisations ({len(organisations)}):")
        for tenant in organisations:
            click.echo(f"  {tenant.tenant_id}  {tenant.tenant_type:<12} {tenant.tenant_name}")


def _given_scopes(text: str, opted: list[str]) -> list[str]:
    """`--scopes` checked before any browser step: known scopes only, each once, within
    the length of every known scope together, offline_access always included."""
    import difflib

    from oauth_etl.xero.scopes import OFFLINE_ACCESS, known_scopes

    known = known_scopes()
    # Longer than every scope we know written out once: duplicates or unknown names, and
    # an authorize URL that long is refused before it is sent (httpx: InvalidURL).
    limit = len(" ".join(known))
    if len(text) > limit:
        fail(
            f"--scopes is {len(text)} characters long, more than all {len(known)} scopes this "
            f"project knows written out once ({limit})",
            "name each scope once (`oauth-etl list endpoints` shows each endpoint's), or "
            "leave --scopes out for the default ones",
        )
    names = list(dict.fromkeys([*text.split(), *opted]))
    unknown = [name for name in names if name not in known]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(known), n=3)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        fail(
            f"--scopes: unknown scope {', '.join(repr(n) for n in unknown[:3])}"
            + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""),
            f"{hint}`oauth-etl list endpoints` shows the scope of every endpoint; leave "
            "--scopes out for the default ones",
        )
    if OFFLINE_ACCESS not in names:
        # Xero returns a refresh token only for offline_access
        # (developer.xero.com/documentation/guides/oauth2/scopes/).
        click.echo("asking for offline_access too: without it no refresh token is granted")
        names.insert(0, OFFLINE_ACCESS)
    return names


def _check_urls(login_url: str, identity_url: str) -> None:
    """The hosts the flow talks to, checked before a browser opens or a port is taken."""
    from urllib.parse import urlsplit

    for variable, url in (("XERO_LOGIN_URL", login_url), ("XERO_IDENTITY_URL", identity_url)):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            fail(f"{variable} is not a URL", "unset it to use Xero, or set it to https://HOST")


def _confirm_replacing(
    manager: TokenManager, *, yes: bool, unattended: bool, token_set: str | None
) -> None:
    """A working token set is replaced only when the user says so (`--yes`, or the prompt);
    unattended, never without `--yes`."""
    from oauth_etl.oauth.errors import OAuthError

    stored = manager.current()
    if stored is None or yes:
        return
    try:
        manager.access_token()  # refreshes if due: is it still working?
    except OAuthError:
        click.echo(f"replacing the stored token set {stored.fingerprint()}: it no longer works")
        return
    current = manager.current() or stored
    what = f"a working token set ({current.fingerprint()}) is stored in {manager.store.describe()}"
    flag = "--yes" + (f" --connection {token_set}" if token_set else "")
    if unattended or not sys.stdin.isatty():
        fail(what, f"pass {flag} to replace it, or keep it (`oauth-etl token status`)")
    if not click.confirm(f"{what}: replace it?", default=False):
        fail("kept the stored token set", f"pass {flag} to replace it without asking")

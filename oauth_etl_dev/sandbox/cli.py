"""`sandbox` command: a local Xero (identity + accounting API) on one port."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from oauth_etl_dev.sandbox import cli_changes, webhooks_cli
from oauth_etl_dev.sandbox.catalog import ALL_SCOPES, ENDPOINTS_BY_LOWER
from oauth_etl_dev.sandbox.config import DAY, REGISTERED_REDIRECT_URIS, SandboxConfig
from oauth_etl_dev.sandbox.data import HISTORY_DAYS
from oauth_etl_dev.sandbox.grants import SCOPE_PRESETS
from oauth_etl_dev.sandbox.limits import TIER_DAY_LIMITS, tier_day_limit
from oauth_etl_dev.sandbox.server import SandboxStartError, serve_forever

# Where the sandbox reads the app's client secret (not a flag: flags show in `ps`).
SECRET_VAR = "SANDBOX_CLIENT_SECRET"  # noqa: S105  (a variable name, not a secret)


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port.",
)
@click.option("--client-id", required=True, help="The app's client id.")
@click.option(
    "--client-secret",
    default=None,
    envvar=SECRET_VAR,
    show_envvar=True,
    help="The app's client secret; without it the app is a public PKCE client. Prefer the "
    "environment variable or --client-secret-file: a flag shows in `ps`.",
)
@click.option(
    "--client-secret-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A file holding the app's client secret (its first line).",
)
@click.option(
    "--records",
    default=1000,
    show_default=True,
    type=click.IntRange(0),
    help="Records per paged endpoint per tenant.",
)
@click.option(
    "--tenants",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="Connected organisations.",
)
@click.option(
    "--history-days",
    default=HISTORY_DAYS,
    show_default=True,
    type=click.IntRange(1),
    help="Days of generated books before today (the organisation was created 30 days "
    "earlier); the demo asks for 400: 12 complete months whatever the day.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the generated data.")
@click.option(
    "--access-ttl",
    default=1800,
    show_default=True,
    type=click.IntRange(1),
    help="Access token lifetime (s).",
)
@click.option(
    "--grace",
    default=1800,
    show_default=True,
    type=click.IntRange(0),
    help="Refresh-token reuse grace (s).",
)
@click.option(
    "--refresh-ttl",
    default=60 * DAY,
    show_default=True,
    type=click.IntRange(1),
    help="Unused refresh token lifetime (s).",
)
@click.option("--strict", is_flag=True, help="No grace: any refresh-token reuse is invalid_grant.")
@click.option(
    "--time-scale",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.001),
    help="Rate-limit clock speed: a minute lasts 60/F s.",
)
@click.option(
    "--latency-ms",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Added latency per API call.",
)
@click.option(
    "--per-record-ms",
    default=None,
    type=click.FloatRange(0),
    help="Added latency per record returned [default: latency-ms/500].",
)
@click.option("--no-limits", is_flag=True, help="Never answer 429 (limits are still counted).")
@click.option("--concurrent-limit", default=5, show_default=True, type=click.IntRange(1))
@click.option("--minute-limit", default=60, show_default=True, type=click.IntRange(1))
@click.option("--day-limit", default=5000, show_default=True, type=click.IntRange(1))
@click.option("--app-minute-limit", default=10_000, show_default=True, type=click.IntRange(1))
@click.option(
    "--scopes",
    default=None,
    help="Space-separated scopes the app may request, or a preset: new-app, all [default: all].",
)
@click.option(
    "--deny-endpoint",
    multiple=True,
    help="Answer 401 AuthorizationUnsuccessful (e.g. Journals on a low tier).",
)
@click.option(
    "--app-name", default="oauth_etl sandbox", show_default=True, help="ProviderName in responses."
)
@click.option("--access-log", is_flag=True, help="Log every request to stderr.")
@click.option(
    "--token-prefix",
    default="",
    help="Start every issued token with this text (canary values for leak tests).",
)
@cli_changes.options
@webhooks_cli.options
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="A redirect URI registered on the app (repeat, up to 50; exact match) "
    "[default: http://localhost:8765/callback and http://127.0.0.1:8765/callback].",
)
@click.option(
    "--tier",
    type=click.Choice(sorted(TIER_DAY_LIMITS), case_sensitive=False),
    default=None,
    help="The app's Xero tier: sets the day limit (starter 1,000; core and above 5,000) "
    "unless --day-limit is given. --scopes new-app models an app created since March 2026.",
)
def sandbox_command(
    *,
    host: str,
    port: int,
    client_id: str,
    client_secret: str | None,
    client_secret_file: Path | None,
    records: int,
    tenants: int,
    history_days: int,
    seed: int,
    access_ttl: int,
    grace: int,
    refresh_ttl: int,
    strict: bool,
    time_scale: float,
    latency_ms: float,
    per_record_ms: float | None,
    no_limits: bool,
    concurrent_limit: int,
    minute_limit: int,
    day_limit: int,
    app_minute_limit: int,
    scopes: str | None,
    deny_endpoint: tuple[str, ...],
    app_name: str,
    access_log: bool,
    token_prefix: str,
    redirect_uris: tuple[str, ...],
    tier: str | None,
    **changes: Any,
) -> None:
    """Serve a local Xero: login, identity, /Connections and the Accounting API."""
    if client_secret_file is not None:
        if client_secret:
            raise click.BadParameter(
                f"give the secret once: --client-secret-file or {SECRET_VAR}/--client-secret",
                param_hint="--client-secret-file",
            )
        client_secret = client_secret_file.read_text(encoding="utf-8").strip() or None
    denied = []
    for name in deny_endpoint:
        endpoint = ENDPOINTS_BY_LOWER.get(name.lower())
        if endpoint is None:
            raise click.BadParameter(f"unknown endpoint {name!r}", param_hint="--deny-endpoint")
        denied.append(endpoint.name)
    # The app's registration: redirect URIs, scope presets (new-app, all), tier day limit.
    if scopes is not None and scopes.strip() in SCOPE_PRESETS:
        scopes = " ".join(sorted(SCOPE_PRESETS[scopes.strip()]))
    day_limit_source = click.get_current_context().get_parameter_source("day_limit")
    if tier is not None and day_limit_source is ParameterSource.DEFAULT:
        day_limit = tier_day_limit(tier)
    try:
        config = SandboxConfig(
            client_id=client_id,
            client_secret=client_secret,
            host=host,
            port=port,
            records=records,
            tenants=tenants,
            history_days=history_days,
            seed=seed,
            access_ttl=access_ttl,
            grace=grace,
            refresh_ttl=refresh_ttl,
            strict=strict,
            time_scale=time_scale,
            latency_ms=latency_ms,
            per_record_ms=per_record_ms,
            limits=not no_limits,
            concurrent_limit=concurrent_limit,
            minute_limit=minute_limit,
            day_limit=day_limit,
            app_minute_limit=app_minute_limit,
            scopes=frozenset(scopes.split()) if scopes else ALL_SCOPES,
            denied_endpoints=frozenset(denied),
            app_name=app_name,
            access_log=access_log,
            token_prefix=token_prefix,
            **cli_changes.settings(changes),
            **webhooks_cli.settings(changes),
            redirect_uris=redirect_uris or REGISTERED_REDIRECT_URIS,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc

    def announce(url: str) -> None:
        click.echo(f"listening on {url}")
        sys.stdout.flush()  # the parent waits for this line

    try:
        serve_forever(config, announce)
    except SandboxStartError as exc:
        raise click.ClickException(str(exc)) from exc

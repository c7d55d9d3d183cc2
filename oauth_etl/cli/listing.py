"""`oauth-etl list endpoints | tenants | cursors` (as `dg list ...`): text, or `--json`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from oauth_etl.cli.base import connected, echo_json, fail, json_option, table
from oauth_etl.cli.choose import endpoints as chosen_endpoints
from oauth_etl.cli.choose import select_option
from oauth_etl.cli.choose import tenants as chosen_tenants
from oauth_etl.cli.show import when

if TYPE_CHECKING:
    from oauth_etl.app.connection import XeroConnection


@click.group("list")
def list_group() -> None:
    """List the endpoints, the tenants of every token set, and the cursors."""


NO_SET = "no stored token set to read the scopes of (`oauth-etl authorize`)"


def _granted(connection: XeroConnection) -> tuple[set[str] | None, str]:
    """The stored token set's scopes (no network), or None and why they are unknown."""
    from oauth_etl.app.contract import ConfigError
    from oauth_etl.oauth.errors import OAuthError

    try:
        tokens = connection.token_manager().current()
    except (ConfigError, OAuthError, ValueError) as unreadable:
        # The catalog is still worth listing; the reason is the store's own one line.
        return None, f"the token set could not be read: {unreadable}"
    granted = set(tokens.scope.split()) if tokens is not None else set()
    return (granted, "") if granted else (None, NO_SET)  # an empty grant says nothing


@list_group.command("endpoints")
@json_option
def list_endpoints(as_json: bool) -> None:
    """Every endpoint: its scope, paging, incremental field, and whether the stored token
    set's scopes allow it (`?`: no token set to read)."""
    from oauth_etl.xero.catalog import CATALOG
    from oauth_etl.xero.scopes import missing_scope_message, required_scope, selection

    with connected() as (connection, _):
        granted, unknown_why = _granted(connection)
    daily = {e.name for e in selection()}
    rows: list[dict[str, Any]] = []
    for endpoint in CATALOG:
        allowed = None if granted is None else missing_scope_message(endpoint, granted) is None
        rows.append(
            {
                "endpoint": endpoint.name,
                "asset_key": f"xero/{endpoint.name}",
                "path": endpoint.path,
                "scope": required_scope(endpoint),
                "paging": endpoint.paging.value,
                "incremental_field": endpoint.cursor_field if endpoint.incremental else None,
                "daily": endpoint.name in daily,
                "allowed": allowed,
            }
        )
    if as_json:
        echo_json(rows)
        return
    mark = {True: "yes", False: "NO", None: "?"}
    table(
        [
            ("endpoint", "scope", "paging", "incremental", "daily", "allowed"),
            *(
                (
                    r["endpoint"],
                    r["scope"],
                    r["paging"],
                    r["incremental_field"] or "(full snapshot)",
                    "yes" if r["daily"] else "opt-in",
                    mark[r["allowed"]],
                )
                for r in rows
            ),
        ]
    )
    if granted is None:
        click.echo(f"allowed ?: {unknown_why}")


@list_group.command("tenants")
@json_option
def list_tenants(as_json: bool) -> None:
    """The organisations of every token set (GET /connections with each set's token)."""
    with connected() as (_, api):
        survey = api.survey()
    owners = survey.owners()
    rows: list[dict[str, Any]] = [
        {
            "token_set": view.name,
            "tenant_id": c.tenant_id,
            "tenant_type": c.tenant_type,
            "tenant_name": c.tenant_name,
            "read_with": owners.get(c.tenant_id) == view.name,
        }
        for view in survey.views
        for c in view.connections
    ]
    if as_json:
        echo_json({"tenants": rows, "failed": {v.name: v.explained() for v in survey.failed()}})
    elif rows:
        table(
            [
                ("token set", "tenant id", "type", "name"),
                *(
                    (
                        r["token_set"] + ("" if r["read_with"] else " (seen, read by another)"),
                        r["tenant_id"],
                        str(r["tenant_type"]),
                        str(r["tenant_name"] or ""),
                    )
                    for r in rows
                ),
            ]
        )
    if survey.failed():
        fail(survey.problem())
    if not rows:
        fail("no token set reaches an organisation", "run `oauth-etl authorize --yes`")


@list_group.command("cursors")
@select_option
@click.option("--tenant", "tenant_ids", multiple=True, metavar="ID", help="One tenant (repeat).")
@json_option
def list_cursors(select: tuple[str, ...], tenant_ids: tuple[str, ...], as_json: bool) -> None:
    """Where each endpoint's next run starts, per tenant: its last committed batch's cursor
    (from the materializations in DAGSTER_HOME). `oauth-etl run --full-refresh` resets it."""
    from oauth_etl.cli.engine import commands

    side = commands()
    wanted = chosen_endpoints(select, default_all=True)
    with side.instance() as instance:
        tenants = chosen_tenants(
            tenant_ids,
            side.tenants_of(instance),
            "in DAGSTER_HOME",
            "a first `oauth-etl run` registers them (as the xero/tenants asset does)",
        )
        rows = side.cursors(instance, wanted, tenants)
    if as_json:
        echo_json([row.__dict__ for row in rows])
        return

    def start(row: Any) -> str:
        if not row.incremental:
            return "everything (full snapshot every run)"
        if row.offset is not None:
            return f"after journal {row.offset}"
        return f"changes since {row.cursor}" if row.cursor else "everything (no cursor yet)"

    table(
        [
            ("tenant", "endpoint", "next run reads", "last landed"),
            *(
                (
                    r.tenant_id,
                    r.endpoint,
                    start(r),
                    when(r.materialized_at) if r.materialized_at else "never",
                )
                for r in rows
            ),
        ]
    )

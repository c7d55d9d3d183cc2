"""`oauth-etl table show`: a Delta table's schema, rows and versions (read-only)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import click

from oauth_etl.cli.base import echo_json, fail, json_option

if TYPE_CHECKING:
    from oauth_etl.app.contract import StorageSettings

# object_store's client and retry settings, which delta-rs takes as storage options
# (docs.rs/object_store: ClientConfigKey, RetryConfig).
READ_OPTIONS = {
    "connect_timeout": "3s",
    "timeout": "30s",
    "max_retries": "1",
    "retry_timeout": "5s",
}


@click.group("table")
def table_group() -> None:
    """The Delta tables merged from the landed batches (read-only)."""


@table_group.command("show")
@click.argument("name")
@click.option("--tenant", default=None, help="Count one tenant's rows (default: every tenant).")
@click.option(
    "--history",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Versions listed (1-1000).",
)
@json_option
def table_show(name: str, tenant: str | None, history: int, as_json: bool) -> None:
    """Schema, row count and latest versions of a table: `invoices`, `xero/invoices` or
    the asset key `xero_tables/invoices` (child tables too: `invoice_line_items`)."""
    from oauth_etl.app import contract
    from oauth_etl.app.contract import StorageSettings, TablesSettings
    from oauth_etl.tables.location import TableStore
    from oauth_etl.tables.show import (
        NotMergedYet,
        TableUnreadable,
        UnknownTable,
        UnknownTenant,
        as_json_payload,
        describe,
        render,
        table_name,
    )

    try:
        table_name(name)  # before any setting or network: a typo is told at once
    except UnknownTable as exc:
        fail(str(exc), "give one of those names")
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
    base = store.options
    # A read for a person: give up within seconds (delta-rs retries for minutes by default).
    store = dataclasses.replace(store, options=lambda: {**base(), **READ_OPTIONS})
    try:
        description = describe(store, name, tenant_id=tenant, history=history)
    except NotMergedYet as exc:
        fail(
            str(exc),
            f"it is written after an extraction: `oauth-etl run --select {exc.endpoint}` (or "
            "the daily schedule), then the merge that follows it",
        )
    except UnknownTenant as exc:
        present = ", ".join(exc.present[:20]) + (" …" if len(exc.present) > 20 else "")
        fail(
            str(exc),
            f"give one of the tenants it has: {present}"
            if exc.present
            else "it has no rows "
            "yet: leave --tenant out, or run an extraction for that tenant first",
        )
    except TableUnreadable as exc:
        fail(*_storage_failure(exc, storage, tables.endpoint_url))
    if as_json:
        echo_json(as_json_payload(description))
    else:
        click.echo(render(description))


def _storage_failure(
    exc: BaseException, storage: StorageSettings, endpoint_url: str | None
) -> tuple[str, str]:
    """What went wrong reading the table's storage, naming the account, and the fix."""
    from oauth_etl.doctor.causes import Service, explain
    from oauth_etl.storage.connection_string import account_endpoint

    assert exc.__cause__ is not None
    if endpoint_url:
        account, setting = endpoint_url, "OAUTH_ETL_TABLES_ENDPOINT_URL"
    elif storage.connection_string:
        account, setting = (
            account_endpoint(storage.connection_string, "blob"),
            "AZURE_STORAGE_CONNECTION_STRING",
        )
    else:
        account, setting = storage.account_url or "", "AZURE_STORAGE_ACCOUNT_URL"
    service = Service(
        "the storage account", account, setting, "'Storage Blob Data Reader' on the container"
    )
    cause = explain(exc.__cause__, service, timeout=3.0)
    if cause is not None:
        return f"{exc}: {cause.detail}", cause.fix
    return (
        f"{exc} on {account}",
        "run `oauth-etl doctor`: it checks the account, the credential and the container",
    )

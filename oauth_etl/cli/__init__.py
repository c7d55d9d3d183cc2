"""`oauth-etl`: authorize, look after the token sets, check the set-up, list and run the
extraction; in a development install also the sandbox, the demo and the UI.

Every command resolves the environment contract (`oauth_etl.app.contract`) into the same
`XeroConnection` the Dagster resources open (`oauth_etl.app.connection`), so the command
line and a Dagster run share one token store and one lock. Start-up stays short: each
command group is a module named here as text and imported when it runs, so `--help` and
the token commands import neither Dagster nor an Azure SDK.

Adding a command: a module under `oauth_etl/cli/` with a click command (or group), one
`main.register(...)` line below; open the connection with `with connected() as
(connection, api):` (`base.py`), print with `click.echo`, raise `UserError(what, fix)` for
what the user can fix: the root group prints every error as one line (`base.report`).
"""

from __future__ import annotations

import logging
import sys

import click

from oauth_etl.cli.base import DEBUG_VAR, Group, debugging

# httpx imports its own command line (rich, pygments, click: ~0.3 s) when those are
# installed, and Dagster installs them. We never call it: without `httpx._main`, httpx
# defines a stub in its place (its `except ImportError` branch).
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

__all__ = ["main"]


@click.group(cls=Group)
@click.option(
    "--debug", is_flag=True, help=f"Show the traceback of an unexpected error (or {DEBUG_VAR}=1)."
)
def main(debug: bool) -> None:
    """Keep a Xero OAuth 2.0 connection alive and land its data in Azure Blob Storage."""
    # The libraries' log lines (a retried refresh, ...) are for --debug: a command says
    # what matters itself, once, and Python would otherwise print warnings to stderr.
    if debug or debugging():
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    elif not any(isinstance(h, logging.NullHandler) for h in logging.getLogger().handlers):
        logging.getLogger().addHandler(logging.NullHandler())


assert isinstance(main, Group)
main.register(
    "authorize",
    "oauth_etl.cli.authorize:authorize_command",
    "Connect Xero organisations: stores a token set.",
)
main.register(
    "token", "oauth_etl.cli.token:token_group", "Inspect and look after the stored token sets."
)
main.register(
    "doctor",
    "oauth_etl.cli.doctor:doctor_command",
    "Check every link from the settings to a landed blob.",
)
main.register(
    "list", "oauth_etl.cli.listing:list_group", "List endpoints, tenants and cursors (`--json`)."
)
main.register(
    "run", "oauth_etl.cli.run:run_command", "Extract chosen endpoints and tenants through Dagster."
)
main.register(
    "table", "oauth_etl.cli.table:table_group", "The Delta tables merged from the landed batches."
)
main.register(
    "webhooks", "oauth_etl.webhooks.cli:webhooks", "Xero's webhooks: the receiver and its queue."
)
main.register("sandbox", "oauth_etl_dev.sandbox.cli:sandbox_command", "A local Xero (development).")
main.register(
    "demo", "oauth_etl_dev.demo:demo_command", "The whole job on local defaults (development)."
)
main.register("ui", "oauth_etl_dev.ui:ui_command", "`dagster dev` on local defaults (development).")

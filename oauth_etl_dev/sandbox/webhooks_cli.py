"""CLI flags of the sandbox's webhooks (sandbox/webhooks.py), kept apart for a clean merge."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def options(command: F) -> F:
    """Adds `--webhook-url` and `--webhook-key` (or XERO_WEBHOOK_KEY) to a click command."""
    command = click.option(
        "--webhook-key",
        envvar="XERO_WEBHOOK_KEY",
        default=None,
        help="The app's webhook signing key [env: XERO_WEBHOOK_KEY].",
    )(command)
    return click.option(
        "--webhook-url",
        default=None,
        help="Deliver a webhook of every contact/invoice/credit note change here "
        "(http://127.0.0.1:PORT/...).",
    )(command)


def settings(flags: dict[str, Any]) -> dict[str, Any]:
    """SandboxConfig fields from the flags."""
    url, key = flags.get("webhook_url"), flags.get("webhook_key")
    if url and not key:
        raise click.UsageError("--webhook-url needs the key: --webhook-key or XERO_WEBHOOK_KEY")
    return {"webhook_url": url, "webhook_key": key}

"""`WebhookQueueResource`: the webhook queue the receiver fills, from the contract's
`webhooks` section (bound as `dg.EnvVar`s, resolved when the sensor ticks)."""

# No `from __future__ import annotations`: Dagster reads the field annotations at class
# creation.

from collections.abc import Mapping
from typing import Any

import dagster as dg

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.defs.fields import contract_field, settings_of
from oauth_etl.defs.resources import _bound
from oauth_etl.webhooks.queue import WebhookQueue, open_queue


class WebhookQueueResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where Xero's webhook deliveries wait for the sensor (oauth_etl.webhooks)."""

    key: str | None = contract_field("webhooks", "key", secret=True)
    key_secret_name: str | None = contract_field("webhooks", "key_secret_name")
    queue_connection_string: str | None = contract_field(
        "webhooks", "queue_connection_string", secret=True
    )
    queue_account_url: str | None = contract_field("webhooks", "queue_account_url")
    queue: str = contract_field("webhooks", "queue")
    max_body_bytes: int = contract_field("webhooks", "max_body_bytes")

    def settings(self) -> WebhookSettings:
        return settings_of(self, WebhookSettings)

    def open(self) -> WebhookQueue:
        """The queue (the caller closes it); both queues are created if missing."""
        queue = open_queue(self.settings(), timeout=30.0)
        queue.ensure()
        return queue


def build_webhook_resources(
    environ: Mapping[str, str] | None = None, *, env_vars: bool = True
) -> dict[str, Any]:
    return {"webhooks": WebhookQueueResource(**_bound("webhooks", environ, env_vars))}


@dg.definitions
def webhook_resources() -> dg.Definitions:
    return dg.Definitions(resources=build_webhook_resources())

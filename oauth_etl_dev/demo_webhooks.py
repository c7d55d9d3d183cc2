"""The demo's webhook act: an invoice saved in the sandbox arrives through a signed webhook,
waits in Azurite's queue, and the sensor's run lands it in its batch and its Delta table.

Also what the webhook tests and bench/freshness.py share: a receiver in a background
thread and the probes that find a saved record in its batch and its table.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import httpx
import uvicorn

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.defs.webhooks.resources import WebhookQueueResource
from oauth_etl.defs.webhooks.sensors import RUN_KEY_TAG, build_webhook_sensor
from oauth_etl.storage.reader import iter_records, latest_batch
from oauth_etl.tables.location import TableStore
from oauth_etl.tables.model import TENANT
from oauth_etl.tables.writes import open_table
from oauth_etl.webhooks.queue import WebhookQueue, open_queue
from oauth_etl.webhooks.receiver import PATH, build_app
from oauth_etl.xero.dates import parse_xero_datetime
from oauth_etl_dev.local_services import LOOPBACK, free_port, start_azurite_queue

Echo = Callable[[str], None]


@dataclass
class ReceiverThread:
    """The receiver (oauth_etl.webhooks.receiver) served by uvicorn on a loopback port."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    @classmethod
    def start(cls, app: Any, timeout: float = 10.0) -> ReceiverThread:
        port = free_port()
        config = uvicorn.Config(
            app, host=LOOPBACK, port=port, log_level="warning", lifespan="off", access_log=False
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve()), name="webhook-receiver", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the webhook receiver did not start within {timeout:.0f} s")
            time.sleep(0.01)
        return cls(f"http://{LOOPBACK}:{port}{PATH}", server, thread)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@dataclass
class WebhookStack:
    settings: WebhookSettings
    queue: WebhookQueue
    receiver: ReceiverThread

    @property
    def resource(self) -> WebhookQueueResource:
        return WebhookQueueResource(
            queue_connection_string=self.settings.queue_connection_string,
            queue=self.settings.queue,
        )


@contextmanager
def webhook_stack(sandbox_url: str) -> Iterator[WebhookStack]:
    """Azurite's queue service, a receiver, and the sandbox subscribed to it; all stopped
    on exit."""
    service = start_azurite_queue()
    key = secrets.token_urlsafe(48)
    settings = WebhookSettings(
        key=key,
        queue_connection_string=service.connection_string,
        queue=f"xero-webhooks-{uuid.uuid4().hex[:8]}",
    )
    queue = open_queue(settings, timeout=2.0)
    try:
        queue.ensure()
        receiver = ReceiverThread.start(build_app(key, queue))
        try:
            response = httpx.post(
                f"{sandbox_url}/_sandbox/webhooks",
                json={"url": receiver.url, "key": key},
                timeout=10.0,
            )
            response.raise_for_status()
            yield WebhookStack(settings, queue, receiver)
        finally:
            httpx.delete(f"{sandbox_url}/_sandbox/webhooks", timeout=30.0)
            receiver.stop()
    finally:
        queue.close()
        service.stop()


def in_batch(
    container: Any,
    prefix: str,
    tenant_id: str,
    endpoint: str,
    id_field: str,
    record_id: str,
    stamp_ms: int,
) -> str | None:
    """The newest committed batch's id if it holds the record's version stamped `stamp_ms`
    (or newer), else None."""
    manifest = latest_batch(
        container, prefix=prefix, source="xero", tenant_id=tenant_id, endpoint=endpoint
    )
    if manifest is None:
        return None
    for record in iter_records(container, manifest):
        if str(record.get(id_field, "")).lower() != record_id.lower():
            continue
        stamp = parse_xero_datetime(str(record.get("UpdatedDateUTC", "/Date(0)/")))
        if stamp.timestamp() * 1000 >= stamp_ms - 1:
            return manifest.batch_id
    return None


def in_table(
    store: TableStore, name: str, tenant_id: str, id_field: str, record_id: str, stamp_ms: int
) -> bool:
    """The table holds the record's version stamped `stamp_ms` (or a newer one)."""
    stamp = datetime.fromtimestamp(stamp_ms / 1000, UTC)
    table = open_table(store, name)
    if table is None:
        return False
    dataset = table.to_pyarrow_dataset(partitions=[(TENANT, "=", tenant_id)])
    # Compared here, not in a dataset filter: delta-rs reads the id column as string_view,
    # which pyarrow's `equal` has no kernel for against a string (the demo failed there).
    found = dataset.to_table(columns=[id_field, "UpdatedDateUTC"]).to_pylist()
    return any(
        r[id_field] == record_id
        and r["UpdatedDateUTC"] is not None
        and r["UpdatedDateUTC"] >= stamp
        for r in found
    )


def show_webhook_landing(
    sandbox_url: str,
    job: dg.JobDefinition,
    instance: dg.DagsterInstance,
    resources: dict[str, Any],
    echo: Echo,
) -> int:
    """Save an invoice of the first tenant, follow it through the webhook to its batch and
    its table; 0 if it landed in both."""
    from oauth_etl.defs.xero.partitions import TENANTS

    tenant_id = instance.get_dynamic_partitions(TENANTS.name or "")[0]
    storage, tables = resources["storage"], resources["tables"].store
    with webhook_stack(sandbox_url) as stack:
        intent = httpx.post(f"{sandbox_url}/_sandbox/webhooks/intent", timeout=30.0).json()
        echo(f"webhooks: receiver at {stack.receiver.url}, intent to receive ok: {intent['ok']}")
        started = time.monotonic()
        saved = httpx.post(
            f"{sandbox_url}/_sandbox/change",
            json={"tenant_id": tenant_id, "endpoint": "Invoices", "kind": "edit", "position": 0},
            timeout=10.0,
        ).json()
        httpx.post(f"{sandbox_url}/_sandbox/webhooks/flush", timeout=60.0)
        waiting = stack.queue.depth()[0]
        echo(f"invoice {saved['id']} saved; its webhook is in the queue ({waiting} message(s))")
        context = dg.build_sensor_context(instance=instance, resources={"webhooks": stack.resource})
        result = build_webhook_sensor(stack.settings)(context)
        assert isinstance(result, dg.SensorResult)
        requests = [r for r in result.run_requests or [] if r.partition_key == tenant_id]
        if not requests:
            echo("the sensor asked for no run: the webhook did not arrive")
            return 1
        (request,) = requests
        echo(f"xero_webhooks_sensor: run {request.run_key} for tenant {tenant_id}")
        job.execute_in_process(
            instance=instance,
            partition_key=tenant_id,
            asset_selection=list(request.asset_selection or []),
            tags={RUN_KEY_TAG: request.run_key or "", **request.tags},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        container = storage.container_client()
        batch = in_batch(
            container,
            storage.prefix,
            tenant_id,
            "invoices",
            "InvoiceID",
            saved["id"],
            saved["stamp_ms"],
        )
        tabled = in_table(
            tables, "invoices", tenant_id, "InvoiceID", saved["id"], saved["stamp_ms"]
        )
        seconds = time.monotonic() - started
        echo(
            f"invoice {saved['id']}: in batch {batch}, in xero_tables/invoices: {tabled} "
            f"({seconds:.1f} s from the save)"
        )
        build_webhook_sensor(stack.settings)(
            dg.build_sensor_context(
                instance=instance, cursor=result.cursor, resources={"webhooks": stack.resource}
            )
        )  # deletes the message: its run is recorded
        return 0 if batch and tabled else 1

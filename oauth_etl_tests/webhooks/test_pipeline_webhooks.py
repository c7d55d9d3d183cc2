"""End to end over real HTTP: a save in the sandbox (an invoice, a contact, a credit note)
becomes a signed webhook, the receiver keeps it in Azurite's queue, the sensor asks for
one run for that tenant's changed endpoints, and the run lands the record in its batch
and its Delta table; the same run again changes no row (a webhook decides when to read;
the cursor decides what)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.tables.assets import TABLE_ASSETS
from oauth_etl.defs.tables.resources import build_table_resources
from oauth_etl.defs.webhooks import sensors
from oauth_etl.defs.webhooks.resources import WebhookQueueResource
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.webhooks.queue import WebhookQueue
from oauth_etl_dev.azurite_relay import StartFromRelay
from oauth_etl_dev.local_services import LOOPBACK, Azurite
from oauth_etl_tests.conftest import SandboxHandle
from oauth_etl_tests.webhooks.conftest import WEBHOOK_KEY, Receiver


@pytest.fixture(scope="module")
def relay(azurite: Azurite) -> Iterator[StartFromRelay]:
    with StartFromRelay(azurite.port) as started:
        yield started


def row_count(result: dg.ExecuteInProcessResult, endpoint: str) -> int:
    (found,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["xero", endpoint])
    ]
    value: Any = found.materialization.metadata["dagster/row_count"]
    return int(getattr(value, "value", value))


def table_rows(result: dg.ExecuteInProcessResult, name: str, what: str) -> int:
    (found,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key == dg.AssetKey(["xero_tables", name])
    ]
    value: Any = found.materialization.metadata[what]
    return int(getattr(value, "value", value))


@pytest.mark.timeout(600)
def test_a_save_lands_through_a_webhook_and_a_second_run_lands_nothing(
    sandbox: SandboxHandle,
    local_env: dict[str, str],
    relay: StartFromRelay,
    receiver: Receiver,
    queue: WebhookQueue,
    webhook_settings: WebhookSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "OAUTH_ETL_TABLES_ENDPOINT_URL", f"http://{LOOPBACK}:{relay.port}/devstoreaccount1"
    )
    resources: dict[str, Any] = build_resources(env_vars=False)
    resources.update(build_table_resources(resources["storage"], env_vars=False))
    resources["webhooks"] = WebhookQueueResource(
        queue_connection_string=webhook_settings.queue_connection_string,
        queue=webhook_settings.queue,
    )
    sandbox.post("/_sandbox/webhooks", {"url": receiver.url, "key": WEBHOOK_KEY})
    assets = [*ENDPOINT_ASSETS, *TABLE_ASSETS]
    with dg.instance_for_test() as instance:
        assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
        tenants = instance.get_dynamic_partitions(TENANTS.name or "")
        tenant = tenants[0]

        def run(request: dg.RunRequest) -> dg.ExecuteInProcessResult:
            result = dg.materialize(
                assets,
                selection=request.asset_selection,
                partition_key=request.partition_key,
                instance=instance,
                resources=resources,
                tags={sensors.RUN_KEY_TAG: request.run_key or "", **request.tags},
            )
            assert result.success
            return result

        def tick(cursor: str | None) -> dg.SensorResult:
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"webhooks": resources["webhooks"]}
            )
            result = sensors.build_webhook_sensor(webhook_settings)(context)
            assert isinstance(result, dg.SensorResult)
            return result

        # The first load, as the daily run makes it: the cursor exists from then on.
        first = dg.RunRequest(
            run_key="first",
            partition_key=tenant,
            asset_selection=[
                k
                for a in assets
                for k in a.keys
                if k.path[-1]
                in (
                    "invoices",
                    "contacts",
                    "invoice_line_items",
                    "credit_notes",
                    "credit_note_line_items",
                )
            ],
        )
        loaded = run(first)
        assert row_count(loaded, "invoices") == 250

        # A user saves an invoice and a credit note (and adds a contact) in the first
        # organisation.
        sandbox.post(
            "/_sandbox/change",
            {"endpoint": "Invoices", "kind": "edit", "position": 3, "tenant_id": tenant},
        )
        sandbox.post(
            "/_sandbox/change", {"endpoint": "Contacts", "kind": "insert", "tenant_id": tenant}
        )
        sandbox.post(  # a CREDITNOTE event (xero-webhooks.yaml v12.0.2)
            "/_sandbox/change",
            {"endpoint": "CreditNotes", "kind": "edit", "position": 2, "tenant_id": tenant},
        )
        assert sandbox.post("/_sandbox/webhooks/flush", {}).json()["flushed"]

        asked = tick(None)
        (request,) = asked.run_requests or []
        assert request.partition_key == tenant
        landed = run(request)
        assert row_count(landed, "invoices") == 1 and row_count(landed, "contacts") == 1
        assert row_count(landed, "credit_notes") == 1
        assert table_rows(landed, "invoices", "rows_updated") == 1
        assert table_rows(landed, "contacts", "rows_inserted") == 1
        assert table_rows(landed, "credit_notes", "rows_updated") == 1

        # A duplicate run lands nothing new: at most the saves of the last seconds before
        # the first run again (xero/cursor.py CLOCK_MARGIN), which change no row.
        again = run(request)
        for name in ("invoices", "contacts", "credit_notes"):
            assert row_count(again, name) <= 1
            assert table_rows(again, name, "rows_updated") == 0
            assert table_rows(again, name, "rows_inserted") == 0

        settled = tick(asked.cursor)
        assert not settled.run_requests
        assert queue.depth()[0] == 0

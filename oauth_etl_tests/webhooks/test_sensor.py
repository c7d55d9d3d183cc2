"""The sensor over a real Azurite queue and a real Dagster instance: one run per tenant for
the changed endpoints, messages deleted only once their run is recorded, duplicates and
redeliveries harmless, what it cannot act on set aside with the reason, never lost."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import dagster as dg
import orjson
import pytest
from dagster._core.test_utils import create_run_for_test

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.defs.webhooks import sensors
from oauth_etl.defs.webhooks.jobs import endpoint_keys
from oauth_etl.defs.webhooks.resources import WebhookQueueResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.webhooks.events import Event, plan
from oauth_etl.webhooks.queue import WebhookQueue
from oauth_etl_dev.local_services import azurite_queue_connection_string, free_port
from oauth_etl_tests.webhooks.payloads import event

A = "aaaaaaaa-0000-4000-8000-000000000001"
B = "bbbbbbbb-0000-4000-8000-000000000002"
STRANGER = "cccccccc-0000-4000-8000-000000000003"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as found:
        found.add_dynamic_partitions(TENANTS.name or "", [A, B])
        yield found


def resource(settings: WebhookSettings) -> WebhookQueueResource:
    return WebhookQueueResource(
        queue_connection_string=settings.queue_connection_string, queue=settings.queue
    )


def put(queue: WebhookQueue, *raw: dict[str, str]) -> None:
    queue.put(Event.parse(r) for r in raw)


def evaluate(
    instance: dg.DagsterInstance, settings: WebhookSettings, cursor: str | None = None
) -> dg.SensorResult:
    sensor = sensors.build_webhook_sensor(settings)
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"webhooks": resource(settings)}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def record(instance: dg.DagsterInstance, result: dg.SensorResult) -> None:
    """What the daemon does with a tick's requests: a run per new run key."""
    for request in result.run_requests or []:
        if not sensors._recorded(instance, request.run_key or ""):
            create_run_for_test(
                instance,
                job_name="xero_webhook_extract",
                tags={sensors.RUN_KEY_TAG: request.run_key or "", **request.tags},
            )


def depth(queue: WebhookQueue) -> int:
    return queue.depth()[0]


def test_events_coalesce_into_one_run_per_tenant_for_the_changed_endpoints(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    put(queue, event(A, "INVOICE"), event(A, "INVOICE"), event(B, "CONTACT"))
    put(queue, event(A, "CONTACT"))
    result = evaluate(instance, webhook_settings)
    by_tenant = {r.partition_key: r for r in result.run_requests or []}
    assert set(by_tenant) == {A, B}
    assert set(by_tenant[A].asset_selection or []) == {
        *endpoint_keys("contacts"),
        *endpoint_keys("invoices"),
    }
    assert set(by_tenant[B].asset_selection or []) == set(endpoint_keys("contacts"))
    assert dg.AssetKey(["xero_tables", "invoice_line_items"]) in by_tenant[A].asset_selection  # type: ignore[operator]
    assert by_tenant[A].tags["xero/tenant"] == A  # one run per tenant at once (dagster.yaml)


def test_a_credit_note_event_asks_for_credit_notes_and_their_tables(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    # CREDITNOTE: xero-webhooks.yaml v12.0.2 (webhook creditNotes), read, not set aside.
    put(queue, event(B, "CREDITNOTE"))
    (request,) = evaluate(instance, webhook_settings).run_requests or []
    assert request.partition_key == B
    assert set(request.asset_selection or []) == set(endpoint_keys("credit_notes"))
    assert dg.AssetKey(["xero_tables", "credit_note_line_items"]) in request.asset_selection  # type: ignore[operator]
    assert queue.depth()[1] == 0


def test_a_run_key_ignores_order_and_duplicates() -> None:
    raw = [event(A, "INVOICE", date=f"2026-12-07T01:00:0{i}.000") for i in range(5)]
    events = [Event.parse(r) for r in raw]
    shuffled = [*events, *events[:2]]
    random.Random(1).shuffle(shuffled)
    assert plan(events, [A]).run_key(A) == plan(shuffled, [A]).run_key(A)
    later = Event.parse(event(A, "INVOICE", resource_id=raw[0]["resourceId"], date="2026-12-08"))
    assert plan([*events, later], [A]).run_key(A) != plan(events, [A]).run_key(A)


def test_messages_are_deleted_only_after_their_run_is_recorded(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    put(queue, event(A))
    first = evaluate(instance, webhook_settings)
    assert len(first.run_requests or []) == 1
    assert depth(queue) == 1  # read, hidden, not deleted
    # The run was never recorded (the tick's requests lost): the message is kept.
    unrecorded = evaluate(instance, webhook_settings, first.cursor)
    assert depth(queue) == 1 and not unrecorded.run_requests
    record(instance, first)
    evaluate(instance, webhook_settings, first.cursor)
    assert depth(queue) == 0


def test_the_same_delivery_twice_asks_for_one_run(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    same = event(A, "INVOICE")
    put(queue, same)
    first = evaluate(instance, webhook_settings)
    record(instance, first)
    put(queue, same)  # Xero sent it again (our 200 was lost on the way)
    second = evaluate(instance, webhook_settings, first.cursor)
    (again,) = second.run_requests or []
    (before,) = first.run_requests or []
    assert again.run_key == before.run_key  # the daemon skips a run key it has run
    record(instance, second)
    assert len(instance.get_run_records()) == 1
    evaluate(instance, webhook_settings, second.cursor)
    assert depth(queue) == 0


def test_a_sensor_killed_between_reading_and_deleting_loses_nothing(
    instance: dg.DagsterInstance,
    webhook_settings: WebhookSettings,
    queue: WebhookQueue,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sensors, "VISIBILITY_SECONDS", 1)
    put(queue, event(A), event(B))
    killed = evaluate(instance, webhook_settings)  # neither its runs nor its cursor stored
    assert len(killed.run_requests or []) == 2
    time.sleep(1.5)  # the visibility timeout passes
    again = evaluate(instance, webhook_settings, None)
    assert {r.run_key for r in again.run_requests or []} == {
        r.run_key for r in killed.run_requests or []
    }  # the same runs: at most a duplicate that lands nothing new
    record(instance, again)
    evaluate(instance, webhook_settings, again.cursor)
    assert depth(queue) == 0


def test_dagster_away_for_an_hour_then_one_tick_one_run_per_tenant(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    # An hour of saves (~42 an hour at 1,000 a day), a delivery each, over two tenants.
    for minute in range(60):
        tenant = A if minute % 2 else B
        category = "INVOICE" if minute % 3 else "CONTACT"
        put(queue, event(tenant, category, date=f"2026-12-07T01:{minute:02d}:00.000"))
    result = evaluate(instance, webhook_settings)
    assert sorted(r.partition_key or "" for r in result.run_requests or []) == sorted([A, B])
    record(instance, result)
    evaluate(instance, webhook_settings, result.cursor)
    assert depth(queue) == 0


def test_unregistered_tenants_and_unknown_categories_are_set_aside_with_the_reason(
    instance: dg.DagsterInstance,
    webhook_settings: WebhookSettings,
    queue: WebhookQueue,
) -> None:
    put(queue, event(STRANGER, "INVOICE"), event(A, "SUBSCRIPTION"))
    queue.main.send_message("not an event list")
    result = evaluate(instance, webhook_settings)
    assert not result.run_requests
    assert depth(queue) == 0  # nothing waits in the main queue ...
    aside = [orjson.loads(m.content) for m in queue.unactionable.peek_messages(max_messages=32)]
    reasons = sorted(item["reason"] for item in aside)  # ... and nothing is lost
    assert reasons == sorted(
        [
            f"tenant {STRANGER} is not registered",
            "event category 'SUBSCRIPTION' reads nothing",
            "queue message is not JSON",
        ]
    )
    assert result.skip_reason is not None
    reported = result.skip_reason.skip_message or ""  # the tick's page in the UI
    assert f"1 webhook event(s) set aside: tenant {STRANGER} is not registered" in reported
    assert queue.depth()[1] == 3


def test_without_a_queue_the_sensor_is_off_and_with_one_on() -> None:
    off = sensors.build_webhook_sensor(WebhookSettings())
    on = sensors.build_webhook_sensor(
        WebhookSettings(queue_connection_string="AccountName=a;AccountKey=a2V5")
    )
    assert off.default_status == dg.DefaultSensorStatus.STOPPED
    assert on.default_status == dg.DefaultSensorStatus.RUNNING


def test_deliveries_out_of_order_make_the_same_single_run(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    # Xero's sequence 5 arrives before 3-4 (a retried delivery overtaken by a newer one).
    same_id = "dddddddd-0000-4000-8000-000000000004"
    newer = event(A, "INVOICE", resource_id=same_id, date="2026-12-07T01:00:05.000")
    older = [
        event(A, "INVOICE", resource_id=same_id, date="2026-12-07T01:00:03.000"),
        event(A, "CONTACT", date="2026-12-07T01:00:04.000"),
    ]
    put(queue, newer)
    put(queue, *older)
    reversed_order = evaluate(instance, webhook_settings)
    (request,) = reversed_order.run_requests or []
    # The run reads each endpoint from its cursor: whichever came first, the newest state
    # lands. The key is the one the in-order deliveries would have made.
    in_order = plan([Event.parse(e) for e in [*older, newer]], [A])
    assert request.run_key == in_order.run_key(A)
    assert set(request.asset_selection or []) == {
        *endpoint_keys("contacts"),
        *endpoint_keys("invoices"),
    }


def test_a_run_waiting_in_the_queue_covers_new_events_of_its_tenant(
    instance: dg.DagsterInstance, webhook_settings: WebhookSettings, queue: WebhookQueue
) -> None:
    # Dagster's queue holds a webhook run of A for invoices (A's previous run still runs).
    waiting = create_run_for_test(
        instance,
        job_name="xero_webhook_extract",
        status=dg.DagsterRunStatus.NOT_STARTED,  # QUEUED wants a code origin; alike here
        asset_selection=frozenset(endpoint_keys("invoices")),
        tags={
            sensors.RUN_KEY_TAG: "webhook/a/earlier",
            "xero/tenant": A,
            sensors.TRIGGER_TAG: "webhook",
        },
    )
    put(queue, event(A, "INVOICE"), event(B, "INVOICE"))
    result = evaluate(instance, webhook_settings)
    # Not started, it will read A's invoices from the cursor: no second run behind it.
    assert [r.partition_key for r in result.run_requests or []] == [B]
    record(instance, result)
    evaluate(instance, webhook_settings, result.cursor)
    assert depth(queue) == 0  # A's message went with the waiting run
    # A contact change is not something the waiting run reads: it gets a run of its own.
    put(queue, event(A, "CONTACT"))
    (contact,) = evaluate(instance, webhook_settings).run_requests or []
    assert contact.partition_key == A
    # Once the waiting run has begun, a new invoice change needs a new run.
    instance.report_run_canceled(waiting)
    put(queue, event(A, "INVOICE", date="2026-12-07T02:00:00.000"))
    later = evaluate(instance, webhook_settings, None)
    assert A in [r.partition_key for r in later.run_requests or []]


def test_a_tick_without_a_reachable_queue_fails_saying_why(instance: dg.DagsterInstance) -> None:
    unset = WebhookSettings()
    with pytest.raises(dg.Failure, match="no webhook queue: set OAUTH_ETL_WEBHOOK_QUEUE"):
        evaluate(instance, unset)


def test_a_tick_with_an_unreachable_queue_fails_saying_the_events_wait(
    instance: dg.DagsterInstance,
) -> None:
    # Configured, but nothing listens: the tick fails (red in the UI), nothing is lost.
    dead = WebhookSettings(
        queue_connection_string=azurite_queue_connection_string(free_port()), queue="hooks-away"
    )
    with pytest.raises(dg.Failure) as failed:
        evaluate(instance, dead)
    said = failed.value.description or ""
    assert said.startswith("webhook queue 'hooks-away' on http://127.0.0.1:")
    assert ": create failed: the account cannot be reached — " in said
    assert said.endswith(": the events wait in the queue")

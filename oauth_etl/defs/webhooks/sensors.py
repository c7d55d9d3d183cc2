"""`xero_webhooks_sensor`: drains the webhook queue into one run per tenant.

A tick (1) deletes the messages of the previous tick whose runs the instance has recorded;
(2) takes what waits in the queue, each message hidden from other readers for
VISIBILITY_SECONDS; (3) coalesces the events per tenant and resource type into one run
request per tenant for the changed endpoints, keyed by the changes themselves, so that a
redelivered or duplicated event asks for no second run, and none at all when a run of
that tenant reading those endpoints waits in the run queue (it reads from its cursor when
it starts, so it lands these changes too); (4) sets aside, with the reason,
what it cannot act on (an unregistered tenant, a category no endpoint reads). The
messages' receipts ride in the cursor, which Dagster stores only once the tick's run
requests are: a tick killed before that leaves its messages to come back after their
visibility timeout (at most a duplicate run that lands nothing new), never lost.
"""

import dagster as dg
import orjson

from oauth_etl.app import contract
from oauth_etl.app.contract import ConfigError, WebhookSettings
from oauth_etl.defs.webhooks.jobs import endpoint_keys, xero_webhook_job
from oauth_etl.defs.webhooks.resources import WebhookQueueResource
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.schedules import TENANT_TAG
from oauth_etl.webhooks.events import Event, plan
from oauth_etl.webhooks.queue import QueueUnavailable, Received, WebhookQueue

INTERVAL_SECONDS = 10  # a save is in its table within a minute (bench/freshness.py)
# Longer than a tick and the daemon's pause between ticks: a message read by one tick
# stays hidden until the next deletes it. A daemon away longer lets it come back, which
# the run key makes harmless.
VISIBILITY_SECONDS = 600
MAX_MESSAGES_PER_TICK = 1024  # an hour of a busy organisation's saves; the rest next tick
RUN_KEY_TAG = "dagster/run_key"
TRIGGER_TAG = "xero/trigger"


def _recorded(instance: dg.DagsterInstance, run_key: str) -> bool:
    runs = instance.get_run_records(dg.RunsFilter(tags={RUN_KEY_TAG: run_key}), limit=1)
    return bool(runs)


NOT_BEGUN = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
]


def waiting_run_key(instance: dg.DagsterInstance, tenant: str, endpoints: set[str]) -> str | None:
    """The run key of a webhook run of `tenant` that has not begun and reads at least
    `endpoints`, if there is one."""
    wanted = {k for e in endpoints for k in endpoint_keys(e)}
    records = instance.get_run_records(
        dg.RunsFilter(tags={TENANT_TAG: tenant, TRIGGER_TAG: "webhook"}, statuses=NOT_BEGUN)
    )
    for record in records:
        run = record.dagster_run
        if run.asset_selection is not None and wanted <= run.asset_selection:
            return run.tags.get(RUN_KEY_TAG)
    return None


def settle(
    context: dg.SensorEvaluationContext, queue: WebhookQueue, cursor: str | None
) -> tuple[int, int]:
    """Delete the messages of the last tick whose runs are recorded: (deleted, kept)."""
    deleted = kept = 0
    pending = orjson.loads(cursor) if cursor else []
    recorded: dict[str, bool] = {}
    for item in pending:
        keys = item["run_keys"]
        for key in keys:
            if key not in recorded:
                recorded[key] = _recorded(context.instance, key)
        if all(recorded[k] for k in keys):
            deleted += queue.delete(item["id"], item["pop"])
        else:
            kept += 1  # comes back after its visibility timeout
    return deleted, kept


def drain(queue: WebhookQueue) -> list[Received]:
    found: list[Received] = []
    while len(found) < MAX_MESSAGES_PER_TICK:
        batch = queue.receive(min(32, MAX_MESSAGES_PER_TICK - len(found)), VISIBILITY_SECONDS)
        if not batch:
            break
        found += batch
    return found


def tick(context: dg.SensorEvaluationContext, webhooks: WebhookQueueResource) -> dg.SensorResult:
    try:
        queue = webhooks.open()
    except QueueUnavailable as exc:
        raise dg.Failure(description=f"{exc}: the events wait in the queue") from None
    except ConfigError as exc:  # turned on by hand without a queue
        raise dg.Failure(description=str(exc)) from None
    try:
        deleted, kept = settle(context, queue, context.cursor)
        messages = drain(queue)
        registered = context.instance.get_dynamic_partitions(TENANTS.name or "")
        events: list[Event] = [e for m in messages for e in m.events]
        wanted = plan(events, registered)
        aside: list[str] = []
        if wanted.unactionable:
            queue.set_aside(wanted.unactionable)
            for reason in sorted({why for _, why in wanted.unactionable}):
                count = sum(1 for _, why in wanted.unactionable if why == reason)
                aside.append(f"{count} webhook event(s) set aside: {reason}")
        for message in messages:
            if message.problem:
                aside.append(f"webhook queue message {message.id} set aside: {message.problem}")
                queue.set_aside_text(message.content, message.problem)
        for line in aside:
            context.log.warning(line)
        # A tenant's run that has not started yet reads from its cursor when it does, so
        # it lands these changes too: no second run behind it in the queue.
        keys_of = {
            tenant: waiting_run_key(context.instance, tenant, endpoints) or wanted.run_key(tenant)
            for tenant, endpoints in wanted.endpoints.items()
        }
        pending = []
        for message in messages:
            tenants = {e.tenant_id for e in message.events} & wanted.endpoints.keys()
            keys = sorted(keys_of[t] for t in tenants)
            if keys:
                pending.append({"id": message.id, "pop": message.pop_receipt, "run_keys": keys})
            else:  # nothing to run for it: what it held is set aside already
                queue.delete(message.id, message.pop_receipt)
    finally:
        queue.close()
    requests = [
        dg.RunRequest(
            run_key=wanted.run_key(tenant),
            partition_key=tenant,
            asset_selection=[k for e in sorted(endpoints) for k in endpoint_keys(e)],
            tags={TENANT_TAG: tenant, TRIGGER_TAG: "webhook"},
        )
        for tenant, endpoints in sorted(wanted.endpoints.items())
        if keys_of[tenant] == wanted.run_key(tenant)
    ]
    context.log.info(
        f"{len(messages)} message(s), {len(events)} event(s): {len(requests)} run(s) requested; "
        f"{deleted} message(s) of the last tick deleted, {kept} kept for later"
    )
    cursor = orjson.dumps(pending).decode()
    if not requests:
        # The tick's page in the UI says what was set aside (`oauth-etl webhooks status`
        # counts it).
        why = "; ".join(aside) or "no webhook events waiting"
        return dg.SensorResult(skip_reason=why, cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


def build_webhook_sensor(settings: WebhookSettings) -> dg.SensorDefinition:
    """On from the start when a queue is configured (the receiver fills it), else off."""
    status = (
        dg.DefaultSensorStatus.RUNNING if settings.configured() else dg.DefaultSensorStatus.STOPPED
    )

    @dg.sensor(
        name="xero_webhooks_sensor",
        job=xero_webhook_job,
        minimum_interval_seconds=INTERVAL_SECONDS,
        default_status=status,
        description="Drains Xero's webhook queue into one incremental run per tenant for "
        "the endpoints that changed (contacts, invoices, credit notes and their tables).",
    )
    def xero_webhooks_sensor(
        context: dg.SensorEvaluationContext, webhooks: WebhookQueueResource
    ) -> dg.SensorResult:
        return tick(context, webhooks)

    return xero_webhooks_sensor


@dg.definitions
def webhook_sensors() -> dg.Definitions:
    settings = contract.settings(WebhookSettings)
    return dg.Definitions(jobs=[xero_webhook_job], sensors=[build_webhook_sensor(settings)])

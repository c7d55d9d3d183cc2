"""The sandbox delivers webhooks as Xero does, over real HTTP: signed batches of its
contact, invoice and credit note changes, intent to receive, retries with back-off on anything but a
200, bounded."""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oauth_etl.webhooks.events import parse_delivery
from oauth_etl.webhooks.queue import WebhookQueue
from oauth_etl.webhooks.signature import HEADER, verify
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.sandbox.conftest import Xero
from oauth_etl_tests.webhooks.conftest import WEBHOOK_KEY, Receiver, start_receiver


class Recorder:
    """A receiver that answers `statuses` in turn (then 200) and keeps what it got."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.bodies: list[bytes] = []
        self.arrived: list[float] = []  # monotonic time of each request
        self.lock = threading.Lock()

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            self.arrived.append(time.monotonic())
            self.bodies.append(body)
            if not verify(body, request.headers.get(HEADER), WEBHOOK_KEY):
                return Response(status_code=401)
            status = self.statuses.pop(0) if self.statuses else 200
        return Response(status_code=status)


def subscribe(sandbox: Any, url: str, **extra: Any) -> None:
    sandbox.post("/_sandbox/webhooks", {"url": url, "key": WEBHOOK_KEY, **extra})


def first_tenant(sandbox: Any) -> str:
    return str(sandbox.admin.get("/_sandbox/tenants").json()[0]["tenantId"])


def test_changes_arrive_signed_in_xeros_shape_and_intent_to_receive_passes(
    sandbox_factory: SandboxFactory, receiver: Receiver, queue: WebhookQueue
) -> None:
    sandbox = sandbox_factory("--tenants", "2", "--records", "20", "--no-limits")
    subscribe(sandbox, receiver.url)
    intent = sandbox.post("/_sandbox/webhooks/intent", {}).json()
    assert intent["ok"], intent
    tenant = first_tenant(sandbox)
    invoice = sandbox.post(
        "/_sandbox/change", {"endpoint": "Invoices", "kind": "edit", "position": 0}
    ).json()["id"]
    contact = sandbox.post("/_sandbox/change", {"endpoint": "Contacts", "kind": "insert"}).json()[
        "id"
    ]
    sandbox.post("/_sandbox/change", {"endpoint": "Accounts", "kind": "edit", "position": 0})
    flushed = sandbox.post("/_sandbox/webhooks/flush", {}).json()
    assert flushed["flushed"] and flushed["target"]["given_up"] == 0
    events = {
        (e.resource_id, e.category, e.event_type, e.tenant_id)
        for m in queue.receive(32, 30)
        for e in m.events
    }
    assert events == {
        (invoice.lower(), "INVOICE", "UPDATE", tenant),
        (contact.lower(), "CONTACT", "CREATE", tenant),
    }  # Accounts: Xero sends no webhook for them


def test_a_non_200_is_retried_with_back_off_and_sequences_count_up(
    sandbox_factory: SandboxFactory,
) -> None:
    recorder = Recorder([503, 500])
    app = Starlette(routes=[Route("/hook", recorder.handle, methods=["POST"])])
    started = start_receiver(app)
    try:
        sandbox = sandbox_factory("--records", "20", "--no-limits")
        subscribe(sandbox, started.url.replace("/webhooks/xero", "/hook"), first_delay=0.1)
        for position in (0, 1):
            sandbox.post(
                "/_sandbox/change", {"endpoint": "Invoices", "kind": "edit", "position": position}
            )
            sandbox.post("/_sandbox/webhooks/flush", {})
        target = sandbox.admin.get("/_sandbox/webhooks").json()["target"]
        assert (target["deliveries"], target["retries"], target["given_up"]) == (2, 2, 0)
        deliveries = [parse_delivery(b) for b in recorder.bodies]
        assert len(deliveries) == 4  # 503, 500, then 200; then 200 at once
        assert deliveries[0] == deliveries[2]  # a retry is the same delivery
        assert deliveries[3].first_sequence == deliveries[2].last_sequence + 1
        assert all("entropy" in orjson.loads(b) for b in recorder.bodies)
    finally:
        started.stop()


def test_credit_note_changes_arrive_as_creditnote_events_with_type_and_status(
    sandbox_factory: SandboxFactory,
) -> None:
    # The spec's shape (xero-webhooks.yaml v12.0.2, CreditNoteWebhookEvent): category
    # CREDITNOTE, resource CreditNotes, `data` with the credit note's Type and Status.
    recorder = Recorder([])
    started = start_receiver(Starlette(routes=[Route("/hook", recorder.handle, methods=["POST"])]))
    try:
        sandbox = sandbox_factory("--records", "20", "--no-limits")
        subscribe(sandbox, started.url.replace("/webhooks/xero", "/hook"))
        changes = [("archive", 0), ("delete", 1), ("insert", None)]
        ids = [
            sandbox.post(
                "/_sandbox/change", {"endpoint": "CreditNotes", "kind": kind, "position": pos}
            ).json()["id"]
            for kind, pos in changes
        ]
        assert sandbox.post("/_sandbox/webhooks/flush", {}).json()["target"]["deliveries"] >= 1
        raw = [e for b in recorder.bodies for e in orjson.loads(b)["events"]]
        assert [e["resourceId"] for e in raw] == ids
        assert {(e["eventCategory"], e["tenantType"]) for e in raw} == {
            ("CREDITNOTE", "ORGANISATION")
        }
        assert [e["eventType"] for e in raw] == ["UPDATE", "UPDATE", "CREATE"]
        assert all(e["resourceUrl"].endswith(f"/CreditNotes/{e['resourceId']}") for e in raw)
        assert [e["data"]["Status"] for e in raw[:2]] == ["VOIDED", "DELETED"]
        assert {e["data"]["Type"] for e in raw} <= {"ACCPAYCREDIT", "ACCRECCREDIT"}
        assert raw[2]["data"]["Status"] in ("AUTHORISED", "PAID", "DRAFT")
        assert {e.category for b in recorder.bodies for e in parse_delivery(b).events} == {
            "CREDITNOTE"
        }
    finally:
        started.stop()


def test_the_wait_between_retries_doubles(sandbox_factory: SandboxFactory) -> None:
    # Xero retries "with decreasing frequency" (webhooks/configuring-your-server): here
    # first_delay, then twice as long each time.
    recorder = Recorder([503, 503, 503])
    started = start_receiver(Starlette(routes=[Route("/hook", recorder.handle, methods=["POST"])]))
    try:
        sandbox = sandbox_factory("--records", "20", "--no-limits")
        url = started.url.replace("/webhooks/xero", "/hook")
        subscribe(sandbox, url, first_delay=0.2)
        sandbox.post("/_sandbox/change", {"endpoint": "Invoices", "kind": "edit", "position": 0})
        assert sandbox.post("/_sandbox/webhooks/flush", {}).json()["target"]["deliveries"] == 1
        times = recorder.arrived
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert len(gaps) == 3
        # A gap is at least its sleep (0.2, 0.4, 0.8 s); equal sleeps would leave the later
        # gaps near 0.2 s.
        assert gaps[0] >= 0.2 and gaps[1] >= 0.4 and gaps[2] >= 0.8, gaps
    finally:
        started.stop()


def test_retries_are_bounded(sandbox_factory: SandboxFactory) -> None:
    recorder = Recorder([503] * 100)
    started = start_receiver(Starlette(routes=[Route("/hook", recorder.handle, methods=["POST"])]))
    try:
        sandbox = sandbox_factory("--records", "20", "--no-limits")
        url = started.url.replace("/webhooks/xero", "/hook")
        subscribe(sandbox, url, attempts=3, first_delay=0.05)
        sandbox.post("/_sandbox/change", {"endpoint": "Contacts", "kind": "edit", "position": 0})
        sandbox.post("/_sandbox/webhooks/flush", {})
        target = sandbox.admin.get("/_sandbox/webhooks").json()["target"]
        assert (target["attempts"], target["given_up"], len(recorder.bodies)) == (3, 1, 3)
    finally:
        started.stop()


def test_the_subscription_survives_a_reset(
    sandbox_factory: SandboxFactory, receiver: Receiver, queue: WebhookQueue
) -> None:
    sandbox = sandbox_factory("--records", "5", "--no-limits")
    subscribe(sandbox, receiver.url)
    sandbox.reset()
    sandbox.post("/_sandbox/change", {"endpoint": "Invoices", "kind": "insert"})
    sandbox.post("/_sandbox/webhooks/flush", {})
    assert [e.event_type for m in queue.receive(32, 30) for e in m.events] == ["CREATE"]


def test_only_a_local_delivery_url_is_accepted(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory("--records", "5", "--no-limits")
    response = sandbox.admin.post(
        "/_sandbox/webhooks", json={"url": "http://example.com/hook", "key": "k"}
    )
    assert response.status_code == 400 and "127.0.0.1" in response.json()["error"]
    assert httpx.get(sandbox.url + "/_sandbox/webhooks").json() == {"target": None}


def test_the_cli_flag_subscribes_from_the_start(
    sandbox_factory: SandboxFactory, receiver: Receiver, queue: WebhookQueue, monkeypatch: Any
) -> None:
    monkeypatch.setenv("XERO_WEBHOOK_KEY", WEBHOOK_KEY)  # the key from the environment
    sandbox = sandbox_factory("--records", "5", "--no-limits", "--webhook-url", receiver.url)
    sandbox.post("/_sandbox/change", {"endpoint": "Contacts", "kind": "edit", "position": 0})
    sandbox.post("/_sandbox/webhooks/flush", {})
    assert len([e for m in queue.receive(32, 30) for e in m.events]) == 1


def test_edit_mode_changes_are_delivered(
    sandbox_factory: SandboxFactory, receiver: Receiver, queue: WebhookQueue, monkeypatch: Any
) -> None:
    # The edit mode (sandbox/edits.py): after each accounting call a user edits a record of
    # the endpoint just read; each edit is a webhook, as any other change.
    monkeypatch.setenv("XERO_WEBHOOK_KEY", WEBHOOK_KEY)
    sandbox = sandbox_factory(
        "--records", "20", "--no-limits", "--webhook-url", receiver.url,
        "--edits-per-call", "1", "--edit-kind", "edit", "--edit-endpoint", "CreditNotes",
    )  # fmt: skip
    xero = Xero(sandbox.url, sandbox.client_id, sandbox.client_secret)
    try:
        token = xero.login()["access_token"]
        tenant = xero.tenants(token)[0]
        for _ in range(3):
            assert xero.api("CreditNotes", token, tenant).status_code == 200
    finally:
        xero.close()
    assert sandbox.post("/_sandbox/webhooks/flush", {}).json()["flushed"]
    records = sandbox.admin.get(
        "/_sandbox/records", params={"tenant_id": tenant, "endpoint": "CreditNotes"}
    ).json()
    edited = {r["CreditNoteID"].lower() for r in records if "(rev " in r["Reference"]}
    assert sandbox.stats()["edits"]["applied"] == {"edit": 3}  # type: ignore[index]
    assert 1 <= len(edited) <= 3  # the same record may be edited twice
    delivered = [e for m in queue.receive(32, 30) for e in m.events]
    assert len(delivered) == 3
    assert {e.resource_id for e in delivered} == edited
    assert {(e.category, e.event_type, e.tenant_id) for e in delivered} == {
        ("CREDITNOTE", "UPDATE", tenant.lower())
    }

"""The receiver over real HTTP with a real Azurite queue: 401 to anything unsigned or
wrongly signed, 200 to intent to receive and to every valid delivery once the queue holds
it, 5xx when the queue cannot be reached (so Xero retries), 413 beyond the size limit."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.webhooks.events import decode_events
from oauth_etl.webhooks.queue import WebhookQueue, open_queue
from oauth_etl.webhooks.receiver import HEALTH, build_app
from oauth_etl.webhooks.signature import HEADER, sign, verify
from oauth_etl_dev.local_services import azurite_queue_connection_string, free_port
from oauth_etl_tests.webhooks.conftest import WEBHOOK_KEY, Receiver, start_receiver
from oauth_etl_tests.webhooks.payloads import delivery, event, signed

TENANT = "3fa85f64-5717-4562-b3fc-2c963f66afa6"


def waiting(queue: WebhookQueue) -> list[str]:
    """The event ids in the queue (peeked: left for the sensor)."""
    ids = []
    for message in queue.main.peek_messages(max_messages=32):
        ids += [e.resource_id for e in decode_events(message.content)]
    return ids


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    # A known vector: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
    body = b"The quick brown fox jumps over the lazy dog"
    assert sign(body, "key") == "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="
    assert verify(body, sign(body, "key"), "key")
    assert not verify(body + b" ", sign(body, "key"), "key")
    assert not verify(body, None, "key")


def test_intent_to_receive_answers_200_signed_and_401_unsigned(
    receiver: Receiver, queue: WebhookQueue
) -> None:
    # Xero's probe: a series of correctly and incorrectly signed payloads with no events.
    body = delivery([])
    good = httpx.post(receiver.url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=5)
    bad = httpx.post(receiver.url, content=body, headers=signed(body, "not-the-key"), timeout=5)
    assert (good.status_code, bad.status_code) == (200, 401)
    assert good.content == b"" and "set-cookie" not in good.headers  # what Xero expects
    assert waiting(queue) == []  # a probe carries nothing to keep


def test_a_valid_delivery_is_in_the_queue_before_its_200(
    receiver: Receiver, queue: WebhookQueue
) -> None:
    events = [event(TENANT, "INVOICE"), event(TENANT, "CONTACT")]
    body = delivery(events)
    started = time.monotonic()
    response = httpx.post(receiver.url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=5)
    assert response.status_code == 200
    assert time.monotonic() - started < 5.0  # Xero's deadline
    assert waiting(queue) == [e["resourceId"] for e in events]  # already there at the 200


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({}, "missing header"),
        ({HEADER: "c2lnbmF0dXJl"}, "wrong signature"),
        ({HEADER: ""}, "empty header"),
    ],
)
def test_unsigned_or_wrongly_signed_is_401_and_kept_nowhere(
    receiver: Receiver,
    queue: WebhookQueue,
    headers: dict[str, str],
    why: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, "oauth_etl.webhooks")
    body = delivery([event(TENANT)])
    response = httpx.post(receiver.url, content=body, headers=headers, timeout=5)
    assert response.status_code == 401, why
    assert waiting(queue) == []
    assert "answered 401" in caplog.text  # the reason is logged ...
    for secret in (WEBHOOK_KEY, body.decode(), *(v for v in headers.values() if v)):
        assert secret not in caplog.text  # ... never the key, the body or the signature


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 401),  # unsigned empty body
        (b"{not json", 400),
        (b'{"events": "nope"}', 400),
        (b'{"events": [{"tenantId": "x"}]}', 400),
    ],
)
def test_bad_bodies(receiver: Receiver, queue: WebhookQueue, body: bytes, status: int) -> None:
    headers = signed(body, WEBHOOK_KEY) if status != 401 else {}
    assert httpx.post(receiver.url, content=body, headers=headers, timeout=5).status_code == status
    assert waiting(queue) == []


def test_a_signed_empty_body_is_400_saying_it_is_empty(
    receiver: Receiver, queue: WebhookQueue, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "oauth_etl.webhooks")
    response = httpx.post(receiver.url, content=b"", headers=signed(b"", WEBHOOK_KEY), timeout=5)
    assert response.status_code == 400
    # Its own reason, not the JSON check's ("body is not JSON"), which would also give 400.
    assert "answered 400: signed body is not a delivery: empty body" in caplog.text
    assert waiting(queue) == []


def test_a_10_mb_body_is_413_without_reading_it_all(
    receiver: Receiver, queue: WebhookQueue
) -> None:
    body = b"[" + b" " * (10 * 1024 * 1024) + b"]"
    response = httpx.post(receiver.url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=10)
    assert response.status_code == 413

    def chunked() -> Iterator[bytes]:  # no Content-Length: the limit is counted while reading
        for _ in range(10):
            yield b" " * (1024 * 1024)

    response = httpx.post(receiver.url, content=chunked(), headers={HEADER: "x"}, timeout=10)
    assert response.status_code == 413
    assert waiting(queue) == []


def test_an_unknown_category_and_an_unknown_tenant_are_kept(
    receiver: Receiver, queue: WebhookQueue
) -> None:
    # The receiver does not judge meaning: the sensor reports what it cannot act on.
    events = [event("00000000-0000-0000-0000-000000000001", "SUBSCRIPTION"), event(TENANT)]
    body = delivery(events)
    response = httpx.post(receiver.url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=5)
    assert response.status_code == 200
    assert waiting(queue) == [e["resourceId"] for e in events]


def test_a_large_delivery_is_split_into_messages_the_queue_accepts(
    receiver: Receiver, queue: WebhookQueue
) -> None:
    events = [event(TENANT) for _ in range(400)]  # ~150 KB of JSON: over a message's 64 KiB
    body = delivery(events)
    response = httpx.post(receiver.url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=5)
    assert response.status_code == 200
    kept = [e.resource_id for m in queue.receive(32, 30) for e in m.events]
    assert sorted(kept) == sorted(e["resourceId"] for e in events)


def assert_503_logged_without_secrets(
    url: str, caplog: pytest.LogCaptureFixture, *, within: float
) -> None:
    """A signed delivery is answered 503 within `within` s (Xero retries anything but a
    200), and the log holds neither the key, the signature nor the body."""
    body = delivery([event(TENANT)])
    caplog.set_level(logging.WARNING, "oauth_etl.webhooks")
    begun = time.monotonic()
    response = httpx.post(url, content=body, headers=signed(body, WEBHOOK_KEY), timeout=8)
    assert response.status_code == 503
    assert time.monotonic() - begun < within
    assert WEBHOOK_KEY not in caplog.text and sign(body, WEBHOOK_KEY) not in caplog.text
    assert body.decode() not in caplog.text


def test_an_unreachable_queue_is_503_with_the_reason_logged(
    webhook_settings: WebhookSettings, caplog: pytest.LogCaptureFixture
) -> None:
    dead = WebhookSettings(
        key=WEBHOOK_KEY,
        queue_connection_string=webhook_settings.queue_connection_string.replace(  # type: ignore[union-attr]
            webhook_settings.queue_connection_string.split(":")[-1].split("/")[0],  # type: ignore[union-attr]
            str(free_port()),
        ),
        queue=webhook_settings.queue,
    )
    unreachable = open_queue(dead, timeout=1.0)
    started = start_receiver(build_app(WEBHOOK_KEY, unreachable, deadline_seconds=4.0))
    try:
        assert_503_logged_without_secrets(started.url, caplog, within=5.0)
        assert "503" in caplog.text and "put failed" in caplog.text
    finally:
        started.stop()
        unreachable.close()


class Hanging:
    """A loopback listener that accepts connections and never answers (a hung queue)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:  # closed
                return
            self.held.append(conn)  # kept open, never read, never answered

    def close(self) -> None:
        self.server.close()
        for conn in self.held:
            conn.close()


def test_a_hanging_queue_is_503_within_the_deadline_with_the_reason_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    hanging = Hanging()
    settings = WebhookSettings(
        key=WEBHOOK_KEY,
        queue_connection_string=azurite_queue_connection_string(hanging.port),
        queue="hooks-hanging",
    )
    # Each SDK call may wait 10 s (twice, with its retry): only the receiver's own
    # deadline (1 s here, 4 s in service) keeps the answer within Xero's 5 s.
    hung = open_queue(settings, timeout=10.0)
    started = start_receiver(build_app(WEBHOOK_KEY, hung, deadline_seconds=1.0))
    try:
        assert_503_logged_without_secrets(started.url, caplog, within=3.0)
        assert hanging.held  # the queue was reached: it accepted and said nothing
        assert "answered 503: queue 'hooks-hanging' did not answer in 1 s" in caplog.text
    finally:
        started.stop()
        hanging.close()  # the SDK's call still waiting fails now
        hung.close()


def test_health(receiver: Receiver) -> None:
    response = httpx.get(receiver.url.rsplit("/webhooks", 1)[0] + HEALTH, timeout=5)
    assert response.status_code == 200 and response.text.startswith("ok")

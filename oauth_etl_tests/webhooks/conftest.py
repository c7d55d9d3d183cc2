"""The webhook tests' services: Azurite's queue service, a receiver over real HTTP."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.webhooks.queue import WebhookQueue, open_queue
from oauth_etl.webhooks.receiver import build_app
from oauth_etl_dev.demo_webhooks import ReceiverThread
from oauth_etl_dev.local_services import AzuriteQueue, start_azurite_queue

WEBHOOK_KEY = "test-webhook-key-" + "k" * 40


@pytest.fixture(scope="session")
def azurite_queue() -> Iterator[AzuriteQueue]:
    service = start_azurite_queue()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def webhook_settings(azurite_queue: AzuriteQueue) -> WebhookSettings:
    """Settings naming a fresh queue (and its unactionable twin) for one test."""
    return WebhookSettings(
        key=WEBHOOK_KEY,
        queue_connection_string=azurite_queue.connection_string,
        queue=f"hooks-{uuid.uuid4().hex[:16]}",
    )


@pytest.fixture
def queue(webhook_settings: WebhookSettings) -> Iterator[WebhookQueue]:
    opened = open_queue(webhook_settings, timeout=2.0)
    opened.ensure()
    try:
        yield opened
    finally:
        for client in (opened.main, opened.unactionable):
            client.delete_queue()
        opened.close()


Receiver = ReceiverThread
start_receiver = ReceiverThread.start


@pytest.fixture
def receiver(queue: WebhookQueue) -> Iterator[Receiver]:
    started = start_receiver(build_app(WEBHOOK_KEY, queue, max_body_bytes=1_048_576))
    try:
        yield started
    finally:
        started.stop()

"""The webhook tests' services: Azurite's queue service, a receiver over real HTTP."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import uvicorn

from oauth_etl.app.contract import WebhookSettings
from oauth_etl.webhooks.queue import WebhookQueue, open_queue
from oauth_etl.webhooks.receiver import PATH, build_app
from oauth_etl_dev.local_services import AzuriteQueue, free_port, start_azurite_queue

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


@dataclass
class Receiver:
    url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def start_receiver(app: Any) -> Receiver:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=lambda: asyncio.run(server.serve()), name="webhook-receiver", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.01)
    return Receiver(f"http://127.0.0.1:{port}{PATH}", app, server, thread)


@pytest.fixture
def receiver(queue: WebhookQueue) -> Iterator[Receiver]:
    started = start_receiver(build_app(WEBHOOK_KEY, queue, max_body_bytes=1_048_576))
    try:
        yield started
    finally:
        started.stop()

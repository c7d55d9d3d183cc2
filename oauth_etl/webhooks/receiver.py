"""The receiver: an ASGI app Xero posts its webhook deliveries to.

What Xero asks of it (developer.xero.com/documentation/webhooks/configuring-your-server):
answer within 5 seconds, 200 with no body and no cookies for a correctly signed payload,
401 for a wrongly signed one; an "intent to receive" probe is a series of both. Anything
else (a 5xx, a timeout) is retried "with decreasing frequency for up to 24 hours", then the
webhook is disabled.

So the receiver does the least that keeps a delivery: verify, check the shape, write the
events to the queue, answer. It never waits on Dagster. A delivery is answered 200 only
once the queue holds it; a queue that cannot be reached in time gets a 503 (Xero sends it
again) and a log line saying why. Logs never carry a body, a signature or the key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oauth_etl.webhooks.events import DeliveryError, parse_delivery
from oauth_etl.webhooks.queue import QueueUnavailable, WebhookQueue
from oauth_etl.webhooks.signature import HEADER, verify

log = logging.getLogger("oauth_etl.webhooks")

PATH = "/webhooks/xero"
HEALTH = "/healthz"
# Xero waits 5 s; the queue write must be done (or given up) well before.
QUEUE_DEADLINE_SECONDS = 4.0


@dataclass
class ReceiverStats:
    accepted: int = 0
    intents: int = 0
    refused: int = 0
    failed: int = 0


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes without reading them all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def build_app(
    key: str,
    queue: WebhookQueue,
    *,
    max_body_bytes: int = 1_048_576,
    deadline_seconds: float = QUEUE_DEADLINE_SECONDS,
) -> Starlette:
    """The receiver, signing with `key` and persisting to `queue`."""
    stats = ReceiverStats()

    def answer(status: int, reason: str | None = None) -> Response:
        if reason:
            log.warning("webhook delivery answered %d: %s", status, reason)
        if status >= 500:
            stats.failed += 1
        elif status >= 400:
            stats.refused += 1
        return Response(status_code=status)  # no body, no cookies: what Xero expects

    async def deliver(request: Request) -> Response:
        started = time.monotonic()
        try:
            body = await read_body(request, max_body_bytes)
        except TooLarge:
            return answer(413, f"body larger than {max_body_bytes} bytes")
        signature = request.headers.get(HEADER)
        if not signature:
            return answer(401, f"no {HEADER} header")
        if not verify(body, signature, key):
            return answer(401, "signature does not match the webhook key")
        try:
            delivery = parse_delivery(body)
        except DeliveryError as exc:
            return answer(400, f"signed body is not a delivery: {exc}")
        if delivery.intent_to_receive:
            stats.intents += 1
            return answer(200)
        try:
            messages = await asyncio.wait_for(
                run_in_threadpool(queue.put, delivery.events), deadline_seconds
            )
        except TimeoutError:
            return answer(503, f"queue {queue.name!r} did not answer in {deadline_seconds:.0f} s")
        except QueueUnavailable as exc:
            return answer(503, str(exc))
        stats.accepted += 1
        log.info(
            "webhook delivery %d-%d kept: %d event(s), %d message(s), %.0f ms",
            delivery.first_sequence,
            delivery.last_sequence,
            len(delivery.events),
            messages,
            (time.monotonic() - started) * 1000,
        )
        return answer(200)

    async def health(request: Request) -> Response:
        return Response(
            f"ok accepted={stats.accepted} intents={stats.intents} "
            f"refused={stats.refused} failed={stats.failed}\n",
            media_type="text/plain",
        )

    app = Starlette(
        routes=[Route(PATH, deliver, methods=["POST"]), Route(HEALTH, health, methods=["GET"])]
    )
    app.state.stats = stats
    return app

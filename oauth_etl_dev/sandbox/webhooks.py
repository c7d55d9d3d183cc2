"""The sandbox sends webhooks as Xero does, whenever its contacts, invoices or credit
notes change.

Xero's behaviour, modelled (developer.xero.com/documentation/webhooks/overview and
.../webhooks/configuring-your-server): a POST of a JSON batch (`events`,
`firstEventSequence`, `lastEventSequence`, `entropy`), signed in `x-xero-signature` with
the base64 HMAC-SHA256 of the body keyed with the app's webhook key; CONTACT, INVOICE and
CREDITNOTE events, CREATE for a new record and UPDATE otherwise (archiving included), a
CREDITNOTE one with `data: {Type, Status}` (XeroAPI/Xero-OpenAPI xero-webhooks.yaml
v12.0.2, webhook `creditNotes`, schema CreditNoteWebhookEvent); a response
other than 200 within 5 s is retried with decreasing frequency (Xero: for up to 24 hours,
then the webhook is disabled; here a bounded number of attempts, counted in `given_up`).
"Intent to receive" sends correctly and incorrectly signed empty batches and passes when
the first get 200 and the second 401.

Deliveries go only to 127.0.0.1/localhost: the sandbox is a local Xero. Changes made within
`batch_seconds` of each other travel in one batch; one sender thread keeps their order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import queue
import secrets
import string
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson

# Sandbox endpoint -> (eventCategory, resource path): the organisation events Xero sends
# (webhooks/overview; CREDITNOTE: xero-webhooks.yaml v12.0.2).
CATEGORIES: Mapping[str, tuple[str, str]] = {
    "Contacts": ("CONTACT", "Contacts"),
    "Invoices": ("INVOICE", "Invoices"),
    "CreditNotes": ("CREDITNOTE", "CreditNotes"),
}
# The record's fields a category's event carries in `data` (schema CreditNoteWebhookEvent:
# required Type, Status).
DATA_FIELDS: Mapping[str, tuple[str, ...]] = {"CREDITNOTE": ("Type", "Status")}
HEADER = "x-xero-signature"
DEADLINE_SECONDS = 5.0  # Xero's: "responds within 5 seconds"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
ENTROPY_ALPHABET = string.ascii_uppercase + string.digits


class WebhookSpecError(ValueError):
    """A webhook target the sandbox cannot use."""


def sign(body: bytes, key: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    key: str = field(repr=False)
    attempts: int = 6  # then given up (Xero keeps trying for 24 h)
    first_delay: float = 0.5  # doubles after each failed attempt
    batch_seconds: float = 0.2

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme != "http" or parts.hostname not in LOCAL_HOSTS:
            raise WebhookSpecError("the delivery URL must be http://127.0.0.1:PORT/... (local)")
        if not self.key:
            raise WebhookSpecError("the webhook key must not be empty")
        if not 1 <= self.attempts <= 20 or self.first_delay < 0 or self.batch_seconds < 0:
            raise WebhookSpecError("attempts 1-20, first_delay and batch_seconds >= 0")


def parse_target(payload: Any) -> WebhookTarget:
    if not isinstance(payload, dict) or not isinstance(payload.get("url"), str):
        raise WebhookSpecError('body must be {"url": "http://127.0.0.1:PORT/...", "key": "..."}')
    try:
        return WebhookTarget(
            url=payload["url"],
            key=str(payload.get("key", "")),
            attempts=int(payload.get("attempts", 6)),
            first_delay=float(payload.get("first_delay", 0.5)),
            batch_seconds=float(payload.get("batch_seconds", 0.2)),
        )
    except (TypeError, ValueError) as exc:
        raise WebhookSpecError(str(exc)) from exc


def event_date(now_ms: int) -> str:
    """Xero's eventDateUtc: ISO, milliseconds, no zone (UTC)."""
    return datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


class WebhookSender:
    """Batches change events and delivers them to one target, on its own thread."""

    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self._events: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._sequence = 0
        self._pending = 0  # events queued, not yet delivered or given up
        self._lock = threading.Lock()
        self.stats: dict[str, int] = {
            "events": 0,
            "deliveries": 0,
            "attempts": 0,
            "retries": 0,
            "given_up": 0,
        }
        self.last_status: int | None = None
        self._client = httpx.Client(timeout=DEADLINE_SECONDS)
        self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._thread.start()

    def notify(
        self,
        tenant_id: str,
        endpoint: str,
        kind: str,
        record_id: str,
        now_ms: int,
        record: Mapping[str, Any],
    ) -> None:
        """A store listener (store.ChangeListener): queue the event of one change."""
        found = CATEGORIES.get(endpoint)
        if found is None:
            return  # Xero sends no webhook for it
        category, resource = found
        event: dict[str, Any] = {
            "resourceUrl": f"https://api.xero.com/api.xro/2.0/{resource}/{record_id}",
            "resourceId": record_id,
            "eventDateUtc": event_date(now_ms),
            "eventType": "CREATE" if kind == "insert" else "UPDATE",
            "eventCategory": category,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
        }
        if category in DATA_FIELDS:
            event["data"] = {name: record.get(name) for name in DATA_FIELDS[category]}
        with self._lock:
            self._pending += 1
        self._events.put(event)

    def _run(self) -> None:
        while True:
            first = self._events.get()
            if first is None:
                return
            batch = [first]
            deadline = time.monotonic() + self.target.batch_seconds
            closing = False
            while (left := deadline - time.monotonic()) > 0:
                try:
                    more = self._events.get(timeout=left)
                except queue.Empty:
                    break
                if more is None:
                    closing = True
                    break
                batch.append(more)
            self._deliver(batch)
            if closing:
                return

    def _payload(self, events: list[dict[str, Any]]) -> bytes:
        with self._lock:
            first = self._sequence + 1
            self._sequence += len(events)
        entropy = "".join(secrets.choice(ENTROPY_ALPHABET) for _ in range(20))
        return orjson.dumps(
            {
                "events": events,
                "firstEventSequence": first,
                "lastEventSequence": first + len(events) - 1,
                "entropy": entropy,
            }
        )

    def _post(self, body: bytes, key: str) -> int | None:
        try:
            response = self._client.post(
                self.target.url,
                content=body,
                headers={HEADER: sign(body, key), "content-type": "application/json"},
            )
        except (httpx.HTTPError, RuntimeError):  # RuntimeError: closed while retrying
            return None  # refused, reset or slower than Xero's deadline: a failure
        return response.status_code

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        try:
            self._attempt(events)
        finally:
            with self._lock:
                self._pending -= len(events)

    def _attempt(self, events: list[dict[str, Any]]) -> None:
        body = self._payload(events)
        self.stats["events"] += len(events)
        delay = self.target.first_delay
        for attempt in range(self.target.attempts):
            if attempt:
                self.stats["retries"] += 1
                time.sleep(delay)
                delay *= 2  # decreasing frequency, as Xero retries
            self.stats["attempts"] += 1
            self.last_status = self._post(body, self.target.key)
            if self.last_status == 200:
                self.stats["deliveries"] += 1
                return
        self.stats["given_up"] += 1

    def intent_to_receive(self, probes: int = 2) -> dict[str, Any]:
        """Xero's validation: signed empty batches must get 200, wrongly signed ones 401."""
        results: list[dict[str, Any]] = []
        wrong_key = secrets.token_urlsafe(32)
        for signed in [True] * probes + [False] * probes:
            body = self._payload([])
            started = time.monotonic()
            status = self._post(body, self.target.key if signed else wrong_key)
            seconds = time.monotonic() - started
            expected = 200 if signed else 401
            results.append(
                {
                    "signed": signed,
                    "status": status,
                    "ok": status == expected and seconds <= DEADLINE_SECONDS,
                }
            )
        return {"ok": all(r["ok"] for r in results), "probes": results}

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every change so far was delivered or given up (tests, the demo)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._pending == 0:
                    return True
            time.sleep(0.02)
        return False

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.target.url,
            "attempts": self.target.attempts,
            "first_delay": self.target.first_delay,
            "batch_seconds": self.target.batch_seconds,
            "last_sequence": self._sequence,
            "last_status": self.last_status,
            **self.stats,
        }

    def close(self) -> None:
        self._events.put(None)
        self._thread.join(timeout=5.0)  # a daemon thread: one still retrying is left behind
        self._client.close()


class Subscription:
    """The app's webhook subscription: one sender at a time, told of every store change."""

    def __init__(self, listeners: list[Any]) -> None:
        self._listeners = listeners
        self.sender: WebhookSender | None = None

    def set(self, target: WebhookTarget | None) -> None:
        if self.sender is not None:
            self._listeners.remove(self.sender.notify)
            self.sender.close()
        self.sender = WebhookSender(target) if target is not None else None
        if self.sender is not None:
            self._listeners.append(self.sender.notify)

    def as_json(self) -> dict[str, Any]:
        return {"target": self.sender.as_json() if self.sender else None}

    def admin(self, method: str, action: str, payload: Any) -> dict[str, Any]:
        """`/_sandbox/webhooks[/ACTION]`: GET shows, POST sets the target, DELETE stops;
        POST `intent` runs intent to receive, POST `flush` waits for the deliveries."""
        if action == "" and method == "POST":
            self.set(parse_target(payload))
        elif action == "" and method == "DELETE":
            self.set(None)
        elif action in ("intent", "flush"):
            if self.sender is None:
                raise WebhookSpecError("no webhook target: POST /_sandbox/webhooks first")
            if action == "intent":
                return self.sender.intent_to_receive()
            return {"flushed": self.sender.flush(), **self.as_json()}
        return self.as_json()

"""A Xero webhook delivery, and what it asks the pipeline to read.

Payload (developer.xero.com/documentation/webhooks/overview, "Payloads"; the same shape in
XeroAPI/Xero-OpenAPI xero-webhooks.yaml, schema WebhookEvent): `events`, `firstEventSequence`,
`lastEventSequence`, `entropy`; each event has `resourceUrl`, `resourceId`, `eventDateUtc`,
`eventType` (CREATE, UPDATE), `eventCategory` (CONTACT, INVOICE, CREDITNOTE; SUBSCRIPTION
for app subscriptions), `tenantId`, `tenantType` (ORGANISATION, APPLICATION). A CREDITNOTE
event also carries `data: {Type, Status}` (xero-webhooks.yaml v12.0.2, webhook
`creditNotes`, schema CreditNoteWebhookEvent); it is not kept: the run reads both types
from the cursor either way. An "intent to receive" probe is a delivery with no events
(.../webhooks/configuring-your-server).

The receiver checks the shape only; what an event means is decided when the queue is
drained (`plan`), so an event of a category this code does not know yet is kept, not
refused.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# The event categories an endpoint reads, as data: the organisation events Xero sends,
# CONTACT and INVOICE (developer.xero.com/documentation/webhooks/overview) and CREDITNOTE
# ("For organisation credit note-related events": xero-webhooks.yaml v12.0.2, eventCategory).
ENDPOINTS_BY_CATEGORY: Mapping[str, str] = {
    "CONTACT": "contacts",
    "INVOICE": "invoices",
    "CREDITNOTE": "credit_notes",
}
EVENT_FIELDS = ("resourceId", "eventDateUtc", "eventType", "eventCategory", "tenantId")


class DeliveryError(ValueError):
    """A signed body that is not a Xero delivery; the message says what is wrong."""


@dataclass(frozen=True)
class Event:
    tenant_id: str
    category: str
    event_type: str
    resource_id: str
    event_date: str
    resource_url: str = ""
    tenant_type: str = "ORGANISATION"

    @classmethod
    def parse(cls, raw: Any) -> Event:
        if not isinstance(raw, dict):
            raise DeliveryError("an event is not a JSON object")
        absent = [name for name in EVENT_FIELDS if not isinstance(raw.get(name), str)]
        if absent:
            raise DeliveryError(f"an event lacks {', '.join(absent)}")
        return cls(
            tenant_id=raw["tenantId"].lower(),
            category=raw["eventCategory"].upper(),
            event_type=raw["eventType"].upper(),
            resource_id=raw["resourceId"].lower(),
            event_date=raw["eventDateUtc"],
            resource_url=str(raw.get("resourceUrl", "")),
            tenant_type=str(raw.get("tenantType", "ORGANISATION")),
        )

    def as_json(self) -> dict[str, str]:
        return {
            "tenantId": self.tenant_id,
            "eventCategory": self.category,
            "eventType": self.event_type,
            "resourceId": self.resource_id,
            "eventDateUtc": self.event_date,
            "resourceUrl": self.resource_url,
            "tenantType": self.tenant_type,
        }

    def identity(self) -> str:
        """Equal for the same change delivered twice (a retry, a redelivery)."""
        return "|".join(
            (self.tenant_id, self.category, self.event_type, self.resource_id, self.event_date)
        )


@dataclass(frozen=True)
class Delivery:
    events: tuple[Event, ...]
    first_sequence: int
    last_sequence: int

    @property
    def intent_to_receive(self) -> bool:
        return not self.events


def parse_delivery(body: bytes) -> Delivery:
    """The delivery in a (verified) body; DeliveryError says why it is not one."""
    if not body.strip():
        raise DeliveryError("empty body")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise DeliveryError("body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        raise DeliveryError('body is not a delivery: no "events" list')
    sequences = [payload.get(k, 0) for k in ("firstEventSequence", "lastEventSequence")]
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in sequences):
        raise DeliveryError("firstEventSequence/lastEventSequence are not numbers")
    events = tuple(Event.parse(raw) for raw in payload["events"])
    return Delivery(events, sequences[0], sequences[1])


@dataclass
class Plan:
    """What a batch of queued events asks for: per registered tenant, the endpoints to read;
    and the events nothing here can act on, with the reason."""

    endpoints: dict[str, set[str]] = field(default_factory=dict)
    identities: dict[str, set[str]] = field(default_factory=dict)
    unactionable: list[tuple[Event, str]] = field(default_factory=list)

    def run_key(self, tenant_id: str) -> str:
        """The same key for the same changes, whatever order or how many times they came:
        a redelivered or duplicated event asks for no second run."""
        digest = hashlib.sha256("\n".join(sorted(self.identities[tenant_id])).encode())
        return f"webhook/{tenant_id}/{digest.hexdigest()[:24]}"


def plan(events: Iterable[Event], registered: Iterable[str]) -> Plan:
    """Coalesce events per tenant and resource type (order does not matter: a run reads
    from its cursor, so the newest state wins whichever event came first)."""
    known = {t.lower() for t in registered}
    result = Plan()
    for event in events:
        endpoint = ENDPOINTS_BY_CATEGORY.get(event.category)
        if endpoint is None:
            result.unactionable.append((event, f"event category {event.category!r} reads nothing"))
        elif event.tenant_id not in known:
            result.unactionable.append((event, f"tenant {event.tenant_id} is not registered"))
        else:
            result.endpoints.setdefault(event.tenant_id, set()).add(endpoint)
            result.identities.setdefault(event.tenant_id, set()).add(event.identity())
    return result


def encode_events(events: Iterable[Event]) -> bytes:
    return orjson.dumps([e.as_json() for e in events])


def decode_events(text: bytes | str) -> list[Event]:
    """The events of one queue message (written by `encode_events`)."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise DeliveryError("queue message is not JSON") from None
    if not isinstance(raw, list):
        raise DeliveryError("queue message is not a list of events")
    return [Event.parse(item) for item in raw]

"""Deliveries shaped as Xero sends them (developer.xero.com/documentation/webhooks/overview)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from oauth_etl.webhooks.signature import HEADER, sign


def event(
    tenant_id: str,
    category: str = "INVOICE",
    event_type: str = "UPDATE",
    resource_id: str | None = None,
    date: str = "2026-12-07T01:00:00.000",
) -> dict[str, Any]:
    resource = {"INVOICE": "Invoices", "CONTACT": "Contacts", "CREDITNOTE": "CreditNotes"}.get(
        category, "Subscriptions"
    )
    rid = resource_id or str(uuid.uuid4())
    found: dict[str, Any] = {
        "resourceUrl": f"https://api.xero.com/api.xro/2.0/{resource}/{rid}",
        "resourceId": rid,
        "eventDateUtc": date,
        "eventType": event_type,
        "eventCategory": category,
        "tenantId": tenant_id,
        "tenantType": "ORGANISATION",
    }
    if category == "CREDITNOTE":  # xero-webhooks.yaml v12.0.2, CreditNoteWebhookEvent
        found["data"] = {"Type": "ACCPAYCREDIT", "Status": "DRAFT"}
    return found


def delivery(events: list[dict[str, Any]], first: int = 1) -> bytes:
    return orjson.dumps(
        {
            "events": events,
            "firstEventSequence": first if events else 0,
            "lastEventSequence": first + len(events) - 1 if events else 0,
            "entropy": uuid.uuid4().hex.upper()[:20],
        }
    )


def signed(body: bytes, key: str) -> dict[str, str]:
    return {HEADER: sign(body, key), "content-type": "application/json"}

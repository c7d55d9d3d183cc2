"""Parsing Xero's response envelope in one place.

`{Id, Status, ProviderName, DateTimeUTC, <Resource>: [...], pagination?, Warnings?}`
Anything else (not JSON, truncated, not an object, the record key missing or not
a list of objects, a pagination with a field of the wrong type) is a `MalformedResponse`
naming the endpoint, page and correlation id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from oauth_etl.xero.dates import parse_xero_datetime, stamp_or_none
from oauth_etl.xero.errors import MalformedResponse

Record = dict[str, Any]


def stamp_of(record: Record, field_name: str | None) -> datetime | None:
    """The record's cursor field as a datetime (None when absent or unreadable)."""
    if field_name is None:
        return None
    raw = record.get(field_name)
    return stamp_or_none(raw) if isinstance(raw, str) else None


@dataclass(frozen=True)
class Pagination:
    page: int
    page_size: int
    page_count: int
    item_count: int


@dataclass(frozen=True)
class Page:
    number: int  # 1-based page (or call number for offset/single endpoints)
    records: list[Record]
    pagination: Pagination | None
    server_time: datetime | None  # the envelope's DateTimeUTC, on Xero's clock
    warnings: list[Any]


_PAGINATION_FIELDS = (
    ("page", "page"),
    ("pageSize", "page_size"),
    ("pageCount", "page_count"),
    ("itemCount", "item_count"),
)


def parse_page(
    body: bytes,
    record_key: str,
    *,
    endpoint: str,
    page: int,
    correlation_id: str | None,
) -> Page:
    def bad(problem: str) -> MalformedResponse:
        return MalformedResponse(
            endpoint, page=page, problem=problem, body=body, correlation_id=correlation_id
        )

    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise bad(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise bad(f"expected a JSON object, got {type(document).__name__}")
    if record_key not in document:
        keys = ", ".join(sorted(str(k) for k in document)[:8])
        raise bad(f"envelope has no {record_key!r} (keys: {keys})")
    records = document[record_key]
    if not isinstance(records, list):
        raise bad(f"{record_key!r} is {type(records).__name__}, not a list")
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise bad(f"{record_key}[{index}] is {type(record).__name__}, not an object")
    pagination = _parse_pagination(document.get("pagination"), bad)
    server_time = None
    raw_time = document.get("DateTimeUTC")
    if isinstance(raw_time, str):
        try:
            server_time = parse_xero_datetime(raw_time)
        except ValueError:
            server_time = None  # informational only; never fail a page over it
    warnings = document.get("Warnings")
    return Page(
        number=page,
        records=records,
        pagination=pagination,
        server_time=server_time,
        warnings=warnings if isinstance(warnings, list) else [],
    )


def _parse_pagination(raw: object, bad: Any) -> Pagination | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise bad(f"pagination is {type(raw).__name__}, not an object")
    if any(raw.get(key) is None for key, _ in _PAGINATION_FIELDS):
        # Incomplete (no Xero source says it happens; issue #12 asks for it): read on as
        # if there were none, by the keyset rule, rather than fail the extraction.
        return None
    values: dict[str, int] = {}
    for key, attr in _PAGINATION_FIELDS:
        value = raw.get(key)
        # bool is an int subclass: reject it explicitly.
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise bad(f"pagination.{key} is {value!r}, not a non-negative integer")
        values[attr] = value
    return Pagination(**values)

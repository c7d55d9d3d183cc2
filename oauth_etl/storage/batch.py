"""What a producer (e.g. an extraction asset) hands to the landing layer: data as data."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# One path segment of the landing layout: no "/" and nothing a URL or listing would mangle.
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]{0,254}$")


def check_segment(kind: str, value: str) -> str:
    """Validate a value used as one path segment (source, tenant id, endpoint, batch id)."""
    if not isinstance(value, str) or not _SEGMENT.match(value) or ".." in value:
        raise ValueError(
            f"{kind} {value!r} cannot be a blob path segment: use letters, digits, '.', '_', "
            "'-' or '=', starting with a letter or digit, at most 255 characters"
        )
    return value


@dataclass
class BatchStats:
    """Counters the producer updates while its records are iterated; read after the last one."""

    api_calls: int = 0
    pages: int = 0
    cursor_to: str | None = None
    expected_records: int | None = None
    # False when extraction stopped early (e.g. a day limit): the cursor still advances.
    complete: bool = True
    # Anything else worth recording (rate headroom, retries); must be JSON-serializable.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class LandingBatch:
    """One extraction of one endpoint for one tenant.

    `records` is iterated exactly once, lazily, by the writer: an exception raised while
    iterating propagates unchanged and no manifest is written.
    """

    source: str
    endpoint: str
    tenant_id: str
    records: Iterable[Mapping[str, Any]]
    cursor_from: str | None = None
    stats: BatchStats = field(default_factory=BatchStats)

    def __post_init__(self) -> None:
        check_segment("source", self.source)
        check_segment("endpoint", self.endpoint)
        check_segment("tenant_id", self.tenant_id)
        if isinstance(self.records, Mapping | str | bytes):
            raise TypeError(
                "LandingBatch.records must be an iterable of records (e.g. a generator of "
                f"dicts), not a single {type(self.records).__name__}"
            )

    def __repr__(self) -> str:
        # Never materialize or print records.
        return (
            f"LandingBatch(source={self.source!r}, endpoint={self.endpoint!r}, "
            f"tenant_id={self.tenant_id!r}, cursor_from={self.cursor_from!r}, stats={self.stats!r})"
        )

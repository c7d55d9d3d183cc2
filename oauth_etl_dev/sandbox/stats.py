"""Counters the admin API reports (`GET /_sandbox/stats`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any


def _nested() -> defaultdict[str, Counter[str]]:
    return defaultdict(Counter)


@dataclass
class Stats:
    grants: Counter[str] = field(
        default_factory=lambda: Counter(
            {"authorization_code": 0, "refresh_token": 0, "client_credentials": 0}
        )
    )
    token_errors: Counter[str] = field(default_factory=Counter)
    invalid_grant: int = 0
    grace_reuses: int = 0
    revocations: int = 0
    api_calls: defaultdict[str, Counter[str]] = field(default_factory=_nested)
    records_served: defaultdict[str, Counter[str]] = field(default_factory=_nested)
    responses: Counter[str] = field(default_factory=Counter)  # by status code
    rate_limited: Counter[str] = field(
        default_factory=lambda: Counter({"minute": 0, "day": 0, "appminute": 0, "concurrent": 0})
    )
    faults_fired: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    calls_by_chain: Counter[str] = field(default_factory=Counter)  # accepted bearer calls

    def as_json(self) -> dict[str, Any]:
        return {
            "grants": dict(self.grants),
            "token_errors": dict(self.token_errors),
            "invalid_grant": self.invalid_grant,
            "grace_reuses": self.grace_reuses,
            "revocations": self.revocations,
            "api_calls": {t: dict(c) for t, c in self.api_calls.items()},
            "api_calls_total": sum(sum(c.values()) for c in self.api_calls.values()),
            "records_served": {t: dict(c) for t, c in self.records_served.items()},
            "responses": dict(self.responses),
            "rate_limited": dict(self.rate_limited),
            "faults_fired": dict(self.faults_fired),
            "max_in_flight": dict(self.max_in_flight),
            "api_calls_by_chain": dict(self.calls_by_chain),
        }

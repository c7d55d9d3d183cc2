"""Data that changes while it is read: the sandbox's edit mode.

After each accounting call, `per_call` changes (on average; a fraction accumulates)
are made to the endpoint just read, as users of the organisation would make them:
edits, inserts, archives/voids, soft deletes. `target: "served"` picks the records of
the page just served, the case that loses a record under offset paging (Xero pages by
offset over the ordered set, so an edited record moves to the end: reported by third
parties); `"any"` picks anywhere. Set with `POST /_sandbox/edits` or the
`--edits-per-call` CLI flags; `DELETE /_sandbox/edits` stops it.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

from oauth_etl_dev.sandbox.catalog import ENDPOINTS, Endpoint
from oauth_etl_dev.sandbox.locks import LockedPeriod
from oauth_etl_dev.sandbox.store import CHANGE_KINDS, TenantStore

TARGETS = ("any", "served")


def kinds_for(endpoint: Endpoint, wanted: tuple[str, ...]) -> tuple[str, ...]:
    """The changes Xero allows on an endpoint."""
    if endpoint.name == "Journals":
        return tuple(
            k for k in wanted if k == "insert"
        )  # journals are immutable (spec: getJournals only)
    if endpoint.name == "BankTransfers":
        # The spec has no update operation for BankTransfers, only create and (v16) delete.
        return tuple(k for k in wanted if k in ("insert", "delete"))
    return wanted


class EditSpecError(ValueError):
    """An edit plan the sandbox cannot run."""


@dataclass(frozen=True)
class EditPlan:
    per_call: float
    kinds: tuple[str, ...]
    endpoints: frozenset[str]  # endpoint names; empty: every endpoint read
    target: str
    seed: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "per_call": self.per_call,
            "kinds": list(self.kinds),
            "endpoints": sorted(self.endpoints),
            "target": self.target,
            "seed": self.seed,
        }


def parse_plan(payload: Any) -> EditPlan:
    if not isinstance(payload, dict):
        raise EditSpecError("body must be a JSON object")
    per_call = payload.get("per_call", 1.0)
    if isinstance(per_call, bool) or not isinstance(per_call, int | float) or per_call < 0:
        raise EditSpecError('"per_call" must be a number >= 0 (changes after each call)')
    kinds = payload.get("kinds", sorted(CHANGE_KINDS))
    if not isinstance(kinds, list) or not kinds or not set(kinds) <= CHANGE_KINDS:
        raise EditSpecError(f'"kinds" must be a non-empty list of {sorted(CHANGE_KINDS)}')
    names = payload.get("endpoints", [])
    by_lower = {name.lower(): name for name in ENDPOINTS}
    if not isinstance(names, list) or not all(
        isinstance(n, str) and n.lower() in by_lower for n in names
    ):
        raise EditSpecError(f'"endpoints" must be a list of {sorted(ENDPOINTS)}')
    target = payload.get("target", "any")
    if target not in TARGETS:
        raise EditSpecError(f'"target" must be one of {list(TARGETS)}')
    seed = payload.get("seed", 0)
    if not isinstance(seed, int):
        raise EditSpecError('"seed" must be an integer')
    return EditPlan(
        per_call=float(per_call),
        kinds=tuple(sorted(set(kinds))),
        endpoints=frozenset(by_lower[n.lower()] for n in names),
        target=target,
        seed=seed,
    )


class EditEngine:
    """Applies the current plan after each accounting call (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.plan: EditPlan | None = None
        self.applied: Counter[str] = Counter()
        self._rng = random.Random(0)
        self._credit = 0.0

    def set(self, plan: EditPlan | None) -> None:
        with self._lock:
            self.plan = plan
            self._rng = random.Random(plan.seed if plan else 0)
            self._credit = 0.0

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "plan": self.plan.as_json() if self.plan else None,
                "applied": dict(self.applied),
            }

    def after_call(
        self, store: TenantStore, endpoint: Endpoint, served: list[int], now_ms: int
    ) -> list[str]:
        """Make this call's share of changes; returns the ids changed."""
        with self._lock:
            plan = self.plan
            if plan is None or (plan.endpoints and endpoint.name not in plan.endpoints):
                return []
            kinds = kinds_for(endpoint, plan.kinds)
            if not kinds:
                return []
            self._credit += plan.per_call
            count = int(self._credit)
            self._credit -= count
            changed: list[str] = []
            for _ in range(count):
                kind = self._rng.choice(kinds)
                size = len(store.table(endpoint.name).records)
                pool = served if plan.target == "served" and served else range(size)
                pos = None if kind == "insert" or not pool else self._rng.choice(pool)
                try:
                    changed.append(store.change(endpoint.name, kind, pos, now_ms, self._rng))
                except LockedPeriod:  # a user cannot change a locked document either
                    continue
                self.applied[kind] += 1
            return changed

"""Faults scheduled through `POST /_sandbox/faults` for the next matching calls."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAULT_KINDS = frozenset(
    {
        "status",  # answer `status` (default 503; 503 is Xero's maintenance text)
        "delay",  # wait `seconds`, then answer normally (beyond a client's timeout)
        "truncated",  # a 200 whose JSON body is cut in half
        "non_json",  # a 200 with an HTML body
        "drop",  # close the connection without any response
        "lost_response",  # do the work (e.g. rotate the refresh token), then drop
        "day_limit",  # 429, X-Rate-Limit-Problem: day
        "minute_limit",  # 429, X-Rate-Limit-Problem: minute
        "authorization_unsuccessful",  # 401 AuthorizationUnsuccessful (e.g. Journals tier)
        "page_ignored",  # every record on every page; "pagination": false drops the object
    }
)


class FaultSpecError(ValueError):
    """A fault request the sandbox cannot schedule."""


@dataclass
class Fault:
    kind: str
    path: str  # matched case-insensitively, exactly or as a prefix ending in '*'
    method: str | None
    status: int
    seconds: float | None
    remaining: int | None  # None: every matching call, until reset
    pagination: bool = True  # page_ignored: keep the `pagination` object

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method != method.upper():
            return False
        want, got = self.path.lower(), path.lower()
        if want.endswith("*"):
            return got.startswith(want[:-1])
        return got == want

    def as_json(self) -> dict[str, Any]:
        return {
            "fault": self.kind,
            "match": {"path": self.path, "method": self.method},
            "status": self.status,
            "seconds": self.seconds,
            "remaining": self.remaining,
            "pagination": self.pagination,
        }


def parse_fault(payload: Any) -> Fault:
    if not isinstance(payload, dict):
        raise FaultSpecError("body must be a JSON object")
    match = payload.get("match")
    if not isinstance(match, dict) or not isinstance(match.get("path"), str):
        raise FaultSpecError(
            '"match": {"path": "/api.xro/2.0/Invoices", "method"?: "GET"} is required'
        )
    kind = payload.get("fault")
    if kind not in FAULT_KINDS:
        raise FaultSpecError(f'"fault" must be one of {sorted(FAULT_KINDS)}')
    status = payload.get("status", 503 if kind == "status" else 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise FaultSpecError('"status" must be an HTTP status code')
    seconds = payload.get("seconds")
    if seconds is not None and (not isinstance(seconds, int | float) or seconds < 0):
        raise FaultSpecError('"seconds" must be a number >= 0')
    if kind == "delay" and seconds is None:
        raise FaultSpecError('"delay" needs "seconds"')
    forever = payload.get("forever", False)
    count = payload.get("count", 1)
    if not isinstance(count, int) or count < 1:
        raise FaultSpecError('"count" must be an integer >= 1 (or use "forever": true)')
    pagination = payload.get("pagination", True)
    if not isinstance(pagination, bool):
        raise FaultSpecError('"pagination" must be true or false')
    method = match.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultSpecError('"method" must be a string')
    return Fault(
        kind=kind,
        path=match["path"],
        method=method.upper() if method else None,
        status=status,
        seconds=float(seconds) if seconds is not None else None,
        remaining=None if forever else count,
        pagination=pagination,
    )


class FaultQueue:
    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """The first scheduled fault for this call, used up by one."""
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()

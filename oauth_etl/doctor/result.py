"""One check's outcome, as every check returns it and the runner prints it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# skip: not run, because a check it needs failed (or the same root cause was reported).
Status = Literal["ok", "warn", "fail", "skip"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""
    # The root cause of a failure shared with other checks (a service and its URL): the
    # runner reports it once and marks later checks with the same cause as skipped.
    cause: str = ""

"""`oauth-etl doctor`: every link from the settings to a landed blob, one check each.

`checks.py` has one function per check; this module runs them in order (a check whose
prerequisite failed is reported, not run), renders one line per check (✔ ok, ! warn,
✘ fail with the fix under it) or JSON, and gives the exit code. No Dagster here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import orjson

from oauth_etl.doctor.checks import (
    REDIRECT_URI_VAR,
    RESCUE_LOCATION_VAR,
    TOKEN_LOCK_VAR,
    CheckResult,
    ConnectionLike,
    ProbeContainer,
    Status,
    check_credential_secrets,
    check_landing,
    check_lock,
    check_rescue,
    check_scopes,
    check_settings,
    check_tenants,
    check_token_set,
    check_token_store,
    safe_text,
)

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager
    from oauth_etl.xero.catalog import Endpoint

__all__ = [
    "MARKS",
    "REDIRECT_URI_VAR",
    "RESCUE_LOCATION_VAR",
    "TOKEN_LOCK_VAR",
    "CheckResult",
    "Status",
    "Step",
    "check_credential_secrets",
    "check_landing",
    "check_lock",
    "check_rescue",
    "check_scopes",
    "check_settings",
    "check_tenants",
    "check_token_set",
    "check_token_store",
    "exit_code",
    "render_json",
    "render_text",
    "run_checks",
    "standard_steps",
    "token_set_steps",
]

MARKS: dict[str, str] = {"ok": "✔", "warn": "!", "fail": "✘"}


# -- running and rendering ------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], CheckResult]
    needs: tuple[str, ...] = ()


def run_checks(steps: Sequence[Step]) -> list[CheckResult]:
    """Run in order; a step whose prerequisite failed is reported as not run."""
    results: list[CheckResult] = []
    failed: set[str] = set()
    for step in steps:
        blocked = [n for n in step.needs if n in failed]
        if blocked:
            result = CheckResult(step.name, "fail", f"not run: {', '.join(blocked)} failed", "")
        else:
            try:
                result = step.run()
            except Exception as exc:
                result = CheckResult(step.name, "fail", safe_text(exc), "see the message")
        if result.status == "fail":
            failed.add(step.name)
        results.append(result)
    return results


def render_text(results: Sequence[CheckResult]) -> str:
    lines = []
    for result in results:
        lines.append(f"{MARKS[result.status]} {result.name}: {result.detail}")
        if result.status != "ok" and result.fix:
            lines.append(f"    fix: {result.fix}")
    return "\n".join(lines)


def render_json(results: Sequence[CheckResult], now: float | None = None) -> str:
    payload = {
        "ok": exit_code(results) == 0,
        "checked_at": time.time() if now is None else now,
        "checks": [asdict(r) for r in results],
    }
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 only when no check failed (warnings do not fail)."""
    return 1 if any(r.status == "fail" for r in results) else 0


def standard_steps(
    *,
    environ: Mapping[str, str],
    manager: Callable[[], TokenManager],
    connections: Callable[[], Sequence[ConnectionLike]],
    landing: Callable[[], ProbeContainer],
    prefix: str = "",
    endpoints: Iterable[Endpoint] | None = None,
    read_secret: Callable[[str], str] | None = None,
    secret_names: Sequence[str] = (),
) -> list[Step]:
    """The doctor's checks in order, from factories (a factory that raises is a ✘ too)."""

    steps = token_set_steps(manager, connections, endpoints)
    return [
        Step("settings", lambda: check_settings(environ)),
        *steps[:-1],
        Step("landing container", lambda: check_landing(landing(), prefix)),
        Step("credential secrets", lambda: check_credential_secrets(read_secret, secret_names)),
        steps[-1],
    ]


# `oauth-etl authorize`, `oauth-etl token refresh` ... in a named set's fixes.
_COMMAND = re.compile(r"`(oauth-etl (?:authorize|token [a-z-]+))`")


def token_set_steps(
    manager: Callable[[], TokenManager],
    connections: Callable[[], Sequence[ConnectionLike]],
    endpoints: Iterable[Endpoint] | None = None,
    token_set: str | None = None,
) -> list[Step]:
    """The checks of one token set (rescue location last); those of a named further set
    (OAUTH_ETL_CONNECTIONS) are called `<check> [NAME]`, their commands `--connection NAME`."""

    def granted() -> CheckResult:
        tokens = manager().current()
        return check_scopes(tokens.scope if tokens else "", endpoints)

    def named(check: str) -> str:
        return f"{check} [{token_set}]" if token_set else check

    def of_set(run: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        if not token_set:
            return run

        def renamed() -> CheckResult:
            result = run()
            command = rf"`\1 --connection {token_set}`"
            return replace(
                result,
                name=named(result.name),
                detail=_COMMAND.sub(command, result.detail),
                fix=_COMMAND.sub(command, result.fix),
            )

        return renamed

    def step(check: str, run: Callable[[], CheckResult], *needs: str) -> Step:
        return Step(named(check), of_set(run), tuple(named(n) for n in needs))

    return [
        step("token store", lambda: check_token_store(manager().store, manager().lock)),
        step("lock", lambda: check_lock(manager().lock)),
        step("token set", lambda: check_token_set(manager()), "token store", "lock"),
        step("scopes", granted, "token set"),
        step("tenants", lambda: check_tenants(connections), "token set"),
        step("rescue location", lambda: check_rescue(manager().store, manager().rescue)),
    ]

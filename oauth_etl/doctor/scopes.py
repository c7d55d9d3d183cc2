"""The doctor's scope check: the granted scopes against the endpoints of the selection,
with a fix that adds only the scopes missing (and only the opt-in flags they need) and
keeps every scope granted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from oauth_etl.doctor.result import CheckResult
from oauth_etl.xero.scopes import (
    OPT_IN_FLAGS,
    RESTRICTED_SCOPES,
    reauthorize_command,
    unreadable,
)

if TYPE_CHECKING:
    from oauth_etl.xero.catalog import Endpoint


def scope_fix(missing_scopes: Iterable[str], granted: Iterable[str] = ()) -> str:
    """One `authorize` that adds exactly these scopes and keeps what is `granted`
    (offline_access included: reauthorize_command); the opt-in ones by their flags."""
    wanted = sorted(set(missing_scopes))
    opted = [s for s in wanted if s in OPT_IN_FLAGS]
    others = [s for s in wanted if s not in OPT_IN_FLAGS]
    command = reauthorize_command(others, granted, flags=[OPT_IN_FLAGS[s] for s in opted])
    lead = f"once the app has {', '.join(opted)}, " if opted else ""
    return (
        f"{lead}authorize again asking for {', '.join(wanted)} and keeping the scopes "
        f"granted: `{command}` (and enable the scope on the app if Xero refuses it); or "
        "leave those endpoints out of the run"
    )


def check_scopes(granted: str, endpoints: Iterable[Endpoint] | None = None) -> CheckResult:
    """The granted scopes against what the selected endpoints need."""
    missing = unreadable(granted.split(), endpoints)
    if not missing:
        return CheckResult("scopes", "ok", f"granted scopes cover the selection ({granted})")
    by_scope: dict[str, list[str]] = {}
    for endpoint_name, scope in sorted(missing.items()):
        by_scope.setdefault(scope, []).append(endpoint_name)
    parts = []
    for scope, names in sorted(by_scope.items()):
        why = RESTRICTED_SCOPES.get(scope)
        parts.append(f"{', '.join(names)} need {scope}" + (f" ({why})" if why else ""))
    return CheckResult(
        "scopes",
        "fail",
        "these assets will fail with 401 AuthorizationUnsuccessful: " + "; ".join(parts),
        scope_fix(by_scope, granted.split()),
    )

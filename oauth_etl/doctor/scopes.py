"""The doctor's scope check: the granted scopes against the endpoints of the selection,
with a fix that names only the scopes missing (and only the opt-in flags they need)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from oauth_etl.doctor.result import CheckResult
from oauth_etl.xero.scopes import DEFAULT_SCOPES, OPT_IN_FLAGS, RESTRICTED_SCOPES, unreadable

if TYPE_CHECKING:
    from oauth_etl.xero.catalog import Endpoint


def scope_fix(missing_scopes: Iterable[str]) -> str:
    """How to get exactly these scopes: the opt-in flags of the opt-in ones, a plain
    `authorize` for the default ones, `--scopes` for any other."""
    wanted = sorted(set(missing_scopes))
    flags = [OPT_IN_FLAGS[s] for s in wanted if s in OPT_IN_FLAGS]
    others = [s for s in wanted if s not in OPT_IN_FLAGS]
    parts = []
    if others:
        default = all(s in DEFAULT_SCOPES for s in others)
        asks = f"--scopes '{' '.join((*DEFAULT_SCOPES, *others))}'" if not default else ""
        parts.append(
            f"authorize again asking for {', '.join(others)}: `oauth-etl authorize"
            + (f" {asks}" if asks else "")
            + " --yes` (and enable the scope on the app if Xero refuses it)"
        )
    if flags:
        parts.append(
            f"once the app has {', '.join(s for s in wanted if s in OPT_IN_FLAGS)}: "
            f"`oauth-etl authorize {' '.join(flags)} --yes`"
        )
    return "; ".join(parts) + "; or leave those endpoints out of the run"


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
        scope_fix(by_scope),
    )

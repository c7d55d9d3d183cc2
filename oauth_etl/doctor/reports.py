"""The doctor's "report scopes" check: which of Xero's reports the token set may read.

The rules are in `oauth_etl.xero.scopes.report_access` (a report needs its granular scope,
or `accounting.reports.read` for apps created before 2 March 2026); this module only turns
them into a `CheckResult` with the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from oauth_etl.doctor.checks import CheckResult
from oauth_etl.xero.scopes import report_access

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager

NAME = "report scopes"


def check_report_scopes(granted: str) -> CheckResult:
    """✔ every report readable; ! some not (each with its scope); ✘ none."""
    access = report_access(granted.split())
    if not access.known:
        return CheckResult(
            NAME,
            "warn",
            "the token set does not say which scopes it was granted: the reports' access is "
            "known only once they are read",
            "run `oauth-etl authorize` again to record the granted scopes",
        )
    if not access.missing:
        return CheckResult(NAME, "ok", f"all {len(access.allowed)} reports readable")
    needs = "; ".join(f"{name} needs {scope}" for name, scope in sorted(access.missing.items()))
    if not access.allowed:
        return CheckResult(NAME, "fail", f"no report is readable: {needs}", access.fix())
    return CheckResult(
        NAME,
        "warn",
        f"{len(access.allowed)} reports readable ({', '.join(access.allowed)}); "
        f"these fail with 401 AuthorizationUnsuccessful: {needs}",
        access.fix(),
    )


def granted_scope(manager: TokenManager) -> str:
    """The scope string the stored token set was granted ("" when none is stored)."""
    tokens = manager.current()
    return tokens.scope if tokens else ""

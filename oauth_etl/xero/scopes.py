"""Which Xero scopes to request, and which endpoints a granted scope set can read.

Apps created from 2 March 2026 must use granular scopes (developer.xero.com/faq/granular-scopes);
`accounting.transactions(.read)` and `accounting.reports.read` are not offered to them
(apideck.com/blog/xero-scopes). Two scopes are opt-in, because asking for a scope the
app may not have fails the whole consent with `invalid_scope` (reported by
third parties, not in Xero's docs):

- `accounting.journals.read`: Journals is a feature of Xero's paid Advanced tier since
  March 2026 (developer.xero.com/pricing); custom connections created from 29 April
  2026 get granular scopes "which don't include journal access"
  (developer.xero.com/faq/custom-integration).
- `accounting.classicexpenses.read`: ExpenseClaims and Receipts (apideck.com/blog/xero-scopes,
  "deprecated endpoint"); several sources say new apps cannot get it.

The endpoints and their scopes come from `oauth_etl.xero.catalog`, the reports' from
`oauth_etl.xero.reports.catalog` (imported on first use: importing `oauth_etl.xero` loads
the API client, which token commands do not need). Every report has a granular scope any
new app may ask for (the sources are in the reports catalog's docstring); older apps read
them all with `accounting.reports.read`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from oauth_etl.xero.catalog import Endpoint
    from oauth_etl.xero.reports.catalog import Report

# Needed for a refresh token (developer.xero.com/documentation/oauth2/scopes).
OFFLINE_ACCESS = "offline_access"
JOURNALS_SCOPE = "accounting.journals.read"
CLASSIC_EXPENSES_SCOPE = "accounting.classicexpenses.read"

# What `authorize` asks for unless told otherwise: what an app created in 2026 gets for
# the default selection, `scopes_for().scopes` (below; a test keeps the two
# equal, written out so that token commands need not load the catalog).
# Journals and classic expenses are opt-in: an app without them fails the whole consent.
DEFAULT_SCOPES: tuple[str, ...] = (
    "offline_access",
    "accounting.banktransactions.read",
    "accounting.budgets.read",
    "accounting.contacts.read",
    "accounting.invoices.read",
    "accounting.manualjournals.read",
    "accounting.payments.read",
    "accounting.reports.aged.read",
    "accounting.reports.balancesheet.read",
    "accounting.reports.banksummary.read",
    "accounting.reports.budgetsummary.read",
    "accounting.reports.executivesummary.read",
    "accounting.reports.profitandloss.read",
    "accounting.reports.taxreports.read",
    "accounting.reports.tenninetynine.read",
    "accounting.reports.trialbalance.read",
    "accounting.settings.read",
)

# Scope -> why it is opt-in (shown when an endpoint is left out or fails).
RESTRICTED_SCOPES: Mapping[str, str] = {
    JOURNALS_SCOPE: (
        "Journals needs Xero's paid Advanced tier since March 2026 and apps created from "
        "then on do not get accounting.journals.read; opt in with --with-journals once the "
        "app has it"
    ),
    CLASSIC_EXPENSES_SCOPE: (
        "ExpenseClaims and Receipts need the granular scope accounting.classicexpenses.read, "
        "which apps created from March 2026 cannot get; opt in with --with-classic-expenses "
        "only if the app has it"
    ),
}

# Scope -> the `oauth-etl authorize` flag that asks for it.
OPT_IN_FLAGS: Mapping[str, str] = {
    JOURNALS_SCOPE: "--with-journals",
    CLASSIC_EXPENSES_SCOPE: "--with-classic-expenses",
}

# The read scopes any app created from 2 March 2026 may request (granular scopes page,
# developer.xero.com/documentation/oauth2/scopes, and apideck.com/blog/xero-scopes for the
# split). Budgets and attachments were never broad. Write scopes are left out: we only read.
NEW_APP_SCOPES: frozenset[str] = frozenset(
    {
        OFFLINE_ACCESS,
        "openid",
        "profile",
        "email",
        "accounting.settings.read",
        "accounting.contacts.read",
        "accounting.invoices.read",
        "accounting.payments.read",
        "accounting.banktransactions.read",
        "accounting.manualjournals.read",
        "accounting.budgets.read",
        "accounting.attachments.read",
        # the granular report scopes (oauth_etl/xero/reports/catalog.py; a test keeps
        # the two lists equal)
        "accounting.reports.profitandloss.read",
        "accounting.reports.balancesheet.read",
        "accounting.reports.trialbalance.read",
        "accounting.reports.aged.read",
        "accounting.reports.banksummary.read",
        "accounting.reports.budgetsummary.read",
        "accounting.reports.executivesummary.read",
        "accounting.reports.taxreports.read",
        "accounting.reports.tenninetynine.read",
    }
)


@dataclass(frozen=True)
class ScopePlan:
    """The scopes to request and the selected endpoints left out (name -> why)."""

    scopes: tuple[str, ...]
    left_out: Mapping[str, str] = field(default_factory=dict)

    def text(self) -> str:
        return " ".join(self.scopes)


def required_scope(endpoint: Endpoint) -> str:
    """The granular scope a 2026 app needs for `endpoint` (the first granular one)."""
    return endpoint.granular_scopes[0]


def restriction(endpoint: Endpoint) -> str | None:
    """Why `endpoint` is opt-in, or None when any new app may read it."""
    for scope in endpoint.granular_scopes:
        if scope in RESTRICTED_SCOPES:
            return RESTRICTED_SCOPES[scope]
    # The catalog's own opt-in flag (where it has one) counts too.
    if getattr(endpoint, "opt_in", False):
        return f"{endpoint.path} is opt-in in the catalog"
    return None


def _catalog() -> tuple[Endpoint, ...]:
    from oauth_etl.xero.catalog import CATALOG

    return CATALOG


def _reports() -> tuple[Report, ...]:
    from oauth_etl.xero.reports.catalog import REPORTS

    return REPORTS


def selection(
    *, with_journals: bool = False, with_classic_expenses: bool = False
) -> tuple[Endpoint, ...]:
    """The endpoints a default run reads: every one any new app may read, plus the
    opt-in ones asked for (the Dagster job leaves the same ones out)."""
    plan = scopes_for(with_journals=with_journals, with_classic_expenses=with_classic_expenses)
    return tuple(e for e in _catalog() if e.name not in plan.left_out)


def scopes_for(
    endpoints: Iterable[Endpoint] | None = None,
    *,
    with_journals: bool = False,
    with_classic_expenses: bool = False,
    reports: Iterable[Report] | None = None,
) -> ScopePlan:
    """`offline_access` plus the granular read scope of every selected endpoint and
    report (`reports` None: every report when `endpoints` is None too, else none).

    Restricted endpoints (Journals; ExpenseClaims and Receipts) count only when opted in;
    otherwise they are listed in `left_out` with the reason.
    """
    opted = set()
    if with_journals:
        opted.add(JOURNALS_SCOPE)
    if with_classic_expenses:
        opted.add(CLASSIC_EXPENSES_SCOPE)
    wanted: set[str] = set()
    left_out: dict[str, str] = {}
    for endpoint in _catalog() if endpoints is None else endpoints:
        scope = required_scope(endpoint)
        reason = restriction(endpoint)
        if reason is not None and scope not in opted:
            left_out[endpoint.name] = reason
            continue
        wanted.add(scope)
    chosen = reports if reports is not None else (_reports() if endpoints is None else ())
    wanted.update(r.granular_scope for r in chosen)
    return ScopePlan((OFFLINE_ACCESS, *sorted(wanted)), left_out)


def missing_scope_message(endpoint: Endpoint, granted: Iterable[str]) -> str | None:
    """Why a token set with `granted` scopes cannot read `endpoint`, with the fix; None
    when it can (or when the grant is unknown: an empty scope string)."""
    have = set(granted)
    if not have or have.intersection(endpoint.scopes):
        return None
    scope = required_scope(endpoint)
    flag = OPT_IN_FLAGS.get(scope)
    how = (
        f"run `oauth-etl authorize {flag}` once the app has it"
        if flag
        else f"run `{reauthorize_command([scope], have)}`"
    )
    why = RESTRICTED_SCOPES.get(scope, "")
    return (
        f"{endpoint.name} needs the scope {scope}, which the stored token set was not "
        f"granted" + (f" ({why})" if why else "") + f": {how}, or leave the asset out of the run"
    )


def unreadable(
    granted: Iterable[str], endpoints: Iterable[Endpoint] | None = None
) -> dict[str, str]:
    """Endpoints that a token with `granted` scopes cannot read, with the scope it lacks."""
    have = set(granted)
    missing: dict[str, str] = {}
    for endpoint in _catalog() if endpoints is None else endpoints:
        if not have.intersection(endpoint.scopes):
            missing[endpoint.name] = required_scope(endpoint)
    return missing


@dataclass(frozen=True)
class ReportAccess:
    """Which reports a granted scope set reads; the missing scope of each other one."""

    allowed: tuple[str, ...]  # catalog names
    missing: Mapping[str, str] = field(default_factory=dict)  # name -> the granular scope
    known: bool = True  # False: the token set did not say what it was granted
    granted: tuple[str, ...] = ()  # kept by the fix's command

    def fix(self) -> str:
        command = reauthorize_command(self.missing.values(), self.granted)
        return f"run `{command}`, or leave those reports out of the run"


def report_access(granted: Iterable[str], reports: Iterable[Report] | None = None) -> ReportAccess:
    """The reports `granted` allows: any one of a report's scopes (the broad
    `accounting.reports.read` or its granular one). An empty grant is unknown: all
    allowed, `known` False (as `missing_scope_message` makes no claim either)."""
    have = set(granted)
    chosen = tuple(_reports() if reports is None else reports)
    if not have:
        return ReportAccess(tuple(r.name for r in chosen), known=False)
    allowed = tuple(r.name for r in chosen if have.intersection(r.scopes))
    missing = {r.name: r.granular_scope for r in chosen if not have.intersection(r.scopes)}
    return ReportAccess(allowed, missing, granted=tuple(sorted(have)))


def known_scopes() -> frozenset[str]:
    """Every scope this project can use: what a new app may ask for, the opt-in ones,
    and each endpoint's and report's broad and granular scopes (the catalogs)."""
    found = set(NEW_APP_SCOPES) | set(RESTRICTED_SCOPES)
    for endpoint in _catalog():
        found.update(endpoint.scopes)
    for report in _reports():
        found.update(report.scopes)
    return frozenset(found)


def reauthorize_command(
    wanted: Iterable[str], granted: Iterable[str] = (), flags: Iterable[str] = ()
) -> str:
    """The `authorize` that adds `wanted` without losing anything: offline_access (no
    refresh token without it: developer.xero.com/documentation/guides/oauth2/scopes/),
    the scopes already `granted` (unknown: the default ones) and `wanted`, once each."""
    kept = tuple(granted) or DEFAULT_SCOPES
    union = dict.fromkeys((OFFLINE_ACCESS, *sorted({*kept, *wanted} - {OFFLINE_ACCESS})))
    opted = "".join(f" {flag}" for flag in flags)
    return f'oauth-etl authorize --scopes "{" ".join(union)}"{opted} --yes'

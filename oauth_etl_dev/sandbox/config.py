"""Settings of one sandbox run (the CLI flags as data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import urlsplit

from oauth_etl_dev.sandbox.catalog import ALL_SCOPES
from oauth_etl_dev.sandbox.data import HISTORY_DAYS

DAY = 86_400

# The redirect URI the README tells users to register (the client's DEFAULT_REDIRECT_URI),
# and its 127.0.0.1 spelling, which older set-ups and the test clients use.
REGISTERED_REDIRECT_URIS: tuple[str, ...] = (
    "http://localhost:8765/callback",
    "http://127.0.0.1:8765/callback",
)
MAX_REDIRECT_URIS = 50  # developer.xero.com/faq/oauth2


@dataclass(frozen=True)
class SandboxConfig:
    client_id: str
    client_secret: str | None = None  # None: a public PKCE client
    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    records: int = 1000  # per paged endpoint per tenant
    tenants: int = 1
    seed: int = 0
    access_ttl: int = 1800
    grace: int = 1800
    refresh_ttl: int = 60 * DAY
    code_ttl: int = 300
    strict: bool = False  # no grace period: any refresh-token reuse is invalid_grant
    time_scale: float = 1.0  # a sandbox minute lasts 60/time_scale real seconds
    latency_ms: float = 0.0
    per_record_ms: float | None = None  # None: latency_ms / 500 per record returned
    limits: bool = True
    concurrent_limit: int = 5
    minute_limit: int = 60
    day_limit: int = (
        5000  # Core tier and above (limits.TIER_DAY_LIMITS; developer.xero.com/faq/limits)
    )
    app_minute_limit: int = 10_000
    scopes: frozenset[str] = field(default_factory=lambda: ALL_SCOPES)
    denied_endpoints: frozenset[str] = frozenset()  # answer 401 AuthorizationUnsuccessful
    app_name: str = "oauth_etl sandbox"
    access_log: bool = False
    token_prefix: str = ""  # e.g. a canary that leak tests search every output for
    # -- data that changes while it is read (sandbox/edits.py; issue #12) ----------------
    edits_per_call: float = 0.0  # changes after each accounting call (0: data holds still)
    edit_kinds: frozenset[str] = frozenset({"edit", "insert", "archive", "delete"})
    edit_endpoints: frozenset[str] = frozenset()  # endpoint names; empty: every one read
    edit_target: str = "any"  # any | served (records of the page just served)
    shared_stamps: int = 1  # runs of N generated records share one UpdatedDateUTC
    page_ignored: frozenset[str] = frozenset()  # endpoints that serve every record per page
    page_ignored_pagination: bool = True  # ... with a `pagination` object (False: none)
    # -- the app's registration (redirect URIs; see also `scopes`) --------------------
    # Exact-match list, up to 50, no wildcards (developer.xero.com/faq/oauth2). None: any
    # https or loopback http URI (no registration modelled).
    redirect_uris: tuple[str, ...] | None = REGISTERED_REDIRECT_URIS
    # -- the books (sandbox/ledger.py, sandbox/locks.py): lock dates of every tenant -----
    period_lock_date: str | None = None  # YYYY-MM-DD: Organisation.PeriodLockDate
    end_of_year_lock_date: str | None = None  # YYYY-MM-DD: Organisation.EndOfYearLockDate
    history_days: int = HISTORY_DAYS  # days of generated books before today
    # -- webhooks (sandbox/webhooks.py): where every contact/invoice change is delivered --
    webhook_url: str | None = None  # http://127.0.0.1:PORT/...
    webhook_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id must not be empty")
        if self.records < 0 or self.tenants < 1 or self.history_days < 1:
            raise ValueError("records must be >= 0, tenants and history_days >= 1")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be > 0")
        if self.edits_per_call < 0 or self.shared_stamps < 1:
            raise ValueError("edits_per_call must be >= 0 and shared_stamps >= 1")
        if self.edit_target not in ("any", "served"):
            raise ValueError("edit_target must be 'any' or 'served'")
        unknown = self.scopes - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes: {sorted(unknown)}; known: {sorted(ALL_SCOPES)}")
        check_redirect_uris(self.redirect_uris)
        for name in ("period_lock_date", "end_of_year_lock_date"):
            value = getattr(self, name)
            if value is not None:
                date.fromisoformat(value)  # ValueError: not a YYYY-MM-DD day

    @property
    def record_cost_ms(self) -> float:
        if self.per_record_ms is not None:
            return self.per_record_ms
        return self.latency_ms / 500.0


def check_redirect_uris(uris: tuple[str, ...] | None) -> None:
    """Refuse what Xero's app form refuses: wildcards, relative URIs, more than 50."""
    if uris is None:
        return
    if not uris or len(uris) > MAX_REDIRECT_URIS:
        raise ValueError(f"register 1 to {MAX_REDIRECT_URIS} redirect URIs, got {len(uris)}")
    for uri in uris:
        parts = urlsplit(uri)
        if (
            "*" in uri
            or parts.fragment
            or parts.scheme not in ("http", "https")
            or not parts.netloc
        ):
            raise ValueError(
                f"redirect URI {uri!r}: an absolute http(s) URI without wildcards or fragment"
            )
        if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
            raise ValueError(f"redirect URI {uri!r}: plain http only for localhost")

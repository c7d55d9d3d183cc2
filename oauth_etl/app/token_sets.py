"""Several token sets behind one API client: which set reads which tenant.

A token set reads the organisations its Xero user connected, and `GET /connections`
lists them (xero-identity.yaml, getConnections: "Retrieves the connections for this
user"). It is an identity call, not a tenant's: its answers carry only the app-wide
limit header, never a tenant's minute or day budget
(developer.xero.com/documentation/guides/oauth2/limits), so asking every set costs no
tenant any of its calls.

The deployment's tenants are the union of what the sets see; a tenant seen by several
sets belongs to the first of them: the default set, then OAUTH_ETL_CONNECTIONS in
declared order (`Survey.owners`). `TenantRouter` puts on each request the bearer token
of the set that owns the request's tenant (its `xero-tenant-id` header), asking every
set once per client lifetime (one run) and once more for a tenant it did not know,
so a tenant that moved to another set works on its next run. One client keeps one
rate budget per tenant and the app's budget, whichever set's token a call carries.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

import anyio.to_thread
import httpx

from oauth_etl.app.sets import DEFAULT, VARIABLE, authorize_command
from oauth_etl.oauth.errors import AuthorizationRequired, OAuthError, TenantNotAuthorized
from oauth_etl.xero.errors import XeroError
from oauth_etl.xero.extraction import TENANT_HEADER
from oauth_etl.xero.types import Connection


@dataclass(frozen=True)
class SetView:
    """What one token set sees: its organisations, or the error that stopped it saying."""

    name: str
    connections: tuple[Connection, ...] = ()
    error: OAuthError | XeroError | None = None

    def explained(self) -> str:
        """Why this set could not answer, with its own remedy ('' when it answered)."""
        return "" if self.error is None else explained(self.name, self.error)


@dataclass(frozen=True)
class Survey:
    """Every set's view, default first, then in declared order."""

    views: tuple[SetView, ...]

    @functools.cached_property
    def _owners(self) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for view in self.views:
            for connection in view.connections:
                found.setdefault(connection.tenant_id, view.name)
        return MappingProxyType(found)

    def owners(self) -> Mapping[str, str]:
        """tenant id -> the first set that sees it (the default set, then declared order).
        Built once per survey: every request of a run looks its tenant up here."""
        return self._owners

    def connections(self) -> list[Connection]:
        """Each tenant once, as its owning set sees it."""
        owners = self.owners()
        return [c for v in self.views for c in v.connections if owners[c.tenant_id] == v.name]

    def failed(self) -> tuple[SetView, ...]:
        return tuple(v for v in self.views if v.error is not None)

    def problem(self) -> str:
        """One line per set that could not answer, each with its remedy ('' if none)."""
        return "; ".join(
            f"token set {v.name!r} could not list its organisations: {v.explained()}"
            for v in self.failed()
        )


def explained(name: str, exc: OAuthError | XeroError) -> str:
    """`exc` of set `name`; authorization required: with that set's own command."""
    if isinstance(exc, AuthorizationRequired) and not isinstance(exc, TenantNotAuthorized):
        return f"authorization required: {exc.reason}; run `{authorize_command(name)}`"
    return str(exc)


def set_error(name: str, exc: OAuthError) -> str:
    """An error of set `name`, naming the set (the default set's: as it always read)."""
    return str(exc) if name == DEFAULT else f"token set {name!r}: {explained(name, exc)}"


def survey(names: Sequence[str], lister: Callable[[str], list[Connection]]) -> Survey:
    """Ask every set for its organisations; a set that fails is recorded, not fatal."""
    views: list[SetView] = []
    for name in names:
        try:
            views.append(SetView(name, tuple(lister(name))))
        except (OAuthError, XeroError) as exc:
            views.append(SetView(name, error=exc))
    return Survey(tuple(views))


def not_seen(tenant_id: str, found: Survey) -> TenantNotAuthorized:
    asked = ", ".join(v.name for v in found.views)
    failed = found.failed()
    reason = f"asked: {asked}" + (f"; {found.problem()}" if failed else "")
    if any(isinstance(v.error, AuthorizationRequired) for v in failed):
        hint = " or ".join(
            f"`{authorize_command(v.name)}`"
            for v in failed
            if isinstance(v.error, AuthorizationRequired)
        )
        return TenantNotAuthorized(tenant_id, reason, f"run {hint}")
    return TenantNotAuthorized(
        tenant_id,
        reason,
        "the Xero user who connected it runs `oauth-etl authorize --connection NAME`, with "
        f"NAME listed in {VARIABLE}",
    )


class TenantDirectory:
    """Which set owns which tenant: one survey per lifetime, one more per unknown tenant."""

    def __init__(self, run_survey: Callable[[], Survey]) -> None:
        self._run_survey = run_survey
        self._survey: Survey | None = None
        self._missed: set[str] = set()
        self._lock = threading.Lock()  # the client's threads ask at once: survey once

    def survey(self) -> Survey:
        with self._lock:
            if self._survey is None:
                self._survey = self._run_survey()
            return self._survey

    def owner(self, tenant_id: str) -> str:
        with self._lock:
            if self._survey is None:
                self._survey = self._run_survey()
            owner = self._survey.owners().get(tenant_id)
            if owner is None and tenant_id not in self._missed:
                # Connected (or moved) since the survey: ask again, once per tenant.
                self._missed.add(tenant_id)
                self._survey = self._run_survey()
                owner = self._survey.owners().get(tenant_id)
            if owner is None:
                raise not_seen(tenant_id, self._survey)
            return owner


def _named(
    flow: Generator[httpx.Request, httpx.Response, None], name: str
) -> Generator[httpx.Request, httpx.Response, None]:
    """`flow`, with a named set's authorization errors naming the set and its command."""
    try:
        request = next(flow)
        while True:
            response = yield request
            request = flow.send(response)
    except StopIteration:
        return
    except AuthorizationRequired as exc:
        if name == DEFAULT or isinstance(exc, TenantNotAuthorized):
            raise
        raise AuthorizationRequired(
            f"token set {name!r}: {exc.reason}", f"run `{authorize_command(name)}`"
        ) from None


class TenantRouter(httpx.Auth):
    """The bearer token of the set that owns the request's tenant (no tenant: the default)."""

    def __init__(self, auth_for: Callable[[str], httpx.Auth], owner: Callable[[str], str]) -> None:
        self._auth_for = auth_for
        self._owner = owner

    def __repr__(self) -> str:
        return "TenantRouter()"

    def _set_of(self, request: httpx.Request) -> str:
        tenant = request.headers.get(TENANT_HEADER)
        return self._owner(tenant) if tenant else DEFAULT

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        name = self._set_of(request)
        return _named(self._auth_for(name).sync_auth_flow(request), name)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # The survey is synchronous HTTP: a worker thread keeps the event loop serving.
        name = await anyio.to_thread.run_sync(lambda: self._set_of(request))
        flow = self._auth_for(name).async_auth_flow(request)
        try:
            request = await flow.__anext__()
            while True:
                response = yield request
                request = await flow.asend(response)
        except StopAsyncIteration:
            return

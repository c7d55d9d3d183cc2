"""A sandbox Xero keeping books (in-process, real HTTP on 127.0.0.1) and a `XeroClient`
logged in to it, for the Reports API client's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.reports.org import Organisation
from oauth_etl_dev.sandbox import SandboxConfig, SandboxServer
from oauth_etl_tests.sandbox.conftest import CLIENT_ID, CLIENT_SECRET, READ_ALL, Xero
from oauth_etl_tests.xero.test_sandbox import Bearer, unpaced

REPORTS_SCOPE = READ_ALL + " accounting.reports.read"


@dataclass
class Books:
    """One running sandbox, its admin helper and a client with `scope`."""

    server: SandboxServer
    xero: Xero
    token: str
    client: XeroClient
    tenants: list[str]
    clients: list[XeroClient] = field(default_factory=list)

    def records(self, tenant: str, endpoint: str) -> list[dict[str, Any]]:
        return self.xero.records(tenant, endpoint)

    def org(self, tenant: str) -> Organisation:
        (record,) = self.records(tenant, "Organisation")
        return Organisation.from_records(tenant, record, self.records(tenant, "Accounts"))

    def by_country(self, country: str) -> str:
        return next(t for t in self.tenants if self.org(t).country == country)

    def client_with(self, scope: str, **kwargs: Any) -> XeroClient:
        token = self.xero.login(scope)["access_token"]
        kwargs.setdefault("budget_factory", unpaced)
        client = XeroClient(self.xero.url, Bearer(token), **kwargs)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in [self.client, *self.clients]:
            client.close()
        self.xero.close()
        self.server.stop()


BooksFactory = Callable[..., Books]


def open_books(login_scope: str = REPORTS_SCOPE, **overrides: Any) -> Books:
    settings: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "records": 40,
        "tenants": 3,  # US, AU, NZ
        "limits": False,
        **overrides,
    }
    server = SandboxServer(SandboxConfig(**settings))
    xero = Xero(server.start(), CLIENT_ID, CLIENT_SECRET)
    token = xero.login(login_scope)["access_token"]
    client = XeroClient(xero.url, Bearer(token), budget_factory=unpaced)
    return Books(server, xero, token, client, xero.tenants(token))


@pytest.fixture(scope="module")
def books() -> Iterator[Books]:
    """Shared by a module's tests: they read and never change the books."""
    opened = open_books()
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def books_factory() -> Iterator[BooksFactory]:
    """Private books for a test that changes them (locks, skews, limits)."""
    opened: list[Books] = []

    def make(login_scope: str = REPORTS_SCOPE, **overrides: Any) -> Books:
        found = open_books(login_scope, **overrides)
        opened.append(found)
        return found

    try:
        yield make
    finally:
        for b in opened:
            b.close()

"""Xero assets materialized with mocked resources: a fake Xero API and an in-memory IO manager.

This is how a user unit-tests the project: `dg.materialize` with the real assets,
an `httpx.MockTransport` behind the API resource, and no storage at all.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
import httpx
import orjson
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.defs.io_manager import BlobLandingIOManager
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.defs.xero.assets import (
    DEFAULT_ASSETS,
    ENDPOINT_ASSETS,
    OPT_IN_ASSETS,
    ExtractionConfig,
    build_endpoint_asset,
)
from oauth_etl.defs.xero.jobs import xero_extract_job
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.reader import list_batches
from oauth_etl.xero.catalog import CATALOG, endpoint
from oauth_etl.xero.client import XeroClient
from oauth_etl.xero.cursor import request_bound
from oauth_etl.xero.dates import from_cursor, if_modified_since_header
from oauth_etl.xero.rate import RateBudget
from oauth_etl.xero.scopes import CLASSIC_EXPENSES_SCOPE as CLASSIC
from oauth_etl.xero.scopes import scopes_for
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests.xero.fake_xero import TENANT, BearerAuth, FakeXero, always, make_records

ENDPOINTS = {e.path: e for e in CATALOG}


class FakeXeroApi:
    """Stands in for `XeroApiResource`: a real `XeroClient` on a mock transport."""

    def __init__(self, fake: FakeXero, scopes: Sequence[str] | None = None) -> None:
        self.fake = fake
        self.scopes = scopes

    def granted_scopes(self) -> tuple[str, ...] | None:
        return None if self.scopes is None else tuple(self.scopes)

    def client(self) -> XeroClient:
        return XeroClient(
            "https://api.xero.test",
            BearerAuth(),
            transport=self.fake.transport(),
            sleep=lambda _: None,
            budget_factory=lambda tenant: RateBudget(tenant, per_minute=100_000),
        )


class InMemoryLandingIOManager(dg.IOManager):
    """Consumes each batch like the blob IO manager does, and keeps the records."""

    def __init__(self) -> None:
        self.landed: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def handle_output(self, context: dg.OutputContext, obj: LandingBatch) -> None:
        records = [dict(r) for r in obj.records]
        self.landed[(obj.endpoint, obj.tenant_id)] = records
        context.add_output_metadata(
            {
                "dagster/row_count": len(records),
                "cursor_to": obj.stats.cursor_to or "",
                "api_calls": obj.stats.api_calls,
                **obj.stats.extra,
            }
        )

    def load_input(self, context: dg.InputContext) -> Iterator[dict[str, Any]]:
        raise NotImplementedError("no downstream assets in these tests")


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(TENANTS.name or "", [TENANT])
        yield instance


# The production policy's shape without its 30 s delay: attempts are what is observed.
NO_WAIT_RETRIES = dg.RetryPolicy(max_retries=2, delay=0.01, backoff=dg.Backoff.EXPONENTIAL)


def materialize(
    name: str,
    fake: FakeXero,
    io_manager: InMemoryLandingIOManager,
    instance: dg.DagsterInstance,
    run_config: dict[str, Any] | None = None,
    scopes: Sequence[str] | None = None,
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_endpoint_asset(endpoint(name), retry_policy=NO_WAIT_RETRIES)],
        partition_key=TENANT,
        instance=instance,
        resources={"xero": FakeXeroApi(fake, scopes), "landing_io_manager": io_manager},
        run_config=run_config,
        raise_on_error=False,
    )


def fake_for(path: str, n: int) -> FakeXero:
    return FakeXero(endpoints=ENDPOINTS, data={path: make_records(ENDPOINTS[path], n)})


def test_lands_every_record_in_page_order(instance: dg.DagsterInstance) -> None:
    fake = fake_for("Invoices", 2500)
    io = InMemoryLandingIOManager()
    result = materialize("invoices", fake, io, instance)
    assert result.success
    assert io.landed[("invoices", TENANT)] == fake.data["Invoices"]
    assert [c.url.params.get("pageSize") for c in fake.calls] == ["1000"] * 3
    metadata = result.asset_materializations_for_node("xero__invoices")[0].metadata
    assert metadata["dagster/row_count"].value == 2500
    assert metadata["api_calls"].value == 3


def since(cursor: str) -> str:
    return if_modified_since_header(request_bound(from_cursor(cursor)))


def test_second_run_reads_changes_since_the_committed_cursor(
    instance: dg.DagsterInstance,
) -> None:
    fake = fake_for("Contacts", 150)
    io = InMemoryLandingIOManager()
    assert materialize("contacts", fake, io, instance).success
    assert "If-Modified-Since" not in fake.calls[0].headers
    cursor = (
        instance.get_latest_materialization_event(dg.AssetKey(["xero", "contacts"]))
        .asset_materialization.metadata["cursor_to"]  # type: ignore[union-attr]
        .value
    )
    assert cursor.startswith("2024-01-01T02:29:00")  # the newest UpdatedDateUTC seen

    fake.calls.clear()
    assert materialize("contacts", fake, io, instance).success
    # Strictly before the cursor (xero/cursor.py request_bound): records stamped at it return.
    assert fake.calls[0].headers["If-Modified-Since"] == since(cursor)

    fake.calls.clear()
    full = {"ops": {"xero__contacts": {"config": {"full_refresh": True}}}}
    assert materialize("contacts", fake, io, instance, run_config=full).success
    assert "If-Modified-Since" not in fake.calls[0].headers


def test_snapshot_endpoints_always_read_everything(instance: dg.DagsterInstance) -> None:
    fake = fake_for("TaxRates", 6)
    io = InMemoryLandingIOManager()
    for _ in range(2):
        assert materialize("tax_rates", fake, io, instance).success
    assert all("If-Modified-Since" not in c.headers for c in fake.calls)
    assert len(io.landed[("tax_rates", TENANT)]) == 6


def test_journals_resume_after_the_last_journal_number(instance: dg.DagsterInstance) -> None:
    fake = fake_for("Journals", 250)
    io = InMemoryLandingIOManager()
    assert materialize("journals", fake, io, instance).success
    assert [c.url.params["offset"] for c in fake.calls] == ["0", "100", "200"]
    fake.calls.clear()
    assert materialize("journals", fake, io, instance).success
    assert fake.calls[0].url.params["offset"] == "250"
    assert io.landed[("journals", TENANT)] == []


def _error(status: int, detail: str) -> httpx.Response:
    body = orjson.dumps({"Title": "Unauthorized", "Status": status, "Detail": detail})
    return httpx.Response(status, content=body, headers={"Xero-Correlation-Id": "corr-42"})


def test_missing_scope_fails_the_asset_naming_the_scope_and_forbids_retries(
    instance: dg.DagsterInstance,
) -> None:
    fake = fake_for("Journals", 10)
    fake.faults.append(always(lambda _: True, lambda: _error(401, "AuthorizationUnsuccessful")))
    result = materialize("journals", fake, InMemoryLandingIOManager(), instance)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    assert "accounting.journals.read" in failure.error.to_string()  # type: ignore[union-attr]
    assert failure.user_failure_data is not None
    assert failure.error_source is not None
    assert len(fake.calls) == 1  # a missing scope is not retried: not the request,
    assert attempts(result) == 1  # not the step (Failure(allow_retries=False))


@pytest.mark.parametrize(
    ("name", "path", "scope", "flag"),
    [
        ("journals", "Journals", "accounting.journals.read", "--with-journals"),
        ("expense_claims", "ExpenseClaims", CLASSIC, "--with-classic-expenses"),
        ("receipts", "Receipts", CLASSIC, "--with-classic-expenses"),
    ],
)
def test_an_opt_in_asset_without_its_scope_fails_before_calling_xero(
    name: str, path: str, scope: str, flag: str, instance: dg.DagsterInstance
) -> None:
    fake = fake_for(path, 3)
    new_app = scopes_for().scopes  # what `oauth-etl authorize` asks for by default
    result = materialize(name, fake, InMemoryLandingIOManager(), instance, scopes=new_app)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data
    message = failure.error.to_string()  # type: ignore[union-attr]
    assert scope in message and f"oauth-etl authorize {flag}" in message
    assert fake.calls == [] and attempts(result) == 1  # nothing asked of Xero, no retry
    # Opted in: the same asset lands on demand.
    opted = scopes_for(with_journals=True, with_classic_expenses=True).scopes
    io = InMemoryLandingIOManager()
    assert materialize(name, fake, io, instance, scopes=opted).success
    assert len(io.landed[(name, TENANT)]) == 3


def test_the_daily_job_leaves_the_opt_in_assets_out() -> None:
    in_job = {k.path[-1] for k in xero_extract_job.selection.resolve(ENDPOINT_ASSETS)}
    assert in_job == {e.name for e in CATALOG} - {"journals", "expense_claims", "receipts"}
    assert {a.key.path[-1] for a in OPT_IN_ASSETS} == {"journals", "expense_claims", "receipts"}
    assert len(DEFAULT_ASSETS) + len(OPT_IN_ASSETS) == len(ENDPOINT_ASSETS)


def attempts(result: dg.ExecuteInProcessResult) -> int:
    retried = [
        e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    return 1 + len(retried)


def test_a_failing_api_is_retried_by_the_step_retry_policy_then_fails(
    instance: dg.DagsterInstance,
) -> None:
    fake = fake_for("Invoices", 10)
    fake.faults.append(always(lambda _: True, lambda: httpx.Response(503, text="offline")))
    result = materialize("invoices", fake, InMemoryLandingIOManager(), instance)
    assert not result.success
    assert attempts(result) == 3  # the first try and NO_WAIT_RETRIES.max_retries
    assert len(fake.calls) == 3 * XeroClient("https://x", BearerAuth()).max_attempts


def test_api_error_while_streaming_fails_the_step_with_the_api_message(
    instance: dg.DagsterInstance,
) -> None:
    fake = fake_for("Invoices", 2500)
    fake.faults.append(
        always(
            lambda r: r.url.params.get("page") == "2",
            lambda: httpx.Response(
                503,
                text="The Xero API is currently offline for maintenance",
                headers={"Xero-Correlation-Id": "corr-503"},
            ),
        )
    )
    result = materialize("invoices", fake, InMemoryLandingIOManager(), instance)
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert error is not None
    text = error.to_string()
    assert "corr-503" in text and "Invoices" in text
    assert not result.asset_materializations_for_node("xero__invoices")


def test_a_day_limit_ends_the_asset_cleanly_and_the_next_run_resumes(
    instance: dg.DagsterInstance,
) -> None:
    fake = fake_for("Invoices", 2500)
    day_limit = always(
        lambda r: r.url.params.get("page") == "2",
        lambda: httpx.Response(
            429,
            headers={"Retry-After": "36000", "X-Rate-Limit-Problem": "day"},
            json={"Title": "Too Many Requests"},
        ),
    )
    fake.faults.append(day_limit)
    io = InMemoryLandingIOManager()
    result = materialize("invoices", fake, io, instance)
    assert result.success  # stopped cleanly, not failed
    assert io.landed[("invoices", TENANT)] == fake.data["Invoices"][:1000]
    metadata = result.asset_materializations_for_node("xero__invoices")[0].metadata
    assert "daily call limit" in str(metadata["stop_reason"].value)
    cursor = metadata["cursor_to"].value
    assert cursor.startswith("2024-01-01T16:39:00")  # the last record landed (#999)

    fake.faults.remove(day_limit)
    fake.calls.clear()
    assert materialize("invoices", fake, io, instance).success
    assert fake.calls[0].headers["If-Modified-Since"] == since(cursor)
    # Record #999, stamped at the cursor, lands again (at-least-once); nothing is skipped.
    assert io.landed[("invoices", TENANT)] == fake.data["Invoices"][999:]


def test_the_asset_runs_by_direct_invocation(instance: dg.DagsterInstance) -> None:
    fake = fake_for("Invoices", 30)
    asset = build_endpoint_asset(endpoint("invoices"))
    context = dg.build_asset_context(
        partition_key=TENANT, instance=instance, resources={"xero": FakeXeroApi(fake)}
    )
    batch = asset(context, ExtractionConfig())
    assert isinstance(batch, LandingBatch)
    assert fake.calls == []  # lazy: nothing is read until the batch is consumed
    assert list(batch.records) == fake.data["Invoices"]
    assert (batch.tenant_id, batch.stats.api_calls) == (TENANT, 1)


def test_an_api_error_while_the_blob_io_manager_lands_is_the_xero_error(
    instance: dg.DagsterInstance, azurite: Azurite, container: ContainerClient
) -> None:
    fake = fake_for("Invoices", 2500)
    fake.faults.append(
        always(
            lambda r: r.url.params.get("page") == "2",
            lambda: httpx.Response(503, text="offline", headers={"Xero-Correlation-Id": "c-9"}),
        )
    )
    storage = LandingStorageResource(
        credential=ConnectionString(connection_string=azurite.connection_string),
        container=container.container_name,
    )
    result = dg.materialize(
        [build_endpoint_asset(endpoint("invoices"), retry_policy=NO_WAIT_RETRIES)],
        partition_key=TENANT,
        instance=instance,
        resources={
            "xero": FakeXeroApi(fake),
            "landing_io_manager": BlobLandingIOManager(storage=storage),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[-1].step_failure_data
    # What the step reports is Xero's error and its correlation id, not an output error.
    assert failure.user_failure_data is not None
    assert "c-9" in (failure.user_failure_data.description or "")
    assert "handling output" not in str(failure.error)
    assert (
        list_batches(container, prefix="", source="xero", tenant_id=TENANT, endpoint="invoices")
        == []
    )

"""Several token sets on the sandbox: a deployment of two Xero users, end to end through
the Dagster definitions, the command line and the doctor.

The sandbox's consent (`POST /_sandbox/consent`) makes each authorization connect only
some organisations, as a second Xero user would; `api_calls_by_chain` says which token
set made each call (chain 1: the default set, authorized first; chain 2: `second`).
"""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import dagster as dg
import httpx
import pytest
from azure.storage.blob import BlobServiceClient

from oauth_etl.app.connection import open_from_environment
from oauth_etl.app.token_sets import TenantRouter
from oauth_etl.defs.resources import build_resources
from oauth_etl.defs.xero.assets import ENDPOINT_ASSETS
from oauth_etl.defs.xero.checks import xero_token_health
from oauth_etl.defs.xero.jobs import xero_token_keepalive_job
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.sensors import xero_tenants_sensor
from oauth_etl.defs.xero.tenants import xero_tenants
from oauth_etl.doctor.run import stream_environment
from oauth_etl_dev.demo import local_environment
from oauth_etl_dev.local_services import Azurite
from oauth_etl_tests import canary
from oauth_etl_tests.cli.conftest import cli
from oauth_etl_tests.conftest import SandboxFactory, SandboxHandle

TAX_RATES = next(a for a in ENDPOINT_ASSETS if a.key.path[-1] == "tax_rates")


# -- two Xero users on the sandbox ---------------------------------------------------------
def consent(sandbox: SandboxHandle, tenants: list[str] | None) -> None:
    sandbox.post("/_sandbox/consent", {"tenants": tenants})


def by_chain(sandbox: SandboxHandle) -> dict[str, int]:
    found = dict(sandbox.stats()["api_calls_by_chain"])  # type: ignore[call-overload]
    return {"1": 0, "2": 0, **found}


@pytest.fixture
def three(sandbox_factory: SandboxFactory) -> SandboxHandle:
    return sandbox_factory("--tenants", "3", "--records", "20", "--no-limits")


@pytest.fixture
def tenants(three: SandboxHandle) -> list[str]:
    return [t["tenantId"] for t in three.admin.get("/_sandbox/tenants").json()]


@pytest.fixture
def two_users(
    three: SandboxHandle,
    tenants: list[str],
    azurite: Azurite,
    blob_service: BlobServiceClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, str]]:
    """The default set sees tenants 0 and 1; `second` (another user) sees 1 and 2."""
    environment = local_environment(three.sandbox, azurite, tmp_path)
    environment["OAUTH_ETL_CONTAINER"] = f"test-sets-{uuid.uuid4().hex[:16]}"
    environment["OAUTH_ETL_CONNECTIONS"] = "second"
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    for token_set, seen in ((None, tenants[:2]), ("second", tenants[1:])):
        consent(three, seen)
        with open_from_environment(token_set=token_set) as (connection, _):
            connection.authorize(mode="unattended", output=lambda _: None)
    consent(three, None)
    yield environment
    landing = blob_service.get_container_client(environment["OAUTH_ETL_CONTAINER"])
    if landing.exists():
        canary.scan_container(landing)
        landing.delete_container()


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = result.asset_materializations_for_node("xero__tenants")
    return {k: v.value for k, v in materialization.metadata.items()}


def extract(
    instance: dg.DagsterInstance, tenant: str, resources: dict[str, Any]
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [TAX_RATES],
        partition_key=tenant,
        instance=instance,
        resources=resources,
        raise_on_error=False,
    )


def test_tenants_of_both_sets_are_registered_and_each_run_uses_the_set_that_sees_it(
    two_users: dict[str, str],
    three: SandboxHandle,
    tenants: list[str],
    instance: dg.DagsterInstance,
) -> None:
    resources = build_resources(env_vars=False)
    with dg.build_sensor_context(instance=instance, resources={"xero": resources["xero"]}) as ctx:
        sensed = xero_tenants_sensor(ctx)
    assert isinstance(sensed, dg.SensorResult)
    (request,) = sensed.dynamic_partitions_requests or []
    assert sorted(request.partition_keys) == sorted(tenants)  # type: ignore[union-attr]
    registered = dg.materialize([xero_tenants], instance=instance, resources=resources)
    assert registered.success
    assert sorted(instance.get_dynamic_partitions(TENANTS.name or "")) == sorted(tenants)
    found = metadata(registered)
    # Tenant 1 is seen by both sets and read once, with the default set (the first).
    assert found["token_set/default"] == "sees 2, reads 2"
    assert found["token_set/second"] == "sees 2, reads 1"
    owners = {r.data["tenant_id"]: r.data["token_set"] for r in found["tenants"].records}
    assert owners == {tenants[0]: "default", tenants[1]: "default", tenants[2]: "second"}

    # A run of tenant 2 (only `second` sees it): its calls carry the second set's token
    # (the sandbox answers 403 to a token whose user did not connect the tenant).
    before = by_chain(three)
    assert extract(instance, tenants[2], resources).success
    after = by_chain(three)
    # Each set answered one /connections (the survey); the data calls were chain 2's.
    assert after["1"] - before["1"] == 1
    assert after["2"] - before["2"] >= 2

    # The tenant both see is read with the default set's token.
    before = after
    assert extract(instance, tenants[1], resources).success
    after = by_chain(three)
    assert after["1"] - before["1"] >= 2
    assert after["2"] - before["2"] == 1


def test_an_async_client_gets_the_token_of_the_set_that_sees_the_tenant(
    two_users: dict[str, str], three: SandboxHandle, tenants: list[str]
) -> None:
    async def call() -> list[int]:
        with open_from_environment() as (connection, api):
            router = TenantRouter(lambda name: connection.for_set(name).auth(),
                                  api.directory().owner)  # fmt: skip
            async with httpx.AsyncClient(auth=router, timeout=10.0) as client:
                answers = [
                    await client.get(
                        f"{three.url}/api.xro/2.0/TaxRates", headers={"xero-tenant-id": t}
                    )
                    for t in (tenants[2], tenants[0])
                ]
                answers.append(await client.get(f"{three.url}/connections"))
        return [a.status_code for a in answers]

    before = by_chain(three)
    assert anyio.run(call) == [200, 200, 200]
    after = by_chain(three)
    # Survey (one each), tenant 2 with chain 2, tenant 0 and the untenanted call with chain 1.
    assert (after["1"] - before["1"], after["2"] - before["2"]) == (3, 2)


def test_keepalive_rotates_and_health_reports_every_set(
    two_users: dict[str, str], three: SandboxHandle
) -> None:
    resources = build_resources(env_vars=False)
    kept = xero_token_keepalive_job.execute_in_process(
        resources={"oauth": resources["oauth"]},
        run_config={"ops": {"keep_xero_token_alive": {"config": {"min_age_days": 0.0}}}},
    )
    assert kept.success
    (output,) = [e for e in kept.all_events if e.is_successful_output]
    values = {k: v.value for k, v in output.step_output_data.metadata.items()}
    assert values["rotated"] is True and values["second/rotated"] is True
    assert three.stats()["chains"]["rotations"] == {"1": 1, "2": 1}  # type: ignore[index]

    evaluation = xero_token_health(oauth=resources["oauth"])
    assert evaluation.passed
    keys = set(evaluation.metadata)
    assert {"default/days_left", "second/days_left", "token_sets"} <= keys
    assert evaluation.metadata["token_sets"].value == "default, second"


def test_a_revoked_set_fails_its_own_tenants_and_work_of_the_other_set_goes_on(
    two_users: dict[str, str],
    three: SandboxHandle,
    tenants: list[str],
    instance: dg.DagsterInstance,
) -> None:
    resources = build_resources(env_vars=False)
    assert dg.materialize([xero_tenants], instance=instance, resources=resources).success
    # The second user disconnects the app at Xero: the stored set is dead, not forgotten.
    second = resources["oauth"].token_manager("second")
    stored = second.current()
    assert stored is not None and stored.refresh_token
    second.endpoint.revoke(stored.refresh_token)

    fresh = build_resources(env_vars=False)
    failed = extract(instance, tenants[2], fresh)
    assert not failed.success
    (failure,) = [e for e in failed.all_events if e.is_step_failure]
    message = str(failure.step_failure_data.error)
    assert f"no token set sees tenant {tenants[2]}" in message
    assert "oauth-etl authorize --connection second" in message
    assert extract(instance, tenants[0], fresh).success
    assert extract(instance, tenants[1], fresh).success  # both saw it; the default still does

    kept = xero_token_keepalive_job.execute_in_process(
        resources={"oauth": fresh["oauth"]},
        run_config={"ops": {"keep_xero_token_alive": {"config": {"min_age_days": 0.0}}}},
        raise_on_error=False,
    )
    assert not kept.success
    (failure,) = [e for e in kept.all_events if e.is_step_failure]
    assert "token set 'second'" in str(failure.step_failure_data.user_failure_data)
    rotations = three.stats()["chains"]["rotations"]  # type: ignore[index]
    assert rotations["1"] >= 1  # the default set was kept alive all the same

    # The health check is read-only (it never asks Xero): once the set is forgotten too
    # (`oauth-etl token revoke --connection second`), it fails naming the set.
    fresh["oauth"].token_manager("second").revoke()
    health = xero_token_health(oauth=fresh["oauth"])
    assert not health.passed and health.severity == dg.AssetCheckSeverity.ERROR
    assert "token set 'second'" in (health.description or "")
    assert health.metadata["second/remedy"].value == "oauth-etl authorize --connection second"

    with dg.build_sensor_context(instance=instance, resources={"xero": fresh["xero"]}) as ctx:
        sensed = xero_tenants_sensor(ctx)
    assert isinstance(sensed, dg.SensorResult)
    assert "token set 'second' could not list its organisations" in str(sensed.skip_reason)

    registered = dg.materialize(
        [xero_tenants], instance=instance, resources=fresh, raise_on_error=False
    )
    assert not registered.success
    (failure,) = [e for e in registered.all_events if e.is_step_failure]
    said = str(failure.step_failure_data.user_failure_data)
    assert "oauth-etl authorize --connection second" in said
    assert "`oauth-etl authorize`" not in said  # the default set's command would mislead


def test_doctor_checks_every_set(two_users: dict[str, str], three: SandboxHandle) -> None:
    results = {r.name: r for r in stream_environment(two_users)}
    assert results["settings"].status == "ok" and "second" in results["settings"].detail
    for check in ("token store", "lock", "token set", "tenants", "rescue location"):
        assert results[check].status == "ok", results[check]
        assert results[f"{check} [second]"].status == "ok", results[f"{check} [second]"]

    undeclared = {**two_users, "OAUTH_ETL_CONNECTIONS": "second,third"}
    third = {r.name: r for r in stream_environment(undeclared)}
    assert third["token set [third]"].status == "fail"
    assert "oauth-etl authorize --connection third" in third["token set [third]"].fix


def test_cli_authorizes_a_named_set_as_another_user(
    three: SandboxHandle, tenants: list[str], azurite: Azurite, tmp_path: Path
) -> None:
    env = {**local_environment(three.sandbox, azurite, tmp_path), "OAUTH_ETL_CONNECTIONS": "b"}
    assert cli(env, "authorize", "--unattended").returncode == 0
    consent(three, tenants[2:])
    named = cli(env, "authorize", "--unattended", "--connection", "b")
    assert named.returncode == 0, named.stderr
    assert "token set 'b'" in named.stdout and tenants[2] in named.stdout
    assert tenants[0] not in named.stdout  # only what the second user connected
    assert (tmp_path / "xero-token.b.json").exists()

    status = cli(env, "token", "status")
    assert status.returncode == 0, status.stderr
    assert "token set default:" in status.stdout and "token set b:" in status.stdout
    assert "xero-token.b.json" in status.stdout

    unknown = cli(env, "authorize", "--unattended", "--connection", "c")
    assert unknown.returncode == 1
    assert "OAUTH_ETL_CONNECTIONS" in unknown.stderr and "Traceback" not in unknown.stderr

    revoked = cli(env, "token", "revoke", "--yes", "--connection", "b")
    assert "oauth-etl authorize --connection b" in revoked.stdout
    after = cli(env, "token", "ensure", "--connection", "b")
    assert after.returncode == 1 and "oauth-etl authorize --connection b" in after.stderr

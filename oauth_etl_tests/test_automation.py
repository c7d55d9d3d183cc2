"""Running unattended: schedules, the tenants sensor, the token keep-alive and health check.

The keep-alive runs against the sandbox with its clock moved forward: Xero's
60-day death of an unused refresh token is real there, so these tests prove the
chain survives 90 days with extraction off, and dies without the keep-alive.
"""

import datetime as dt
import time
from collections.abc import Iterator
from types import SimpleNamespace

import dagster as dg
import pytest

from oauth_etl.app.contract import ScheduleSettings
from oauth_etl.app.sets import DEFAULT
from oauth_etl.definitions import defs
from oauth_etl.defs.resources import XeroApiResource, XeroOAuthResource, build_resources
from oauth_etl.defs.storage import ConnectionString, LandingStorageResource
from oauth_etl.defs.xero.checks import xero_token_health
from oauth_etl.defs.xero.jobs import xero_token_keepalive_job
from oauth_etl.defs.xero.partitions import TENANTS
from oauth_etl.defs.xero.schedules import build_schedules, daily_run_requests
from oauth_etl.defs.xero.sensors import xero_tenants_sensor
from oauth_etl.oauth.errors import AuthorizationRequired
from oauth_etl.oauth.manager import TokenManager, TokenStatus
from oauth_etl_tests.conftest import SandboxHandle

DAY = 86_400.0


class ShiftedClockOAuth(XeroOAuthResource):
    """The real resource, with the token manager's clock moved like the sandbox's."""

    clock_offset_seconds: float = 0.0

    def token_manager(self, token_set: str = DEFAULT) -> TokenManager:
        manager = super().token_manager(token_set)
        manager.clock = lambda: time.time() + self.clock_offset_seconds
        return manager


def shifted_oauth(offset_days: float) -> ShiftedClockOAuth:
    oauth = build_resources(env_vars=False)["oauth"]
    return ShiftedClockOAuth(**{**oauth.model_dump(), "storage": oauth.storage},
                             clock_offset_seconds=offset_days * DAY)  # fmt: skip


def refresh_grants(sandbox: SandboxHandle) -> int:
    return int(sandbox.stats()["grants"]["refresh_token"])  # type: ignore[index]


def run_keepalive(oauth: XeroOAuthResource) -> bool:
    result = xero_token_keepalive_job.execute_in_process(resources={"oauth": oauth})
    assert result.success
    (output,) = [e for e in result.all_events if e.is_successful_output]
    return bool(output.step_output_data.metadata["rotated"].value)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def test_daily_schedule_requests_one_run_per_tenant(instance: dg.DagsterInstance) -> None:
    instance.add_dynamic_partitions(TENANTS.name or "", ["tenant-a", "tenant-b"])
    context = dg.build_schedule_context(
        instance=instance, scheduled_execution_time=dt.datetime(2026, 11, 28, 2, 30)
    )
    requests = daily_run_requests(context)
    assert isinstance(requests, list)
    assert [r.partition_key for r in requests] == ["tenant-a", "tenant-b"]
    assert [r.run_key for r in requests] == ["2026-11-28/tenant-a", "2026-11-28/tenant-b"]
    assert [r.tags for r in requests] == [{"xero/tenant": "tenant-a"}, {"xero/tenant": "tenant-b"}]


def test_daily_schedule_tick_is_one_run_request_per_tenant(instance: dg.DagsterInstance) -> None:
    # Through Dagster's own tick evaluation, as the daemon does (it refuses a returned list).
    instance.add_dynamic_partitions(TENANTS.name or "", ["tenant-a", "tenant-b"])
    repository = defs().get_repository_def()
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=dt.datetime(2026, 11, 28, 2, 30),
        repository_def=repository,
    )
    tick = repository.get_schedule_def("xero_daily").evaluate_tick(context)
    assert [r.partition_key for r in tick.run_requests or []] == ["tenant-a", "tenant-b"]


def test_daily_schedule_skips_and_says_why_without_tenants(instance: dg.DagsterInstance) -> None:
    result = daily_run_requests(dg.build_schedule_context(instance=instance))
    assert isinstance(result, dg.SkipReason)
    assert "oauth-etl authorize" in (result.skip_message or "")


def test_schedules_follow_their_settings_and_are_on_by_default() -> None:
    settings = ScheduleSettings(keepalive_cron="0 5 * * 1", timezone="Pacific/Auckland")
    schedules = {s.name: s for s in build_schedules(settings)}
    keepalive = schedules["xero_token_keepalive_weekly"]
    assert keepalive.cron_schedule == "0 5 * * 1"
    assert keepalive.execution_timezone == "Pacific/Auckland"
    assert schedules["xero_daily"].cron_schedule == ScheduleSettings.daily_cron
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())


def test_tenants_sensor_registers_new_tenants_once(
    local_env: dict[str, str], instance: dg.DagsterInstance
) -> None:
    xero = build_resources(env_vars=False)["xero"]
    assert isinstance(xero, XeroApiResource)
    with dg.build_sensor_context(instance=instance, resources={"xero": xero}) as context:
        result = xero_tenants_sensor(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.dynamic_partitions_requests or []
    assert isinstance(request, dg.AddDynamicPartitionsRequest)
    assert len(request.partition_keys) == 2
    instance.add_dynamic_partitions(TENANTS.name or "", list(request.partition_keys))
    with dg.build_sensor_context(instance=instance, resources={"xero": xero}) as context:
        again = xero_tenants_sensor(context)
    assert isinstance(again, dg.SensorResult) and not again.dynamic_partitions_requests


def test_keepalive_does_nothing_when_recent_and_refreshes_once_when_old(
    sandbox: SandboxHandle, local_env: dict[str, str]
) -> None:
    before = refresh_grants(sandbox)
    assert run_keepalive(shifted_oauth(0)) is False
    assert refresh_grants(sandbox) == before

    sandbox.advance_clock(7 * DAY)
    assert run_keepalive(shifted_oauth(7)) is True
    assert refresh_grants(sandbox) == before + 1
    assert run_keepalive(shifted_oauth(7)) is False  # the refresh just made is recent
    assert refresh_grants(sandbox) == before + 1


def test_weekly_keepalive_keeps_the_chain_alive_for_90_days_with_extraction_off(
    sandbox: SandboxHandle, local_env: dict[str, str]
) -> None:
    for week in range(1, 14):  # 91 sandbox days, one keep-alive tick a week
        sandbox.advance_clock(7 * DAY)
        assert run_keepalive(shifted_oauth(7 * week)) is True
    stats = sandbox.stats()
    assert stats["invalid_grant"] == 0
    assert refresh_grants(sandbox) == 13
    # Extraction can start again on day 91 without a person.
    shifted_oauth(91).token_manager().access_token()


def test_without_keepalive_the_chain_dies_after_60_days(
    sandbox: SandboxHandle, local_env: dict[str, str]
) -> None:
    sandbox.advance_clock(61 * DAY)
    with pytest.raises(AuthorizationRequired, match="oauth-etl authorize"):
        shifted_oauth(61).token_manager().access_token()


def test_token_health_passes_warns_then_fails_naming_the_command(
    sandbox: SandboxHandle, local_env: dict[str, str]
) -> None:
    healthy = xero_token_health(oauth=shifted_oauth(0))
    assert healthy.passed
    assert healthy.metadata["days_left"].value > 59  # type: ignore[operator]

    sandbox.advance_clock(50 * DAY)
    warning = xero_token_health(oauth=shifted_oauth(50))
    assert not warning.passed and warning.severity == dg.AssetCheckSeverity.WARN
    assert "oauth-etl token refresh" in (warning.description or "")

    sandbox.advance_clock(11 * DAY)  # day 61: the refresh token is dead at Xero
    dead = xero_token_health(oauth=shifted_oauth(61))
    assert not dead.passed and dead.severity == dg.AssetCheckSeverity.ERROR
    assert "oauth-etl authorize" in (dead.description or "")


class FixedStatusOAuth(XeroOAuthResource):
    """The resource with a token manager that reports a given status."""

    def token_manager(self, token_set: str = DEFAULT) -> TokenManager:
        status = TokenStatus(
            store="file x", lock="file x.lock", grant="authorization_code", present=True,
            has_refresh_token=True,
        )  # fmt: skip
        return SimpleNamespace(status=lambda: status)  # type: ignore[return-value]


def test_token_health_warns_when_the_refresh_token_age_is_unknown() -> None:
    oauth = FixedStatusOAuth(
        client_id="c",
        storage=LandingStorageResource(
            credential=ConnectionString(connection_string="UseDevelopmentStorage=true")
        ),
    )
    result = xero_token_health(oauth=oauth)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert "oauth-etl token refresh" in (result.description or "")

"""The secret-canary check itself can fail: it sees a leak in output and in Dagster events."""

import dagster as dg

from oauth_etl_dev.demo import Environment
from oauth_etl_tests import canary


def test_a_canary_in_text_is_reported() -> None:
    canary.report("a log line", [f"Authorization: Bearer {canary.TOKEN_PREFIX}abc"])
    hits = canary.take_hits()
    assert hits == [f"{canary.TOKEN_PREFIX!r} in a log line"]


def test_a_canary_in_dagster_metadata_is_reported() -> None:
    @dg.asset
    def leaky(context: dg.AssetExecutionContext) -> dg.MaterializeResult[None]:
        return dg.MaterializeResult(metadata={"oops": canary.CLIENT_SECRET})

    assert dg.materialize([leaky]).success
    hits = canary.take_hits()  # taken here, so this test itself stays green
    assert any(canary.CLIENT_SECRET in hit for hit in hits)


def test_the_test_environment_prints_variable_names_never_their_values() -> None:
    # A failing test's traceback prints its arguments (local_env among them).
    environment = Environment(
        {"XERO_CLIENT_SECRET": canary.CLIENT_SECRET, "OAUTH_ETL_CONTAINER": "c"}
    )
    shown = f"{environment!r} {environment!s} {[environment]!r}"
    assert canary.CLIENT_SECRET not in shown
    assert "XERO_CLIENT_SECRET" in shown

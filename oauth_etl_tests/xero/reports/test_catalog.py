"""The report catalog agrees with the vendored spec: paths, operation ids, parameter names
(a test fails when an entry names a parameter the spec does not have), and with the
scopes the sandbox refuses reports without."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import yaml

from oauth_etl.tables.spec import VENDORED_SPEC
from oauth_etl.xero.reports.catalog import BROAD_SCOPE, REPORTS, Report, granular_scopes, report
from oauth_etl_dev.sandbox import report_scopes


@cache
def spec() -> dict[str, Any]:
    return dict(yaml.safe_load(VENDORED_SPEC.read_text()))


def _parameters(operation: dict[str, Any]) -> list[str]:
    shared = spec()["components"]["parameters"]
    names = []
    for p in operation.get("parameters", []):
        if "$ref" in p:
            p = shared[p["$ref"].rsplit("/", 1)[1]]
        names.append(p["name"])
    return names


def mismatches(entry: Report) -> list[str]:
    """What `entry` says that the spec does not."""
    item = spec()["paths"].get("/" + entry.path)
    if item is None or "get" not in item:
        return [f"{entry.name}: no GET /{entry.path} in the spec"]
    operation = item["get"]
    out = []
    if operation["operationId"] != entry.operation_id:
        out.append(f"{entry.name}: operationId is {operation['operationId']}")
    spec_params = _parameters(operation)
    out += [
        f"{entry.name}: the spec has no parameter {p}" for p in entry.params if p not in spec_params
    ]
    out += [
        f"{entry.name}: the catalog leaves out {p}" for p in spec_params if p not in entry.params
    ]
    security = [s for block in operation.get("security", []) for s in block.get("OAuth2", [])]
    if entry.broad_scope not in security:
        out.append(f"{entry.name}: {entry.broad_scope} is not in the spec's security")
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    if schema.rsplit("/", 1)[1] != entry.schema:
        out.append(f"{entry.name}: the spec answers {schema}")
    return out


def test_every_entry_agrees_with_the_spec() -> None:
    assert [m for entry in REPORTS for m in mismatches(entry)] == []


def test_a_parameter_the_spec_does_not_have_is_caught() -> None:
    pl = report("profit_and_loss")
    assert mismatches(replace(pl, params=(*pl.params, "fromdate"))) == [
        "profit_and_loss: the spec has no parameter fromdate"
    ]
    assert mismatches(replace(pl, params=pl.params[1:])) == [
        "profit_and_loss: the catalog leaves out fromDate"
    ]
    assert mismatches(replace(pl, operation_id="getProfit")) == [
        "profit_and_loss: operationId is getReportProfitAndLoss"
    ]


def test_the_catalog_covers_every_report_operation_of_the_spec() -> None:
    spec_paths = {p[1:] for p in spec()["paths"] if p.startswith("/Reports")}
    assert {r.path for r in REPORTS} == spec_paths
    assert len({r.name for r in REPORTS}) == len(REPORTS)


def test_scopes_are_the_ones_the_sandbox_enforces() -> None:
    for entry in REPORTS:
        segment = entry.path.removeprefix("Reports").lstrip("/")
        assert report_scopes.scopes_for(segment) == frozenset(entry.scopes), entry.name
        assert entry.broad_scope == BROAD_SCOPE == report_scopes.BROAD
    assert set(granular_scopes()) == set(report_scopes.GRANULAR.values())
    assert len(granular_scopes()) == 9


def test_unknown_report_names_the_known_ones() -> None:
    try:
        report("profit_loss")
    except KeyError as exc:
        assert "profit_and_loss" in str(exc)
    else:
        raise AssertionError("an unknown name was accepted")


def test_docs_list_every_report_with_its_scope() -> None:
    text = (VENDORED_SPEC.parents[2] / "docs" / "reports.md").read_text()
    rows = {line.split("|")[1].strip(" `"): line for line in text.splitlines() if "| `" in line}
    for entry in REPORTS:
        assert entry.name in rows, entry.name
        assert f"`{entry.granular_scope}`" in rows[entry.name], entry.name


def test_columns_a_call_answers() -> None:
    assert report("profit_and_loss").max_columns == 12  # periods=11 comparisons + 1
    assert report("balance_sheet").max_columns == 12
    assert report("budget_summary").max_columns == 12  # periods = the columns
    assert report("trial_balance").max_columns == 1

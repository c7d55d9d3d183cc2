"""Sandbox responses validated against Xero's own OpenAPI schemas (v16.1.0)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30ReadValidator

from oauth_etl.tables.spec import VENDORED_SPEC
from oauth_etl_dev.sandbox import ENDPOINTS
from oauth_etl_tests.sandbox.conftest import Xero, XeroFactory

SPEC_DIR = VENDORED_SPEC.parent


@pytest.fixture(scope="module")
def accounting_spec() -> dict[str, Any]:
    with (SPEC_DIR / "xero_accounting.yaml").open() as handle:
        # The C safe loader: the spec is 900 kB and the pure-Python loader takes seconds.
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        return dict(yaml.load(handle, Loader=loader))  # noqa: S506 - a safe loader


@pytest.fixture(scope="module")
def identity_spec() -> dict[str, Any]:
    with (SPEC_DIR / "xero-identity.yaml").open() as handle:
        return dict(yaml.safe_load(handle))


def _validator(spec: dict[str, Any], schema_name: str) -> OAS30ReadValidator:
    # The component refs (`#/components/schemas/X`) resolve against this root.
    root = {"$ref": f"#/components/schemas/{schema_name}", "components": spec["components"]}
    return OAS30ReadValidator(root, format_checker=OAS30ReadValidator.FORMAT_CHECKER)


def _response_schema(spec: dict[str, Any], endpoint: str) -> str:
    get = spec["paths"][f"/{endpoint}"]["get"]
    ref = get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    return str(ref.rsplit("/", 1)[-1])


# Fields Xero sends that the spec leaves out (seen in the spec's own examples).
_UNDECLARED_OK = {"DateString", "DueDateString", "DeliveryDateString"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One sandbox for the module: responses of every endpoint."""
    from oauth_etl_dev.sandbox import SandboxConfig, SandboxServer

    server = SandboxServer(
        SandboxConfig(client_id="schema", client_secret="s", records=120, limits=False)
    )
    xero = Xero(server.start(), "schema", "s")
    try:
        tokens = xero.login()
        tenant = xero.tenants(tokens["access_token"])[0]
        bodies = {}
        for name in ENDPOINTS:
            params = {} if ENDPOINTS[name].paging.value in ("none", "offset") else {"page": 2}
            response = xero.api(name, tokens["access_token"], tenant, params)
            assert response.status_code == 200, (name, response.text)
            bodies[name] = response.json()
        connections = xero.http.get(
            "/connections", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        yield bodies, connections.json()
    finally:
        xero.close()
        server.stop()


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_endpoint_matches_spec(accounting_spec: dict[str, Any], served: Any, endpoint: str) -> None:
    bodies, _ = served
    body = bodies[endpoint]
    schema_name = _response_schema(accounting_spec, endpoint)
    errors = sorted(_validator(accounting_spec, schema_name).iter_errors(body), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:5])
    key = ENDPOINTS[endpoint].record_key
    assert body[key], f"{endpoint} served no records"
    # Every field we send is one the spec declares (catches misspelt fields).
    items = accounting_spec["components"]["schemas"][schema_name]["properties"][key]["items"]
    declared = set(
        accounting_spec["components"]["schemas"][items["$ref"].rsplit("/", 1)[-1]]["properties"]
    )
    for record in body[key]:
        assert set(record) - declared <= _UNDECLARED_OK, set(record) - declared - _UNDECLARED_OK


def test_paged_endpoints_carry_pagination_as_the_spec_says(
    accounting_spec: dict[str, Any], served: Any
) -> None:
    bodies, _ = served
    for name, endpoint in ENDPOINTS.items():
        if endpoint.paging.value == "none":
            continue
        declared = (
            "pagination"
            in accounting_spec["components"]["schemas"][_response_schema(accounting_spec, name)][
                "properties"
            ]
        )
        assert ("pagination" in bodies[name]) == declared, name


def test_connections_match_identity_spec(identity_spec: dict[str, Any], served: Any) -> None:
    _, connections = served
    root = {"$ref": "#/components/schemas/Connection", "components": identity_spec["components"]}
    # No format check: Xero sends these dates without a zone, like the spec's own example
    # ("2019-12-07T18:46:19.5165400"), which is not RFC 3339.
    validator = OAS30ReadValidator(root)
    for connection in connections:
        errors = list(validator.iter_errors(connection))
        assert not errors, errors[0].message
        assert connection["tenantType"] == "ORGANISATION"
        for key in ("createdDateUtc", "updatedDateUtc"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}", connection[key])


def test_token_response_matches_identity_spec(xero_factory: XeroFactory) -> None:
    xero = xero_factory(tenants=1, records=1)
    tokens = xero.login()
    spec = yaml.safe_load((SPEC_DIR / "xero-identity.yaml").read_text())
    errors = list(_validator(spec, "AccessToken").iter_errors(tokens))
    assert not errors and isinstance(tokens["expires_in"], int)

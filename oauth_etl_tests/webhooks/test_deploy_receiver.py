"""deploy/helm/webhooks-receiver.yaml: a Deployment and a Service that run the receiver
as the code knows it (command, port, health path, contract variables, no secret values)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from oauth_etl.app.contract import BY_NAME
from oauth_etl.webhooks.receiver import HEALTH

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "helm" / "webhooks-receiver.yaml"


def documents() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(MANIFEST.read_text())}


def test_the_receiver_runs_as_its_own_deployment_and_service() -> None:
    found = documents()
    deployment, service = found["Deployment"], found["Service"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["command"][:3] == ["oauth-etl", "webhooks", "serve"]
    port = int(container["command"][container["command"].index("--port") + 1])
    assert container["ports"][0]["containerPort"] == port
    assert container["readinessProbe"]["httpGet"]["path"] == HEALTH
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert labels["azure.workload.identity/use"] == "true"
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert set(env) <= set(BY_NAME), "variables the contract does not know"
    assert not any(BY_NAME[name].secret for name in env), "a secret as a plain value"


def test_the_code_location_names_the_same_queue() -> None:
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    (location,) = values["dagster-user-deployments"]["deployments"]
    at_location = {i["name"]: i["value"] for i in location["env"]}
    (container,) = documents()["Deployment"]["spec"]["template"]["spec"]["containers"]
    at_receiver = {i["name"]: i.get("value") for i in container["env"]}
    for name in ("OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL", "OAUTH_ETL_WEBHOOK_QUEUE"):
        assert at_location[name] == at_receiver[name]

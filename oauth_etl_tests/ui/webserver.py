"""`dagster-webserver` over the project's workspace, and a small GraphQL client for it.

Shared by the UI test and the screenshot script: one way to make a daemon-less
DAGSTER_HOME, start and stop the webserver, wait until the code location has
loaded, launch asset runs and wait for them. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from oauth_etl_dev.local_services import (
    LOOPBACK,
    PROJECT_ROOT,
    ServiceProcess,
    free_port,
    spawn_service,
)

ASSET_JOB = "__ASSET_JOB"  # Dagster's implicit job over every asset of a repository
PARTITION_TAG = "dagster/partition"
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}


class WebserverError(RuntimeError):
    """The webserver did not start, a GraphQL call failed, or a run did not succeed."""


def write_dagster_home(home: Path) -> Path:
    """A DAGSTER_HOME whose runs start at once, with no daemon.

    The project's dagster.yaml queues runs (tag concurrency per tenant), which needs
    `dagster-daemon`; here runs go straight to the default launcher. Run retries are a
    daemon feature, so they are left out too.
    """
    config: dict[str, Any] = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "DefaultRunCoordinator",
        },
        "telemetry": {"enabled": False},
        # No "join the community" modal over the pages people (and screenshots) open.
        "nux": {"enabled": False},
    }
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home


@dataclass
class Webserver:
    """A running `dagster-webserver` and an httpx client for its GraphQL API."""

    service: ServiceProcess
    client: httpx.Client
    responses: list[str] = field(default_factory=list)  # every GraphQL response body

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        response = self.client.post("/graphql", json={"query": query, "variables": variables})
        self.responses.append(response.text)
        if response.status_code != 200:
            raise WebserverError(f"GraphQL HTTP {response.status_code}: {response.text[:500]}")
        body = response.json()
        if body.get("errors"):
            raise WebserverError(f"GraphQL errors: {body['errors']}")
        return dict(body["data"])

    @property
    def url(self) -> str:
        return self.service.url

    def log_tail(self, lines: int = 40) -> str:
        return self.service.log_tail(lines)

    def stop(self) -> None:
        self.client.close()
        self.service.stop(timeout=15.0)


WORKSPACE_QUERY = """
query Workspace {
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
        }
      }
    }
    ... on PythonError { message }
  }
}
"""


@contextlib.contextmanager
def running_webserver(
    environment: Mapping[str, str], dagster_home: Path, *, timeout: float = 60.0
) -> Iterator[Webserver]:
    """Start `dagster-webserver -w workspace.yaml` on a free port; stop it on exit."""
    port = free_port()
    log_path = dagster_home / "webserver.log"
    executable = shutil.which("dagster-webserver", path=str(Path(sys.executable).parent))
    argv = [executable] if executable else [sys.executable, "-m", "dagster_webserver"]
    argv += ["-w", str(PROJECT_ROOT / "workspace.yaml"), "-h", LOOPBACK, "-p", str(port)]
    env = {**os.environ, **environment, "DAGSTER_HOME": str(dagster_home)}
    url = f"http://{LOOPBACK}:{port}"
    service = spawn_service("dagster-webserver", argv, url, log_path, env=env, cwd=PROJECT_ROOT)
    server = Webserver(service, httpx.Client(base_url=url, timeout=30.0))
    try:
        _wait_until_loaded(server, timeout)
        yield server
    finally:
        server.stop()


def _wait_until_loaded(server: Webserver, timeout: float) -> None:
    """Bounded wait for `/server_info`, then for the code location to finish loading."""
    deadline = time.monotonic() + timeout
    while True:
        if server.service.process.poll() is not None:
            raise WebserverError(
                f"dagster-webserver exited with code {server.service.process.returncode}:\n"
                + server.log_tail()
            )
        with contextlib.suppress(httpx.HTTPError):
            if server.client.get("/server_info", timeout=2.0).status_code == 200:
                entries = server.graphql(WORKSPACE_QUERY)["workspaceOrError"]
                locations = entries.get("locationEntries") or []
                if locations and all(e["loadStatus"] == "LOADED" for e in locations):
                    errors = [
                        f"{e['name']}: {e['locationOrLoadError'].get('message', '')}"
                        for e in locations
                        if e["locationOrLoadError"]["__typename"] == "PythonError"
                    ]
                    if errors:
                        raise WebserverError("code location failed to load: " + "; ".join(errors))
                    return
        if time.monotonic() > deadline:
            raise WebserverError(
                f"webserver not ready within {timeout:.0f} s:\n" + server.log_tail()
            )
        time.sleep(0.25)


REPOSITORIES_QUERY = """
query Repositories {
  repositoriesOrError {
    __typename
    ... on RepositoryConnection {
      nodes {
        name
        location { name }
        pipelines { name isAssetJob }
        schedules { name cronSchedule scheduleState { status } }
        sensors { name sensorState { status } }
      }
    }
    ... on PythonError { message }
  }
}
"""

ASSET_NODES_QUERY = """
query AssetNodes {
  assetNodes {
    assetKey { path }
    groupName
    isPartitioned
    assetChecksOrError {
      __typename
      ... on AssetChecks { checks { name } }
    }
  }
}
"""

PARTITION_KEYS_QUERY = """
query PartitionKeys($assetKey: AssetKeyInput!) {
  assetNodeOrError(assetKey: $assetKey) {
    __typename
    ... on AssetNode { partitionKeys }
  }
}
"""

LAUNCH_RUN_MUTATION = """
mutation LaunchAssetRun($executionParams: ExecutionParams!) {
  launchPipelineExecution(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
    ... on PipelineNotFoundError { message }
    ... on UnauthorizedError { message }
  }
}
"""

RUN_QUERY = """
query Run($runId: ID!) {
  runOrError(runId: $runId) {
    __typename
    ... on Run { runId status runConfigYaml tags { key value } }
  }
}
"""

RUN_LOGS_QUERY = """
query RunLogs($runId: ID!, $afterCursor: String) {
  logsForRun(runId: $runId, afterCursor: $afterCursor, limit: 1000) {
    __typename
    ... on EventConnection {
      cursor
      hasMore
      events {
        __typename
        ... on MessageEvent { message level stepKey }
        ... on MaterializationEvent {
          assetKey { path }
          partition
          metadataEntries { label description }
        }
        ... on ExecutionStepFailureEvent { error { message } }
        ... on RunFailureEvent { error { message } }
      }
    }
    ... on PythonError { message }
  }
}
"""

MATERIALIZATION_QUERY = """
query LatestMaterialization($assetKey: AssetKeyInput!, $partitions: [String!]) {
  assetOrError(assetKey: $assetKey) {
    __typename
    ... on Asset {
      assetMaterializations(partitions: $partitions, limit: 1) {
        runId
        partition
        metadataEntries {
          __typename
          label
          ... on IntMetadataEntry { intValue }
          ... on FloatMetadataEntry { floatValue }
          ... on TextMetadataEntry { text }
          ... on UrlMetadataEntry { url }
          ... on BoolMetadataEntry { boolValue }
          ... on JsonMetadataEntry { jsonString }
        }
      }
    }
  }
}
"""

CHECK_EXECUTIONS_QUERY = """
query CheckExecutions($assetKey: AssetKeyInput!, $checkName: String!) {
  assetCheckExecutions(assetKey: $assetKey, checkName: $checkName, limit: 5) {
    runId
    status
    evaluation { success partition }
  }
}
"""

RESOURCES_QUERY = """
query Resources($selector: RepositorySelector!) {
  allTopLevelResourceDetailsOrError(repositorySelector: $selector) {
    __typename
    ... on ResourceDetailsList {
      results {
        name
        resourceType
        configuredValues { key value type }
        nestedResources { name type }
      }
    }
    ... on PythonError { message }
  }
}
"""


@dataclass(frozen=True)
class Repository:
    location: str
    name: str
    jobs: frozenset[str]
    schedules: frozenset[str]
    sensors: frozenset[str]

    @property
    def selector(self) -> dict[str, str]:
        return {"repositoryLocationName": self.location, "repositoryName": self.name}


def repository(server: Webserver) -> Repository:
    """The single repository of the workspace (the `oauth_etl` code location)."""
    result = server.graphql(REPOSITORIES_QUERY)["repositoriesOrError"]
    if result["__typename"] != "RepositoryConnection":
        raise WebserverError(f"cannot list repositories: {result}")
    nodes = result["nodes"]
    if len(nodes) != 1:
        raise WebserverError(f"expected one repository, found {[n['name'] for n in nodes]}")
    node = nodes[0]
    return Repository(
        location=node["location"]["name"],
        name=node["name"],
        jobs=frozenset(p["name"] for p in node["pipelines"]),
        schedules=frozenset(s["name"] for s in node["schedules"]),
        sensors=frozenset(s["name"] for s in node["sensors"]),
    )


def partition_keys(server: Webserver, asset_path: Sequence[str]) -> list[str]:
    node = server.graphql(PARTITION_KEYS_QUERY, {"assetKey": {"path": list(asset_path)}})
    result = node["assetNodeOrError"]
    if result["__typename"] != "AssetNode":
        raise WebserverError(f"no asset {'/'.join(asset_path)}: {result['__typename']}")
    return list(result["partitionKeys"])


def launch_assets(
    server: Webserver,
    repo: Repository,
    asset_paths: Sequence[Sequence[str]],
    *,
    partition: str | None = None,
    with_checks: bool = True,
    run_config: Mapping[str, Any] | None = None,
) -> str:
    """Launch the implicit asset job on a selection; the run id."""
    selector: dict[str, Any] = {
        **repo.selector,
        "pipelineName": ASSET_JOB,
        "assetSelection": [{"path": list(p)} for p in asset_paths],
    }
    if not with_checks:
        selector["assetCheckSelection"] = []
    tags = [{"key": PARTITION_TAG, "value": partition}] if partition else []
    params: dict[str, Any] = {
        "selector": selector,
        "mode": "default",
        "executionMetadata": {"tags": tags},
    }
    if run_config is not None:
        params["runConfigData"] = dict(run_config)
    result = server.graphql(LAUNCH_RUN_MUTATION, {"executionParams": params})
    launched = result["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        raise WebserverError(f"launch failed: {launched}")
    return str(launched["run"]["runId"])


def wait_for_run(server: Webserver, run_id: str, *, timeout: float = 120.0) -> str:
    """Poll the run until it ends (bounded); its final status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = server.graphql(RUN_QUERY, {"runId": run_id})["runOrError"]
        if run["__typename"] != "Run":
            raise WebserverError(f"run {run_id} not found: {run['__typename']}")
        if run["status"] in TERMINAL:
            return str(run["status"])
        time.sleep(0.5)
    raise WebserverError(f"run {run_id} did not finish within {timeout:.0f} s")


def run_events(server: Webserver, run_id: str) -> list[dict[str, Any]]:
    """Every event of a run (paged, bounded to 50 pages)."""
    events: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(50):
        result = server.graphql(RUN_LOGS_QUERY, {"runId": run_id, "afterCursor": cursor})
        page = result["logsForRun"]
        if page["__typename"] != "EventConnection":
            raise WebserverError(f"cannot read logs of run {run_id}: {page}")
        events.extend(page["events"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    return events


def failure_messages(events: Sequence[Mapping[str, Any]]) -> list[str]:
    return [
        str(e.get("error", {}).get("message") or e.get("message", ""))
        for e in events
        if e["__typename"] in {"ExecutionStepFailureEvent", "RunFailureEvent"}
    ]


def run_to_success(server: Webserver, run_id: str, *, timeout: float = 120.0) -> None:
    status = wait_for_run(server, run_id, timeout=timeout)
    if status != "SUCCESS":
        failures = failure_messages(run_events(server, run_id))
        raise WebserverError(f"run {run_id} ended {status}: {failures}\n{server.log_tail()}")


def latest_materialization_metadata(
    server: Webserver, asset_path: Sequence[str], partition: str | None
) -> dict[str, Any]:
    """label -> value of the asset's latest materialization (of that partition)."""
    variables = {
        "assetKey": {"path": list(asset_path)},
        "partitions": [partition] if partition else None,
    }
    asset = server.graphql(MATERIALIZATION_QUERY, variables)["assetOrError"]
    if asset["__typename"] != "Asset" or not asset["assetMaterializations"]:
        raise WebserverError(f"no materialization of {'/'.join(asset_path)} [{partition}]")
    values: dict[str, Any] = {}
    for entry in asset["assetMaterializations"][0]["metadataEntries"]:
        payload = {k: v for k, v in entry.items() if k not in {"__typename", "label"}}
        values[entry["label"]] = next(iter(payload.values()), None)
    return values

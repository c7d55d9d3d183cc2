"""Secret canaries: recognisable secret values that must never surface anywhere.

Every sandbox the fixtures start uses `CLIENT_SECRET` and issues tokens that start
with `TOKEN_PREFIX`; Azurite's account key is the storage key. `conftest.py` fails a
test when one of them appears in its captured stdout/stderr, its logs, its error
text, a Dagster event (messages and metadata) or a landed blob's metadata.
"""

import threading
from collections.abc import Iterable

import dagster as dg
from azure.storage.blob import ContainerClient
from dagster._serdes import serialize_value

from oauth_etl_dev.local_services import AZURITE_KEY

CLIENT_SECRET = "canary-client-secret-9d2f7c"
TOKEN_PREFIX = "canarytok"
CANARIES: tuple[str, ...] = (CLIENT_SECRET, TOKEN_PREFIX, AZURITE_KEY[:24])

_hits: list[str] = []
_lock = threading.Lock()


def found_in(texts: Iterable[str]) -> list[str]:
    return sorted({canary for text in texts for canary in CANARIES if canary in text})


def report(where: str, texts: Iterable[str]) -> None:
    for canary in found_in(texts):
        with _lock:
            _hits.append(f"{canary!r} in {where}")


def take_hits() -> list[str]:
    with _lock:
        hits = list(_hits)
        _hits.clear()
    return hits


def watch_dagster_events() -> None:
    """Scan every event a Dagster instance in this process stores (messages, metadata)."""
    original = dg.DagsterInstance.handle_new_event

    def scanning(self: dg.DagsterInstance, event: object, *args: object, **kwargs: object) -> None:
        report("a Dagster event", [serialize_value(event)])
        original(self, event, *args, **kwargs)  # type: ignore[arg-type]

    dg.DagsterInstance.handle_new_event = scanning  # type: ignore[method-assign]


def scan_container(container: ContainerClient) -> None:
    """Blob names, metadata and manifests of a container the test landed data in."""
    for blob in container.list_blobs(include=["metadata"]):
        texts = [blob.name, repr(blob.metadata or {})]
        if blob.name.endswith("_manifest.json"):
            texts.append(container.download_blob(blob.name).readall().decode("utf-8", "replace"))
        report(f"blob {container.container_name}/{blob.name}", texts)

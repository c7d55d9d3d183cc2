"""Dagster IO manager: a returned `LandingBatch` is streamed into blob storage; downstream
inputs stream the landed records back.

Path mapping for `load_input`: the upstream asset key `.../<source>/<endpoint>` (e.g.
`xero/invoices`) gives source and endpoint; each upstream partition key is a tenant id.
Where the upstream materialization recorded `source`, `endpoint`, `tenant_id` and `batch_id`
metadata (this IO manager always does), those win: the exact batch of that
materialization is read, whatever the partitioning scheme.
"""

# No `from __future__ import annotations`: Dagster inspects the ResourceDependency
# annotation at class creation.

import contextlib
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import dagster as dg
from azure.storage.blob import ContainerClient

from oauth_etl.defs.storage import LandingStorageResource
from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.errors import ContainerMissing, ManifestError, StorageAuthError
from oauth_etl.storage.manifest import Manifest, parse_utc
from oauth_etl.storage.reader import iter_records, latest_batch, list_batches, read_batch
from oauth_etl.storage.writer import DEFAULT_COMPRESSION_LEVEL, DEFAULT_PART_SIZE, write_batch

# Output metadata keys this IO manager owns; `stats.extra` may not overwrite them.
_CORE_KEYS = frozenset(
    {
        "dagster/row_count",
        "batch_uri",
        "batch_id",
        "source",
        "endpoint",
        "tenant_id",
        "container",
        "bytes",
        "uncompressed_bytes",
        "parts",
        "cursor_from",
        "cursor_to",
        "api_calls",
        "pages",
        "sha256",
        "complete",
        "extracted_at",
        "expected_records",
    }
)


@dataclass(frozen=True)
class _Target:
    source: str
    endpoint: str
    tenant_id: str
    batch_id: str | None  # the exact batch of the upstream materialization, when known


class BlobLandingIOManager(dg.ConfigurableIOManager):
    """Lands `LandingBatch` outputs as gzip JSON lines + manifest; loads records back."""

    storage: dg.ResourceDependency[LandingStorageResource]
    part_size_bytes: int = DEFAULT_PART_SIZE
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    load: Literal["latest", "all"] = "latest"
    load_since: str | None = None  # ISO 8601; with load="all", only batches from then on

    def handle_output(self, context: dg.OutputContext, obj: LandingBatch) -> None:
        if not isinstance(obj, LandingBatch):
            raise TypeError(
                f"{self.__class__.__name__} lands LandingBatch outputs, but the output of "
                f"{_describe_output(context)} is a {type(obj).__name__}: return a "
                "LandingBatch(source, endpoint, tenant_id, records=<lazy iterator>), or use "
                "another io_manager_key for this output"
            )
        if context.has_asset_partitions and context.asset_partition_key != obj.tenant_id:
            context.log.warning(
                f"partition {context.asset_partition_key!r} lands tenant {obj.tenant_id!r}: "
                "downstream loads follow the recorded tenant_id metadata"
            )
        with _person_must_act():
            manifest = write_batch(
                self.storage.container_client(),
                obj,
                prefix=self.storage.prefix,
                run_id=context.run_id,
                part_size_bytes=self.part_size_bytes,
                compression_level=self.compression_level,
            )
        uri = f"{self.storage.container_url()}/{manifest.location}/"
        metadata: dict[str, Any] = {
            "dagster/row_count": dg.MetadataValue.int(manifest.record_count),
            "batch_uri": dg.MetadataValue.url(uri),
            "batch_id": manifest.batch_id,
            "source": manifest.source,
            "endpoint": manifest.endpoint,
            "tenant_id": manifest.tenant_id,
            "container": self.storage.container,
            "bytes": manifest.total_bytes,
            "uncompressed_bytes": manifest.total_uncompressed_bytes,
            "parts": len(manifest.parts),
            "cursor_from": _text(manifest.cursor_from),
            "cursor_to": _text(manifest.cursor_to),
            "api_calls": manifest.api_calls,
            "pages": manifest.pages,
            # sha256 of the manifest document: covers every part's sha256 in turn.
            "sha256": hashlib.sha256(manifest.to_json()).hexdigest(),
            "complete": manifest.complete,
            "extracted_at": manifest.extracted_at,
            "expected_records": _text(manifest.expected_records),
        }
        for key, value in obj.stats.extra.items():
            metadata[f"extra/{key}" if key in _CORE_KEYS else str(key)] = _metadata_value(value)
        context.add_output_metadata(metadata)
        context.log.info(
            f"landed {manifest.record_count} records of {manifest.source}/{manifest.endpoint} "
            f"for tenant {manifest.tenant_id} in {len(manifest.parts)} part(s), "
            f"{manifest.total_bytes} bytes, at {uri}"
        )

    def load_input(self, context: dg.InputContext) -> Iterator[dict[str, Any]]:
        with _person_must_act():
            container = self.storage.container_client()
        manifests: list[Manifest] = []
        for target in self._targets(context):
            manifests.extend(self._manifests(container, target))
        context.log.info(
            f"reading {sum(m.record_count for m in manifests)} records from "
            f"{len(manifests)} landed batch(es)"
        )
        return _chain_records(container, manifests)

    # --- load_input helpers -----------------------------------------------------------
    def _manifests(self, container: ContainerClient, target: _Target) -> list[Manifest]:
        prefix = self.storage.prefix
        source, tenant, endpoint = target.source, target.tenant_id, target.endpoint
        if self.load == "all":
            since = parse_utc(self.load_since) if self.load_since else None
            return list_batches(
                container,
                prefix=prefix,
                source=source,
                tenant_id=tenant,
                endpoint=endpoint,
                since=since,
            )
        if target.batch_id is not None:
            return [
                read_batch(
                    container,
                    prefix=prefix,
                    source=source,
                    tenant_id=tenant,
                    endpoint=endpoint,
                    batch_id=target.batch_id,
                )
            ]
        found = latest_batch(
            container, prefix=prefix, source=source, tenant_id=tenant, endpoint=endpoint
        )
        if found is None:
            raise ManifestError(
                f"no landed batch with a manifest for {target.source}/{target.endpoint}, "
                f"tenant {target.tenant_id}, under prefix {prefix!r} in container "
                f"'{container.container_name}': materialize the upstream asset first"
            )
        return [found]

    def _targets(self, context: dg.InputContext) -> list[_Target]:
        key = context.asset_key
        if len(key.path) < 2:
            raise ValueError(
                f"cannot map asset {key.to_user_string()} to a landing path: expected a key "
                "ending in <source>/<endpoint>, e.g. xero/invoices"
            )
        source, endpoint = key.path[-2], key.path[-1]
        partitions: Sequence[str | None] = (
            list(context.asset_partition_keys) if context.has_asset_partitions else [None]
        )
        targets = []
        for partition in partitions:
            recorded = _recorded_metadata(context, key, partition)
            tenant = recorded.get("tenant_id") or partition
            if tenant is None:
                raise ValueError(
                    f"cannot tell the tenant of {key.to_user_string()}: it is not partitioned "
                    "by tenant and has no materialization with tenant_id metadata"
                )
            targets.append(
                _Target(
                    source=recorded.get("source") or source,
                    endpoint=recorded.get("endpoint") or endpoint,
                    tenant_id=tenant,
                    batch_id=recorded.get("batch_id"),
                )
            )
        return targets


def _recorded_metadata(
    context: dg.InputContext, key: dg.AssetKey, partition: str | None
) -> dict[str, str]:
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        return {}  # an input context built without an instance (unit tests)
    return recorded_metadata(instance, key, partition)


def recorded_metadata(
    instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None
) -> dict[str, str]:
    """source/endpoint/tenant_id/batch_id of the latest materialization, if it has them."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
        limit=1,
    ).records
    if not records or records[0].asset_materialization is None:
        return {}
    metadata = records[0].asset_materialization.metadata
    found: dict[str, str] = {}
    for name in ("source", "endpoint", "tenant_id", "batch_id"):
        value = metadata.get(name)
        text = getattr(value, "value", None)
        if isinstance(text, str) and text:
            found[name] = text
    return found


@contextlib.contextmanager
def _person_must_act() -> Iterator[None]:
    """A missing container or a refused credential: retrying cannot help, so say so."""
    try:
        yield
    except (ContainerMissing, StorageAuthError) as exc:
        raise dg.Failure(
            description=str(exc), metadata={"error": type(exc).__name__}, allow_retries=False
        ) from exc


def _chain_records(
    container: ContainerClient, manifests: Sequence[Manifest]
) -> Iterator[dict[str, Any]]:
    for manifest in manifests:
        yield from iter_records(container, manifest)


def _describe_output(context: dg.OutputContext) -> str:
    if context.has_asset_key:
        return f"asset {context.asset_key.to_user_string()}"
    return f"step output {context.name!r}"


def _text(value: Any) -> Any:
    return dg.MetadataValue.null() if value is None else value


def _metadata_value(value: Any) -> Any:
    if value is None:
        return dg.MetadataValue.null()
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping | list | tuple):
        return dg.MetadataValue.json(value if isinstance(value, Mapping) else list(value))
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)

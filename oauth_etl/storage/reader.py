"""Find landed batches and stream their records back, verifying every byte.

Only batches with a `_manifest.json` exist for readers. Parts are read in bounded ranged
requests (never a whole blob in memory), pinned to the blob's ETag so a blob cannot change
under the reader, and checked against the manifest: stored size, sha256 of the stored
bytes, uncompressed size and record count.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from oauth_etl.storage.account import container_errors
from oauth_etl.storage.errors import ChecksumMismatch, ManifestError
from oauth_etl.storage.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestPart,
    batch_path,
    endpoint_path,
    normalize_prefix,
    parse_utc,
)

READ_RANGE = 4 * 1024 * 1024
MAX_INFLATE = 8 * 1024 * 1024  # bound on decompressed bytes held at once
_BATCH_TIME = re.compile(r"^(\d{8}T\d{6})(?:\.(\d{3}))?Z")


def _manifest_names(container: ContainerClient, base: str) -> list[str]:
    """`<base><batch_id>/_manifest.json` names, oldest batch first (ids start with time).

    Listing is one request per 5,000 blobs and downloads nothing."""
    with container_errors(container):
        return sorted(
            blob.name
            for blob in container.list_blobs(name_starts_with=base)
            if blob.name.endswith("/" + MANIFEST_NAME)
            and blob.name.count("/", len(base)) == 1  # exactly <batch_id>/_manifest.json
        )


def _read_checked(
    container: ContainerClient, name: str, expected: tuple[str, str, str, str]
) -> Manifest:
    """The manifest at `name`, which must describe the batch its path names."""
    manifest = read_manifest(container, name)
    found = (manifest.source, manifest.tenant_id, manifest.endpoint, manifest.batch_id)
    if found != expected:
        raise ManifestError(f"{name} describes {'/'.join(found)}, but lies at {'/'.join(expected)}")
    return manifest


def list_batches(
    container: ContainerClient,
    *,
    prefix: str,
    source: str,
    tenant_id: str,
    endpoint: str,
    since: datetime | None = None,
) -> list[Manifest]:
    """Manifests of the complete batches of one endpoint of one tenant, oldest first.

    A batch directory without `_manifest.json` (in progress, failed, killed) is skipped.
    `since` keeps batches extracted at or after that moment (naive means UTC).
    """
    base = endpoint_path(prefix=prefix, source=source, tenant_id=tenant_id, endpoint=endpoint)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    manifests: list[Manifest] = []
    for name in _manifest_names(container, base):
        batch_id = name[len(base) :].split("/", 1)[0]
        if since is not None and _batch_before(batch_id, since):
            continue
        manifest = _read_checked(container, name, (source, tenant_id, endpoint, batch_id))
        if since is not None and parse_utc(manifest.extracted_at) < since:
            continue
        manifests.append(manifest)
    return sorted(manifests, key=lambda m: m.batch_id)


def latest_batch(
    container: ContainerClient,
    *,
    prefix: str,
    source: str,
    tenant_id: str,
    endpoint: str,
) -> Manifest | None:
    """The newest complete batch, or None when there is none: one manifest is downloaded,
    however many batches were ever written."""
    base = endpoint_path(prefix=prefix, source=source, tenant_id=tenant_id, endpoint=endpoint)
    names = _manifest_names(container, base)
    if not names:
        return None
    batch_id = names[-1][len(base) :].split("/", 1)[0]
    return _read_checked(container, names[-1], (source, tenant_id, endpoint, batch_id))


def read_batch(
    container: ContainerClient,
    *,
    prefix: str,
    source: str,
    tenant_id: str,
    endpoint: str,
    batch_id: str,
) -> Manifest:
    """The manifest of one named batch; `ManifestError` when it never committed."""
    path = batch_path(
        prefix=prefix, source=source, tenant_id=tenant_id, endpoint=endpoint, batch_id=batch_id
    )
    name = f"{path}/{MANIFEST_NAME}"
    with container_errors(container, blob=name):
        exists = container.get_blob_client(name).exists()
    if not exists:
        raise ManifestError(
            f"batch {batch_id} of {source}/{endpoint}, tenant {tenant_id}, has no manifest in "
            f"container '{container.container_name}': it never committed, or was deleted"
        )
    return _read_checked(container, name, (source, tenant_id, endpoint, batch_id))


def read_manifest(container: ContainerClient, name: str) -> Manifest:
    """Download and validate one `_manifest.json` (its directory becomes `location`)."""
    with container_errors(container, blob=name):
        body = container.download_blob(name, decompress=False).readall()
    return Manifest.from_json(
        body,
        where=f"{name} in container '{container.container_name}'",
        location=name.rsplit("/", 1)[0],
    )


def iter_records(
    container: ContainerClient,
    manifest: Manifest,
    *,
    verify: bool = True,
    prefix: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream the records of a batch, part by part, in the order they were written.

    With `verify`, each part's size, sha256, uncompressed size and record count are checked
    against the manifest; a mismatch raises `ChecksumMismatch` naming the blob when the part
    has been read, so treat the whole iteration as failed, not just its tail.
    `prefix` is needed only for a manifest built by hand (one from `list_batches` or
    `write_batch` knows its location).
    """
    location = manifest.location
    if location is None:
        if prefix is None:
            raise ValueError("this manifest has no location: pass prefix=")
        location = f"{normalize_prefix(prefix)}{manifest.source}/{manifest.tenant_id}/"
        location += f"{manifest.endpoint}/{manifest.batch_id}"
    for part in manifest.parts:
        yield from _iter_part(container, f"{location}/{part.name}", part, verify)


def _iter_part(
    container: ContainerClient, name: str, part: ManifestPart, verify: bool
) -> Iterator[dict[str, Any]]:
    where = f"blob {name} in container '{container.container_name}'"
    blob = container.get_blob_client(name)
    with container_errors(container, blob=name):
        try:
            properties = blob.get_blob_properties()
        except ResourceNotFoundError:
            raise ChecksumMismatch(f"{where} is listed in the manifest but missing") from None
    size = int(properties.size)
    if verify and size != part.bytes:
        raise ChecksumMismatch(f"{where} has {size} bytes, the manifest says {part.bytes}")
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(31)
    tail = b""
    records = 0
    uncompressed = 0
    trailing = False  # bytes after the end of the gzip stream
    loads = orjson.loads
    try:
        for offset in range(0, size, READ_RANGE):
            with container_errors(container, blob=name):
                try:
                    data = blob.download_blob(
                        offset=offset,
                        length=min(READ_RANGE, size - offset),
                        decompress=False,
                        etag=properties.etag,
                        match_condition=MatchConditions.IfNotModified,
                    ).readall()
                except ResourceModifiedError:
                    raise ChecksumMismatch(f"{where} changed while it was read") from None
            if verify:
                digest.update(data)
            while data:
                if inflater.eof:
                    trailing = True
                    break
                text = inflater.decompress(data, MAX_INFLATE)
                data = inflater.unconsumed_tail
                uncompressed += len(text)
                lines = (tail + text).split(b"\n")
                tail = lines.pop()
                records += len(lines)
                for line in lines:
                    yield loads(line)
    except (zlib.error, orjson.JSONDecodeError) as exc:
        raise ChecksumMismatch(f"{where} is corrupt ({type(exc).__name__}: {exc})") from None
    if not verify:
        return
    actual = digest.hexdigest()
    if actual != part.sha256:
        raise ChecksumMismatch(f"{where} has sha256 {actual}, the manifest says {part.sha256}")
    if not inflater.eof or inflater.unused_data or trailing or tail:
        raise ChecksumMismatch(f"{where} is not one complete gzip stream of whole lines")
    if records != part.records or uncompressed != part.uncompressed_bytes:
        raise ChecksumMismatch(
            f"{where} holds {records} records / {uncompressed} bytes uncompressed, the "
            f"manifest says {part.records} / {part.uncompressed_bytes}"
        )


def _batch_before(batch_id: str, since: datetime) -> bool:
    """Cheap pre-filter on the batch id's timestamp, so old manifests are not downloaded."""
    match = _BATCH_TIME.match(batch_id)
    if match is None:
        return False
    moment = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    # The id is truncated to the millisecond: compare at second precision, keep the edge.
    return moment < since.astimezone(UTC).replace(microsecond=0)

"""Stream a `LandingBatch` into blob storage: gzip JSON lines in parts, then a manifest.

The calling thread only serializes (orjson, one record per line, collected in ~1 MiB
chunks). A single background thread compresses (ISA-L deflate, gzip wrapper), hashes (sha256 of
the stored bytes) and stages blocks in order, so serialization, compression and upload
overlap; ISA-L, hashlib and sockets release the GIL. A bounded hand-off queue keeps memory
constant: at most a few chunks plus one block buffer, whatever the batch size.

Visibility: blocks are invisible until a part's block list is committed, and a batch is
invisible to readers until `_manifest.json`, written last and only if absent, exists. A
failed write (producer error, storage error, interruption) deletes the parts it committed,
best effort; a killed process leaves only manifest-less parts that readers ignore.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
)
from azure.storage.blob import BlobBlock, BlobClient, ContainerClient, ContentSettings
from isal import isal_zlib

from oauth_etl.storage import collector
from oauth_etl.storage.account import container_errors
from oauth_etl.storage.batch import LandingBatch
from oauth_etl.storage.errors import ManifestError, StorageError
from oauth_etl.storage.manifest import (
    MANIFEST_NAME,
    Manifest,
    ManifestPart,
    batch_path,
    part_name,
    utc_iso,
)

MiB = 1024 * 1024
DEFAULT_PART_SIZE = 64 * MiB
DEFAULT_BLOCK_SIZE = 4 * MiB
DEFAULT_CHUNK_SIZE = 1 * MiB
# ISA-L's deflate (levels 0-3) writes the same gzip any reader takes. On invoice JSON
# lines, level 1 compresses at ~1,400 MiB/s to 6.8% of the bytes, where zlib level 3
# managed ~210 MiB/s to 7.4% (bench/landing.py). Compression was the largest cost of
# landing; level 3 is ISA-L's slowest, densest setting, for those who pay for bytes.
DEFAULT_COMPRESSION_LEVEL = 1
MAX_COMPRESSION_LEVEL = isal_zlib.ISAL_BEST_COMPRESSION
# Chunks handed to the background thread but not yet compressed: bounds memory.
MAX_PENDING_CHUNKS = 3
MAX_BLOCKS_PER_BLOB = 50_000  # Azure's limit per block blob

PART_CONTENT = ContentSettings(content_type="application/x-ndjson", content_encoding="gzip")
MANIFEST_CONTENT = ContentSettings(content_type="application/json")

T = TypeVar("T")


def new_batch_id(run_id: str, moment: datetime | None = None) -> str:
    """`20261128T190102.123Z-<first 8 of run id>`: sorts by time, tells runs apart."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    run8 = re.sub(r"[^A-Za-z0-9]", "", run_id)[:8].lower() or "local"
    return f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z-{run8}"


@dataclass
class _Part:
    """State of one part being written; touched only by the background thread."""

    index: int
    blob: BlobClient
    level: int
    compressor: Any = None
    sha256: Any = field(default_factory=hashlib.sha256)
    buffer: bytearray = field(default_factory=bytearray)
    block_ids: list[str] = field(default_factory=list)
    records: int = 0
    uncompressed_bytes: int = 0
    stored_bytes: int = 0

    def __post_init__(self) -> None:
        # wbits=31: a gzip member (header + trailer with CRC-32), readable by any gunzip.
        self.compressor = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, 31)


class _Skipped(Exception):
    """A queued step not run because an earlier one failed (that error is raised first)."""


class _Pipeline:
    """One ordered background worker with bounded back-pressure and fail-fast errors."""

    def __init__(self, container: ContainerClient, block_size: int) -> None:
        self._container = container
        self._block_size = block_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="blob-landing")
        self._slots = threading.BoundedSemaphore(MAX_PENDING_CHUNKS)
        self._pending: deque[Future[Any]] = deque()
        self._failed = threading.Event()
        self.committed: list[BlobClient] = []

    # --- calling thread -------------------------------------------------------------
    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        self._raise_if_failed()
        self._slots.acquire()
        try:
            future = self._executor.submit(self._guard, fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        self._pending.append(future)
        return future

    def _raise_if_failed(self) -> None:
        while self._pending and self._pending[0].done():
            self._pending.popleft().result()  # raises the worker's error here, in order

    def drain(self) -> None:
        while self._pending:
            self._pending.popleft().result()
        self._executor.shutdown(wait=True)

    def abort(self) -> None:
        self._failed.set()
        for future in self._pending:
            future.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for blob in self.committed:
            # Best effort: the batch has no manifest, so leftovers are invisible anyway.
            with contextlib.suppress(Exception):
                # No retries: when the account is gone, each would cost seconds per part.
                blob.delete_blob(timeout=10, retry_total=0)

    # --- background thread ----------------------------------------------------------
    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        if self._failed.is_set():
            raise _Skipped("an earlier step of this batch failed")
        try:
            return fn(*args)
        except BaseException:
            self._failed.set()
            raise

    def write(self, part: _Part, chunk: bytes, records: int) -> None:
        compressed = part.compressor.compress(chunk)
        part.records += records
        part.uncompressed_bytes += len(chunk)
        self._append(part, compressed)
        if len(part.buffer) >= self._block_size:
            self._stage(part)

    def finish(self, part: _Part) -> ManifestPart:
        self._append(part, part.compressor.flush())
        if part.buffer:
            self._stage(part)
        with container_errors(self._container, blob=part.blob.blob_name):
            try:
                part.blob.commit_block_list(
                    [BlobBlock(block_id) for block_id in part.block_ids],
                    content_settings=PART_CONTENT,
                    # Never replace an existing part (a batch id collision must fail loudly).
                    match_condition=MatchConditions.IfMissing,
                )
            except (ResourceExistsError, ResourceModifiedError):
                if not _is_own_commit(part):
                    raise StorageError(
                        f"part {part.blob.blob_name} already exists in container "
                        f"'{self._container.container_name}': batch id collision, not "
                        "overwritten"
                    ) from None
        self.committed.append(part.blob)
        return ManifestPart(
            name=part_name(part.index),
            records=part.records,
            bytes=part.stored_bytes,
            uncompressed_bytes=part.uncompressed_bytes,
            sha256=part.sha256.hexdigest(),
        )

    @staticmethod
    def _append(part: _Part, data: bytes) -> None:
        if data:
            part.sha256.update(data)
            part.buffer += data
            part.stored_bytes += len(data)

    def _stage(self, part: _Part) -> None:
        if len(part.block_ids) >= MAX_BLOCKS_PER_BLOB:
            raise StorageError(
                f"part {part.blob.blob_name} would exceed {MAX_BLOCKS_PER_BLOB} blocks: "
                "raise block_size or lower part_size_bytes"
            )
        block_id = f"{len(part.block_ids):06d}"  # equal length for every block of a blob
        data = bytes(part.buffer)
        part.buffer.clear()
        with container_errors(self._container, blob=part.blob.blob_name):
            # validate_content: the service checks each block's MD5 on arrival.
            part.blob.stage_block(block_id, data, length=len(data), validate_content=True)
        part.block_ids.append(block_id)


def write_batch(
    container: ContainerClient,
    batch: LandingBatch,
    *,
    prefix: str,
    run_id: str,
    part_size_bytes: int = DEFAULT_PART_SIZE,
    compression_level: int = DEFAULT_COMPRESSION_LEVEL,
    block_size: int = DEFAULT_BLOCK_SIZE,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    batch_id: str | None = None,
) -> Manifest:
    """Land `batch` under `<prefix><source>/<tenant>/<endpoint>/<batch_id>/` and return its
    manifest. Iterates `batch.records` exactly once; a producer exception propagates
    unchanged and leaves no manifest. An empty batch lands a manifest with 0 parts.

    `part_size_bytes` is the uncompressed size at which a part is closed (a part may exceed it
    by one record); `block_size` the compressed size at which a block is staged.
    """
    if part_size_bytes < 1 or block_size < 1 or chunk_size < 1:
        raise ValueError("part_size_bytes, block_size and chunk_size must be positive")
    if not 0 <= compression_level <= MAX_COMPRESSION_LEVEL:
        raise ValueError(
            f"compression_level must be 0..{MAX_COMPRESSION_LEVEL} (ISA-L's levels), "
            f"got {compression_level}"
        )
    started = datetime.now(UTC)
    batch_id = batch_id or new_batch_id(run_id, started)
    base = batch_path(
        prefix=prefix,
        source=batch.source,
        tenant_id=batch.tenant_id,
        endpoint=batch.endpoint,
        batch_id=batch_id,
    )
    pipeline = _Pipeline(container, block_size)
    try:
        with collector.oldest_generation_paused():
            parts = _stream_records(
                pipeline, container, batch, base, part_size_bytes, compression_level, chunk_size
            )
    except BaseException:
        pipeline.abort()
        raise
    stats = batch.stats
    manifest = Manifest(
        source=batch.source,
        endpoint=batch.endpoint,
        tenant_id=batch.tenant_id,
        batch_id=batch_id,
        run_id=run_id,
        extracted_at=utc_iso(started),
        cursor_from=batch.cursor_from,
        cursor_to=stats.cursor_to,
        record_count=sum(part.records for part in parts),
        api_calls=stats.api_calls,
        pages=stats.pages,
        complete=stats.complete,
        parts=tuple(parts),
        expected_records=stats.expected_records,
        extra=dict(stats.extra),
        location=base,
    )
    try:
        body = manifest.to_json()
    except TypeError as exc:
        pipeline.abort()
        raise ManifestError(f"batch stats.extra is not JSON-serializable: {exc}") from None
    manifest_blob = container.get_blob_client(f"{base}/{MANIFEST_NAME}")
    try:
        with container_errors(container, blob=manifest_blob.blob_name):
            try:
                manifest_blob.upload_blob(body, overwrite=False, content_settings=MANIFEST_CONTENT)
            except ResourceExistsError:
                if not _is_own_manifest(manifest_blob, body):
                    raise ManifestError(
                        f"{manifest_blob.blob_name} already exists in container "
                        f"'{container.container_name}': batch id collision, not overwritten"
                    ) from None
    except BaseException:
        # The outcome of a failed upload can be unknown (response lost): never delete the
        # parts of a manifest that did land.
        if not _is_own_manifest(manifest_blob, body):
            pipeline.abort()
        raise
    return manifest


def _is_own_manifest(blob: BlobClient, body: bytes) -> bool:
    """True when the stored manifest is byte-identical to ours: an SDK retry after a lost
    response hits If-None-Match, but the first attempt had landed."""
    try:
        return bool(blob.download_blob(decompress=False, timeout=10).readall() == body)
    except Exception:
        return False


def _is_own_commit(part: _Part) -> bool:
    """True when the committed blob is our block list (a retried commit that had landed)."""
    try:
        committed, _ = part.blob.get_block_list("committed", timeout=10)
        ids = [block.id for block in committed]
        size = sum(block.size for block in committed)
    except Exception:
        return False
    return ids == part.block_ids and size == part.stored_bytes


def _stream_records(
    pipeline: _Pipeline,
    container: ContainerClient,
    batch: LandingBatch,
    base: str,
    part_size_bytes: int,
    level: int,
    chunk_size: int,
) -> list[ManifestPart]:
    futures: list[Future[ManifestPart]] = []
    part: _Part | None = None
    part_bytes = 0  # uncompressed bytes handed to the current part
    buffer = bytearray()
    limit = min(chunk_size, part_size_bytes)
    dumps = orjson.dumps
    option = orjson.OPT_APPEND_NEWLINE
    records_before = 0
    # The hot loop: one orjson call and one append per record; counting and size checks
    # happen per chunk (orjson escapes newlines inside strings, so b"\n" ends a record).
    for record in batch.records:
        try:
            buffer += dumps(record, option=option)
        except TypeError as exc:  # orjson.JSONEncodeError is TypeError
            number = records_before + buffer.count(b"\n")
            raise TypeError(
                f"record {number} of {batch.source}/{batch.endpoint} (tenant "
                f"{batch.tenant_id}) cannot be serialized to JSON: {exc}"
            ) from None
        if len(buffer) >= limit:
            if part is None:
                part = _Part(len(futures), _blob(container, base, len(futures)), level)
            count = buffer.count(b"\n")
            pipeline.submit(pipeline.write, part, bytes(buffer), count)
            records_before += count
            part_bytes += len(buffer)
            collector.streamed(len(buffer))
            buffer.clear()
            if part_bytes >= part_size_bytes:
                futures.append(pipeline.submit(pipeline.finish, part))
                part, part_bytes = None, 0
            limit = min(chunk_size, part_size_bytes - part_bytes)
    if buffer:
        if part is None:
            part = _Part(len(futures), _blob(container, base, len(futures)), level)
        pipeline.submit(pipeline.write, part, bytes(buffer), buffer.count(b"\n"))
    if part is not None:
        futures.append(pipeline.submit(pipeline.finish, part))
    pipeline.drain()
    return [future.result() for future in futures]


def _blob(container: ContainerClient, base: str, index: int) -> BlobClient:
    return container.get_blob_client(f"{base}/{part_name(index)}")

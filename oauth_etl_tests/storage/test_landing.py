"""Writer and reader against Azurite: parts, manifests, checksums, visibility, memory."""

from __future__ import annotations

import gzip
import hashlib
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from azure.storage.blob import ContainerClient

from oauth_etl.storage import (
    BatchStats,
    ChecksumMismatch,
    LandingBatch,
    Manifest,
    ManifestError,
    StorageError,
    iter_records,
    latest_batch,
    list_batches,
    write_batch,
)
from oauth_etl.storage.manifest import MANIFEST_NAME
from oauth_etl.storage.writer import new_batch_id
from oauth_etl_tests.storage._support import record, records

WHERE: dict[str, Any] = {"source": "xero", "tenant_id": "tenant-1", "endpoint": "invoices"}


def batch(items: Any, **kwargs: Any) -> LandingBatch:
    return LandingBatch(records=items, **WHERE, **kwargs)


def blob_names(container: ContainerClient) -> list[str]:
    return sorted(b.name for b in container.list_blobs())


def test_several_parts_round_trip_and_manifest_matches_blobs(container: ContainerClient) -> None:
    stats = BatchStats()

    def produce() -> Iterator[dict[str, Any]]:
        for page in range(10):
            stats.api_calls += 1
            stats.pages += 1
            yield from (record(page * 100 + i) for i in range(100))
        stats.cursor_to = "2026-11-28T00:00:00"
        stats.extra["rate_remaining"] = 4321

    manifest = write_batch(
        container,
        batch(produce(), cursor_from="2026-01-01T00:00:00", stats=stats),
        prefix="raw",
        run_id="0123456789abcdef",
        part_size_bytes=50_000,
    )
    assert manifest.record_count == 1000
    assert len(manifest.parts) > 5
    assert [p.name for p in manifest.parts] == [
        f"part-{i:05d}.jsonl.gz" for i in range(len(manifest.parts))
    ]
    assert (manifest.api_calls, manifest.pages, manifest.cursor_to) == (10, 10, stats.cursor_to)
    assert manifest.cursor_from == "2026-01-01T00:00:00"
    assert manifest.extra == {"rate_remaining": 4321}
    assert manifest.batch_id.endswith("-01234567")
    base = f"raw/xero/tenant-1/invoices/{manifest.batch_id}"
    assert manifest.location == base
    assert blob_names(container) == sorted(
        [f"{base}/{p.name}" for p in manifest.parts] + [f"{base}/{MANIFEST_NAME}"]
    )

    lines: list[bytes] = []
    for part in manifest.parts[:-1]:
        # A part closes once it holds part_size_bytes; one record at most beyond.
        assert 50_000 <= part.uncompressed_bytes < 50_000 + 1_000
    for part in manifest.parts:
        blob = container.get_blob_client(f"{base}/{part.name}")
        properties = blob.get_blob_properties()
        assert properties.content_settings.content_type == "application/x-ndjson"
        assert properties.content_settings.content_encoding == "gzip"
        stored = blob.download_blob(decompress=False).readall()
        assert len(stored) == part.bytes
        assert hashlib.sha256(stored).hexdigest() == part.sha256
        text = gzip.decompress(stored)
        assert len(text) == part.uncompressed_bytes
        assert text.count(b"\n") == part.records
        lines.extend(text.splitlines())
    assert [orjson.loads(line) for line in lines] == list(records(1000))

    stored_manifest = container.download_blob(f"{base}/{MANIFEST_NAME}").readall()
    assert Manifest.from_json(stored_manifest, location=base) == manifest
    assert list(iter_records(container, manifest)) == list(records(1000))


def test_empty_batch_lands_a_manifest_with_no_parts(container: ContainerClient) -> None:
    manifest = write_batch(container, batch(iter([])), prefix="", run_id="run-empty")
    assert (manifest.record_count, manifest.parts) == (0, ())
    assert blob_names(container) == [f"xero/tenant-1/invoices/{manifest.batch_id}/_manifest.json"]
    assert list_batches(container, prefix="", **WHERE) == [manifest]
    assert list(iter_records(container, manifest)) == []


def test_readers_ignore_batches_without_manifest_and_sort_by_time(
    container: ContainerClient,
) -> None:
    old = datetime(2026, 1, 1, tzinfo=UTC)
    first = write_batch(
        container,
        batch(records(3)),
        prefix="p/",
        run_id="aaaa",
        batch_id=new_batch_id("aaaa", old),
    )
    second = write_batch(container, batch(records(5)), prefix="p/", run_id="bbbb")
    # A batch that never finished: parts but no manifest.
    orphan = f"p/xero/tenant-1/invoices/{new_batch_id('cccc')}/part-00000.jsonl.gz"
    container.upload_blob(orphan, gzip.compress(b'{"a":1}\n'))
    # Other endpoints and tenants are not mixed in.
    write_batch(
        container, LandingBatch("xero", "contacts", "tenant-1", records(2)), prefix="p/", run_id="x"
    )
    write_batch(
        container, LandingBatch("xero", "invoices", "tenant-2", records(2)), prefix="p/", run_id="x"
    )

    found = list_batches(container, prefix="p", **WHERE)
    assert [m.batch_id for m in found] == [first.batch_id, second.batch_id]
    assert latest_batch(container, prefix="p", **WHERE) == second
    since = datetime.now(UTC) - timedelta(hours=1)
    assert list_batches(container, prefix="p", since=since, **WHERE) == [second]
    assert latest_batch(container, prefix="p", source="xero", tenant_id="t9", endpoint="x") is None


def test_corrupt_part_raises_checksum_mismatch_naming_the_blob(container: ContainerClient) -> None:
    manifest = write_batch(
        container, batch(records(300)), prefix="", run_id="r1", part_size_bytes=40_000
    )
    name = f"{manifest.location}/part-00001.jsonl.gz"
    blob = container.get_blob_client(name)
    data = bytearray(blob.download_blob(decompress=False).readall())
    data[len(data) // 2] ^= 0xFF  # same size, one byte flipped
    blob.upload_blob(bytes(data), overwrite=True)
    with pytest.raises(ChecksumMismatch, match=name.replace(".", r"\.")):
        list(iter_records(container, manifest))


def test_replaced_part_raises_checksum_mismatch(container: ContainerClient) -> None:
    manifest = write_batch(container, batch(records(50)), prefix="", run_id="r1")
    name = f"{manifest.location}/part-00000.jsonl.gz"
    blob = container.get_blob_client(name)
    original = blob.download_blob(decompress=False).readall()
    # Valid gzip of the very same lines, but not the bytes the manifest vouches for.
    blob.upload_blob(gzip.compress(gzip.decompress(original), mtime=1), overwrite=True)
    with pytest.raises(ChecksumMismatch, match="part-00000"):
        list(iter_records(container, manifest))
    # Without verification the content is still readable.
    assert len(list(iter_records(container, manifest, verify=False))) == 50


def test_missing_part_and_bad_manifest_are_reported(container: ContainerClient) -> None:
    manifest = write_batch(
        container, batch(records(100)), prefix="", run_id="r1", part_size_bytes=20_000
    )
    container.delete_blob(f"{manifest.location}/part-00001.jsonl.gz")
    with pytest.raises(
        ChecksumMismatch,
        match=r"part-00001.jsonl.gz in container .* is listed in the manifest but missing",
    ):
        list(iter_records(container, manifest))
    name = f"{manifest.location}/_manifest.json"
    container.upload_blob(name, b'{"format_version": 1}', overwrite=True)
    with pytest.raises(ManifestError, match=name):
        list_batches(container, prefix="", **WHERE)


def test_producer_error_propagates_and_leaves_nothing_visible(container: ContainerClient) -> None:
    class XeroDown(Exception):
        pass

    def failing() -> Iterator[dict[str, Any]]:
        yield from records(400)
        raise XeroDown("HTTP 503 from Xero: service unavailable")

    with pytest.raises(XeroDown, match="HTTP 503 from Xero"):
        write_batch(container, batch(failing()), prefix="", run_id="r1", part_size_bytes=20_000)
    assert list_batches(container, prefix="", **WHERE) == []
    # The parts it had committed were cleaned up (best effort).
    assert blob_names(container) == []


def test_unserializable_record_names_its_position(container: ContainerClient) -> None:
    items = [*records(3), {"bad": object()}]
    with pytest.raises(TypeError, match=r"record 3 of xero/invoices \(tenant tenant-1\)"):
        write_batch(container, batch(iter(items)), prefix="", run_id="r1")
    assert blob_names(container) == []


def test_batch_ids_sort_by_time_and_collisions_do_not_overwrite(
    container: ContainerClient,
) -> None:
    moments = [
        datetime(2026, 11, 28, 19, 1, 2, 5000, tzinfo=UTC) + timedelta(seconds=s)
        for s in (0, 1.5, 600, 86400)
    ]
    ids = [new_batch_id("f" * 32, m) for m in moments]
    assert ids == sorted(ids)
    assert ids[0] == "20261128T190102.005Z-ffffffff"
    first = write_batch(container, batch(records(3)), prefix="", run_id="r", batch_id="fixed")
    with pytest.raises(StorageError, match="already exists"):
        write_batch(container, batch(records(4)), prefix="", run_id="r", batch_id="fixed")
    assert list(iter_records(container, first)) == list(records(3))


def test_segments_are_validated() -> None:
    with pytest.raises(ValueError, match=r"tenant_id '\.\./x'"):
        LandingBatch("xero", "invoices", "../x", iter([]))
    with pytest.raises(TypeError, match="iterable of records"):
        LandingBatch("xero", "invoices", "t", {"a": 1})  # type: ignore[dict-item]


def test_writing_memory_does_not_grow_with_data(container: ContainerClient) -> None:
    def peak(count: int) -> tuple[int, int]:
        tracemalloc.start()
        try:
            manifest = write_batch(
                container,
                batch(records(count)),
                prefix=f"mem{count}",
                run_id="r",
                part_size_bytes=16 * 1024 * 1024,
                block_size=1024 * 1024,
            )
            return tracemalloc.get_traced_memory()[1], manifest.total_uncompressed_bytes
        finally:
            tracemalloc.stop()

    small_peak, _ = peak(10_000)
    large_peak, large_bytes = peak(100_000)
    assert large_bytes > 45_000_000
    # ~56 MB of JSON written with a peak of a few MiB (measured ~4 MiB): buffers, not data.
    assert large_peak < 8 * 1024 * 1024, large_peak
    assert large_peak < small_peak * 2 + 1024 * 1024, (small_peak, large_peak)


MANIFEST_DOC: dict[str, Any] = {
    "source": "xero",
    "endpoint": "invoices",
    "tenant_id": "t1",
    "batch_id": "20261128T190102.000Z-abcd1234",
    "run_id": "abcd1234",
    "extracted_at": "2026-11-28T19:01:02.000Z",
    "cursor_from": None,
    "cursor_to": "2026-11-28T00:00:00",
    "record_count": 2,
    "api_calls": 1,
    "pages": 1,
    "complete": True,
    "parts": [
        {
            "name": "part-00000.jsonl.gz",
            "records": 2,
            "bytes": 40,
            "uncompressed_bytes": 20,
            "sha256": "0" * 64,
        }
    ],
    "expected_records": None,
    "extra": {},
    "format": "jsonl.gz",
    "format_version": 1,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"record_count": 3}, "differs from the parts' sum"),
        ({"record_count": True}, "'record_count' must be int"),
        ({"format_version": 2}, "format_version 2 is not supported"),
        ({"surprise": 1}, "unknown fields"),
        ({"extracted_at": "yesterday"}, "Invalid isoformat"),
        ({"tenant_id": "a/b"}, "cannot be a blob path segment"),
        ({"parts": [{**MANIFEST_DOC["parts"][0], "sha256": "xyz"}]}, "sha256 is not 64"),
        ({"parts": [{**MANIFEST_DOC["parts"][0], "name": "part-7"}]}, "expected part-00000"),
    ],
)
def test_manifest_validation_is_strict(change: dict[str, Any], message: str) -> None:
    assert Manifest.from_json(orjson.dumps(MANIFEST_DOC)).to_json() == orjson.dumps(
        MANIFEST_DOC, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    )
    with pytest.raises(ManifestError, match=f"blob-x.*{message}"):
        Manifest.from_json(orjson.dumps({**MANIFEST_DOC, **change}), where="blob-x")
    missing = {k: v for k, v in MANIFEST_DOC.items() if k != "run_id"}
    with pytest.raises(ManifestError, match="missing fields"):
        Manifest.from_json(orjson.dumps(missing))
    with pytest.raises(ManifestError, match="not valid JSON"):
        Manifest.from_json(b"{")


def test_a_retried_commit_or_manifest_upload_is_recognised_as_our_own(
    container: ContainerClient,
) -> None:
    """An SDK retry after a lost response meets If-None-Match: the first attempt landed.
    Our own bytes are accepted; anyone else's are a collision."""
    from oauth_etl.storage.writer import _is_own_commit, _is_own_manifest, _Part, _Pipeline

    pipeline = _Pipeline(container, block_size=64)
    part = _Part(0, container.get_blob_client("x/part-00000.jsonl.gz"), 1)
    pipeline.write(part, b'{"a":1}\n' * 100, 100)
    pipeline.finish(part)
    assert _is_own_commit(part)
    part.block_ids = part.block_ids[:-1]
    assert not _is_own_commit(part)

    manifest = write_batch(container, batch(records(2)), prefix="", run_id="r", batch_id="b1")
    blob = container.get_blob_client(f"{manifest.location}/_manifest.json")
    assert _is_own_manifest(blob, manifest.to_json())
    assert not _is_own_manifest(blob, manifest.to_json() + b" ")

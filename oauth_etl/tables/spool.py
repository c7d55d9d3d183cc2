"""Converted rows of a merge, spooled to local disk by bucket until their bucket is merged.

A tenant's rows are split into `buckets` by a stable hash of the record's id (a child row
by its parent's id), and each table is partitioned by `tenant_id` and `_bucket`. A Delta
MERGE rewrites every file holding a changed row, and random ids put one in every file: with
buckets, a merge reads and rewrites only the files of the buckets it names, so its memory
follows the size of a bucket, not of the tenant.

The batches are converted once, chunk by chunk, and written to one Arrow IPC stream per
bucket (a new file when a chunk brings new columns); the merge then reads them back a
bucket group at a time, so what it holds in memory is one commit's rows. Each parent row
carries `_seq`, its position in landing order; each child row `_owner`, its parent's `_seq`.
"""

from __future__ import annotations

import shutil
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from oauth_etl.tables.model import BUCKET

SEQ = "_seq"  # a parent row's position in landing order (spool only, never written)
OWNER = "_owner"  # a child row's parent `_seq` (spool only)
_IPC = ipc.IpcWriteOptions(compression="lz4")  # spooled Arrow is mostly repeated text


def bucket_of(key: Any, buckets: int) -> int:
    """The bucket of an id: CRC-32 of its text, stable across processes and versions."""
    return zlib.crc32(str(key).encode()) % buckets


class _Files:
    """One bucket's spooled rows of one table: IPC streams, one per schema met, in order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.paths: list[Path] = []
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._sink: pa.NativeFile | None = None
        self._schema: pa.Schema | None = None

    def write(self, rows: pa.Table) -> None:
        if self._writer is None or self._schema is None or not self._schema.equals(rows.schema):
            self.close()
            self._schema = rows.schema
            path = self.folder / f"{len(self.paths):05d}.arrows"
            self._sink = pa.OSFile(str(path), "wb")
            self._writer = ipc.new_stream(self._sink, rows.schema, options=_IPC)
            self.paths.append(path)
        self._writer.write_table(rows)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        self.close()
        for path in self.paths:
            with pa.OSFile(str(path), "rb") as source:
                for batch in ipc.open_stream(source):
                    yield batch if columns is None else batch.select(columns)


class Spool:
    """Converted parent and child rows by bucket, in a temporary folder removed on exit."""

    def __init__(self, buckets: int) -> None:
        self.buckets = buckets
        self._root = Path(tempfile.mkdtemp(prefix="oauth-etl-merge-"))
        self._files: dict[tuple[str, int], _Files] = {}
        self.rows: dict[int, int] = {}  # parent rows per bucket
        self._next_seq = 0

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        for files in self._files.values():
            files.close()
        shutil.rmtree(self._root, ignore_errors=True)

    def _bucket_files(self, table: str, bucket: int) -> _Files:
        found = self._files.get((table, bucket))
        if found is None:
            folder = self._root / f"{table}-{bucket}"
            folder.mkdir()
            found = self._files[(table, bucket)] = _Files(folder)
        return found

    def add(
        self,
        table: str,
        parent: pa.Table,
        keys: list[Any],
        children: dict[str, tuple[pa.Table, list[int]]],
    ) -> None:
        """Spool a converted chunk: `keys` are the parent rows' ids, each child table comes
        with the parent row (index into this chunk) of every child row."""
        first = self._next_seq
        self._next_seq += parent.num_rows
        buckets = pa.array([bucket_of(k, self.buckets) for k in keys], pa.int32())
        seqs = pa.array(range(first, first + parent.num_rows), pa.int64())
        self._split(table, parent.append_column(SEQ, seqs).append_column(BUCKET, buckets))
        for name, (rows, owners) in children.items():
            chosen = pa.array(owners, pa.int64())
            rows = rows.append_column(OWNER, pc.add(chosen, first))
            self._split(name, rows.append_column(BUCKET, buckets.take(chosen)), count=False)

    def _split(self, table: str, rows: pa.Table, count: bool = True) -> None:
        if rows.num_rows == 0:
            return
        column = rows.column(BUCKET)
        for bucket in pc.unique(column).to_pylist():
            part = rows.filter(pc.equal(column, bucket))
            self._bucket_files(table, bucket).write(part)
            if count:
                self.rows[bucket] = self.rows.get(bucket, 0) + part.num_rows

    def batches(
        self, table: str, buckets: list[int], columns: list[str] | None = None
    ) -> Iterator[pa.RecordBatch]:
        """The spooled rows of `buckets`, bucket by bucket, each in landing order."""
        for bucket in buckets:
            files = self._files.get((table, bucket))
            if files is not None:
                yield from files.batches(columns)

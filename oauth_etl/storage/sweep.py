"""Deleting what a killed or failed writer left: parts of batches that never got a manifest.

Readers already ignore such parts (a batch exists once its `_manifest.json` does); this
frees their space. The weekly `landing_sweep` job (`oauth_etl/defs/maintenance.py`) runs it.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from oauth_etl.storage.account import container_errors
from oauth_etl.storage.manifest import MANIFEST_NAME, PART_PATTERN, normalize_prefix


def sweep_incomplete_batches(
    container: ContainerClient,
    *,
    prefix: str,
    older_than: timedelta = timedelta(days=1),
    now: datetime | None = None,
) -> list[str]:
    """Delete the parts of batches that never got a manifest (killed or failed writers)
    and were last touched before `now - older_than`; return the deleted blob names.

    Batches still being written have no manifest either: keep `older_than` well above the
    longest extraction. Staged but uncommitted blocks are not listable; Azure discards them
    after a week.
    """
    cutoff = (now or datetime.now(UTC)) - older_than
    root = normalize_prefix(prefix)
    batches: dict[str, list[tuple[str, datetime]]] = {}
    with container_errors(container):
        for blob in container.list_blobs(name_starts_with=root):
            # <prefix><source>/<tenant>/<endpoint>/<batch_id>/<file>: 5 segments after prefix
            segments = blob.name[len(root) :].split("/")
            if len(segments) != 5:
                continue
            directory = blob.name.rsplit("/", 1)[0]
            batches.setdefault(directory, []).append((segments[4], blob.last_modified))
    deleted: list[str] = []
    for directory, files in sorted(batches.items()):
        names = {name for name, _ in files}
        if MANIFEST_NAME in names or not all(PART_PATTERN.match(name) for name in names):
            continue  # complete, or not a batch this writer made: leave it alone
        if max(modified for _, modified in files) >= cutoff:
            continue
        for name in sorted(names):
            full = f"{directory}/{name}"
            with container_errors(container, blob=full), contextlib.suppress(ResourceNotFoundError):
                container.delete_blob(full)
            deleted.append(full)
    return deleted

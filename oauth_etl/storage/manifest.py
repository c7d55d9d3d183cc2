"""`_manifest.json`: the record that a landed batch is complete, and what it contains.

A batch directory without a manifest is invisible to readers. The manifest is validated
strictly on read: a wrong type, a missing field or an inconsistent count is a
`ManifestError`, never a silently half-read batch.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from oauth_etl.storage.batch import check_segment
from oauth_etl.storage.errors import ManifestError

FORMAT_VERSION = 1
MANIFEST_NAME = "_manifest.json"
PART_PATTERN = re.compile(r"^part-\d{5}\.jsonl\.gz$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def part_name(index: int) -> str:
    return f"part-{index:05d}.jsonl.gz"


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, millisecond precision."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ManifestPart:
    name: str
    records: int
    bytes: int  # size of the blob as stored (gzip)
    uncompressed_bytes: int
    sha256: str  # of the stored (gzip) blob bytes


@dataclass(frozen=True)
class Manifest:
    source: str
    endpoint: str
    tenant_id: str
    batch_id: str
    run_id: str
    extracted_at: str
    cursor_from: str | None
    cursor_to: str | None
    record_count: int
    api_calls: int
    pages: int
    complete: bool
    parts: tuple[ManifestPart, ...]
    expected_records: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    format: str = "jsonl.gz"
    format_version: int = FORMAT_VERSION
    # Where the batch lives (`<prefix><source>/<tenant>/<endpoint>/<batch_id>`), set by the
    # writer and the reader; not part of the document, so a moved batch stays valid.
    location: str | None = field(default=None, compare=False, repr=False)

    @property
    def total_bytes(self) -> int:
        """Stored (gzip) size of all parts."""
        return sum(part.bytes for part in self.parts)

    @property
    def total_uncompressed_bytes(self) -> int:
        return sum(part.uncompressed_bytes for part in self.parts)

    def batch_path(self, prefix: str = "") -> str:
        """`<prefix><source>/<tenant>/<endpoint>/<batch_id>` (no trailing slash)."""
        return batch_path(
            prefix=prefix,
            source=self.source,
            tenant_id=self.tenant_id,
            endpoint=self.endpoint,
            batch_id=self.batch_id,
        )

    def to_json(self) -> bytes:
        document = asdict(self)
        del document["location"]
        document["parts"] = [asdict(part) for part in self.parts]
        return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)

    @classmethod
    def from_json(
        cls, data: bytes | str, *, where: str = "manifest", location: str | None = None
    ) -> Manifest:
        """Parse and validate; `where` (e.g. the blob name) is named in every error."""
        try:
            document = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise ManifestError(f"{where} is not valid JSON: {exc}") from None
        try:
            return _validate(document, location)
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise ManifestError(f"{where} is not a valid batch manifest: {exc}") from None


def normalize_prefix(prefix: str) -> str:
    """'' stays ''; 'raw' and 'raw/' both become 'raw/'; leading slashes are dropped."""
    prefix = prefix.strip().lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def endpoint_path(*, prefix: str, source: str, tenant_id: str, endpoint: str) -> str:
    """The directory holding all batches of one endpoint of one tenant (trailing slash)."""
    check_segment("source", source)
    check_segment("tenant_id", tenant_id)
    check_segment("endpoint", endpoint)
    return f"{normalize_prefix(prefix)}{source}/{tenant_id}/{endpoint}/"


def batch_path(*, prefix: str, source: str, tenant_id: str, endpoint: str, batch_id: str) -> str:
    check_segment("batch_id", batch_id)
    base = endpoint_path(prefix=prefix, source=source, tenant_id=tenant_id, endpoint=endpoint)
    return base + batch_id


_FIELDS: dict[str, tuple[type, ...]] = {
    "source": (str,),
    "endpoint": (str,),
    "tenant_id": (str,),
    "batch_id": (str,),
    "run_id": (str,),
    "extracted_at": (str,),
    "cursor_from": (str, type(None)),
    "cursor_to": (str, type(None)),
    "record_count": (int,),
    "api_calls": (int,),
    "pages": (int,),
    "complete": (bool,),
    "parts": (list,),
    "expected_records": (int, type(None)),
    "extra": (dict,),
    "format": (str,),
    "format_version": (int,),
}
_PART_FIELDS: dict[str, type] = {
    "name": str,
    "records": int,
    "bytes": int,
    "uncompressed_bytes": int,
    "sha256": str,
}


def _check_type(name: str, value: Any, types: tuple[type, ...]) -> None:
    # bool is an int subclass: a count of `true` is still wrong.
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        expected = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise TypeError(f"field {name!r} must be {expected}, got {type(value).__name__}")


def _validate(document: Any, location: str | None) -> Manifest:
    if not isinstance(document, dict):
        raise TypeError(f"expected a JSON object, got {type(document).__name__}")
    version = document.get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"format_version {version!r} is not supported (this reader knows {FORMAT_VERSION})"
        )
    missing = sorted(set(_FIELDS) - set(document))
    if missing:
        raise KeyError(f"missing fields {missing}")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise KeyError(f"unknown fields {unknown}")
    for name, types in _FIELDS.items():
        _check_type(name, document[name], types)
    if document["format"] != "jsonl.gz":
        raise ValueError(f"format {document['format']!r} is not 'jsonl.gz'")
    for name in ("source", "endpoint", "tenant_id", "batch_id"):
        check_segment(name, document[name])
    parse_utc(document["extracted_at"])
    for name in ("record_count", "api_calls", "pages"):
        if document[name] < 0:
            raise ValueError(f"field {name!r} is negative")
    parts: list[ManifestPart] = []
    for index, raw in enumerate(document["parts"]):
        if not isinstance(raw, dict) or set(raw) != set(_PART_FIELDS):
            raise ValueError(f"part {index} must be an object with fields {sorted(_PART_FIELDS)}")
        for name, part_type in _PART_FIELDS.items():
            _check_type(f"parts[{index}].{name}", raw[name], (part_type,))
        if raw["name"] != part_name(index):
            raise ValueError(f"part {index} is named {raw['name']!r}, expected {part_name(index)}")
        if not _SHA256.match(raw["sha256"]):
            raise ValueError(f"part {raw['name']} sha256 is not 64 lowercase hex digits")
        if min(raw["records"], raw["bytes"], raw["uncompressed_bytes"]) < 0:
            raise ValueError(f"part {raw['name']} has a negative count")
        parts.append(ManifestPart(**raw))
    total = sum(part.records for part in parts)
    if total != document["record_count"]:
        raise ValueError(
            f"record_count {document['record_count']} differs from the parts' sum {total}"
        )
    return Manifest(**{**document, "parts": tuple(parts), "location": location})

"""Rescue copies: where a rotated token set goes when the store cannot take it.

After a refresh the old refresh token is spent, so a set that cannot be saved must be
kept somewhere that outlives the process, or nobody can run again without a person.
A pod's working directory dies with the pod: deployments point the rescue at a mounted
volume (`file:/mnt/...`) or at a restricted container in the landing account (`blob:NAME`).

This module knows no Azure SDK: `BlobRescueSink` takes any object with
`upload_blob`/`download_blob`/`url` (an azure `ContainerClient` has them).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

RESCUE_PREFIX = "token-rescue"


@runtime_checkable
class RescueSink(Protocol):
    def write(self, name: str, data: bytes) -> str:
        """Keep `data` durably under `name`; return where (a path or URL). Raises OSError."""
        ...

    def read(self, location: str) -> bytes:
        """The bytes at a location `write` returned. Raises OSError."""
        ...

    def owns(self, location: str) -> bool:
        """Whether `location` is one of this sink's."""
        ...

    def describe(self) -> str:
        """Where rescue copies go (for messages and `doctor`)."""
        ...


def default_rescue_dir() -> Path:
    """~/.oauth_etl/rescue, or a per-user temp directory when home is not writable."""
    home = Path.home() / ".oauth_etl" / "rescue"
    with contextlib.suppress(OSError):
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.access(home, os.W_OK):
            return home
    return Path(tempfile.gettempdir()) / f"oauth-etl-rescue-{os.getuid()}"


class FileRescueSink:
    """Files (0600) in a directory (0700): on a deployment, a mounted persistent volume."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser()

    def describe(self) -> str:
        return f"directory {self.directory}"

    def __repr__(self) -> str:
        return f"FileRescueSink({str(self.directory)!r})"

    def write(self, name: str, data: bytes) -> str:
        path = self.directory / name
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return str(path)  # the same set (the name holds its fingerprint), rescued already
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return str(path)

    def owns(self, location: str) -> bool:
        return Path(location).expanduser().parent == self.directory

    def read(self, location: str) -> bytes:
        return Path(location).expanduser().read_bytes()

    def list(self) -> list[str]:
        """The rescue copies here, oldest first (their names start with the UTC time)."""
        try:
            return sorted(str(p) for p in self.directory.glob(f"{RESCUE_PREFIX}-*.json"))
        except OSError:  # absent or unreadable: none to offer
            return []


class ContainerLike(Protocol):
    """The part of azure's `ContainerClient` the blob sink uses."""

    @property
    def url(self) -> str: ...

    def upload_blob(self, name: str, data: bytes, **kwargs: Any) -> Any: ...

    def download_blob(self, blob: str, **kwargs: Any) -> Any: ...

    def list_blob_names(self, **kwargs: Any) -> Any: ...


class BlobRescueSink:
    """Blobs `token-rescue/<name>` in a container only the pipeline's identity can read.

    Never overwrites (a blob with the same name holds the same set). Give the container
    no public access: a rescue copy holds a live refresh token.
    """

    def __init__(self, container: ContainerLike, prefix: str = RESCUE_PREFIX) -> None:
        self.container = container
        self.prefix = prefix.strip("/")

    @property
    def base_url(self) -> str:
        return f"{self.container.url.rstrip('/')}/{self.prefix}/"

    def describe(self) -> str:
        return f"blobs {self.base_url}"

    def __repr__(self) -> str:
        return f"BlobRescueSink({self.base_url!r})"

    def write(self, name: str, data: bytes) -> str:
        blob = f"{self.prefix}/{name}"
        try:
            self.container.upload_blob(blob, data, overwrite=False, timeout=30)
        except Exception as exc:  # azure-core errors, kept out of this module's imports
            if type(exc).__name__ == "ResourceExistsError":
                return self.base_url + name
            raise OSError(f"rescue blob {blob}: {type(exc).__name__}") from None
        return self.base_url + name

    def owns(self, location: str) -> bool:
        return location.startswith(self.base_url)

    def read(self, location: str) -> bytes:
        if not self.owns(location):
            raise OSError(f"{location} is not under {self.base_url}")
        blob = f"{self.prefix}/{location[len(self.base_url) :]}"
        try:
            return bytes(self.container.download_blob(blob, timeout=30).readall())
        except Exception as exc:  # azure-core errors
            if type(exc).__name__ == "ResourceNotFoundError":
                raise FileNotFoundError(f"no rescue blob {blob}") from None
            raise OSError(f"rescue blob {blob}: {type(exc).__name__}") from None

    def list(self) -> list[str]:
        """The rescue copies' URLs, oldest first (their names start with the UTC time)."""
        try:
            names = list(self.container.list_blob_names(name_starts_with=f"{self.prefix}/"))
        except Exception as exc:  # azure-core errors
            raise OSError(f"listing {self.base_url}: {type(exc).__name__}") from None
        return sorted(self.base_url + n[len(self.prefix) + 1 :] for n in names)


def rescue_copies(sink: RescueSink) -> list[str] | None:
    """The copies a sink holds, oldest first; None when it cannot say (no listing, or
    listing failed)."""
    lister = getattr(sink, "list", None)
    if lister is None:
        return None
    try:
        found = lister()
    except OSError:
        return None
    return [str(c) for c in found]


def restore_hint(sink: RescueSink) -> str:
    """What to do about a store that holds no usable token set: restore the newest
    rescue copy if there is one, else authorize again."""
    copies = rescue_copies(sink)
    if copies:
        return (
            f"restore the newest rescue copy: `oauth-etl token restore {copies[-1]}` "
            f"({len(copies)} in {sink.describe()}), or run `oauth-etl authorize`"
        )
    none = "holds no rescue copy" if copies is not None else "could not be listed"
    return f"{sink.describe()} {none}: run `oauth-etl authorize`"


# -- the configured location ------------------------------------------------------------
@dataclass(frozen=True)
class RescueLocation:
    kind: Literal["file", "blob"]
    path: Path | None = None
    container: str | None = None
    prefix: str = RESCUE_PREFIX

    def describe(self) -> str:
        if self.kind == "file":
            return f"directory {self.path}"
        return f"container {self.container!r}, prefix {self.prefix}/"


def parse_rescue_location(text: str) -> RescueLocation:
    """`file:DIR` (a mounted volume) or `blob:CONTAINER[/PREFIX]` (in the landing account)."""
    usage = "expected `file:DIRECTORY` or `blob:CONTAINER[/PREFIX]` (the rescue location)"
    scheme, sep, rest = text.strip().partition(":")
    rest = rest.strip()
    if not sep or not rest or scheme.lower() not in ("file", "blob"):
        raise ValueError(f"rescue location {text!r} not understood: {usage}")
    if scheme.lower() == "file":
        return RescueLocation("file", path=Path(rest).expanduser())
    container, _, prefix = rest.partition("/")
    # Azure container names: 3-63 lowercase letters, digits and single dashes.
    if not (3 <= len(container) <= 63) or not all(
        c.islower() or c.isdigit() or c == "-" for c in container
    ):
        raise ValueError(
            f"rescue location {text!r}: container {container!r} must be 3-63 lowercase "
            "letters, digits or dashes"
        )
    return RescueLocation("blob", container=container, prefix=prefix.strip("/") or RESCUE_PREFIX)

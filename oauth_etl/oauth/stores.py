"""Token stores: where the one token set lives (a local file or an Azure Key Vault secret)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable
from urllib.parse import urlsplit

from oauth_etl.oauth.errors import TokenStoreError, clip
from oauth_etl.oauth.tokens import TokenSet
from oauth_etl.oauth.vault_errors import KeyVaultAccessError as KeyVaultAccessError
from oauth_etl.oauth.vault_errors import keyvault_error

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.keyvault.secrets import SecretClient

logger = logging.getLogger(__name__)


@runtime_checkable
class TokenStore(Protocol):
    def load(self) -> TokenSet | None:
        """The stored token set, or None when nothing is stored yet."""
        ...

    def save(self, tokens: TokenSet) -> None:
        """Store the whole token set (replacing the previous one)."""
        ...

    def describe(self) -> str:
        """Where the token set lives; never a secret."""
        ...


# -- local file ----------------------------------------------------------------------
class FileTokenStore:
    """A JSON file, mode 0600, replaced atomically on every save."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()

    @property
    def lock_path(self) -> Path:
        """The lock file that guards this store (next to it)."""
        return self.path.with_name(self.path.name + ".lock")

    def describe(self) -> str:
        return f"file {self.path}"

    def __repr__(self) -> str:
        return f"FileTokenStore({str(self.path)!r})"

    def _refuse_directory(self) -> None:
        """A path this store cannot be: a directory (it opens for reading on Linux and
        fails only at `read`), or a name longer than the file system allows."""
        try:
            is_dir = stat.S_ISDIR(os.stat(self.path).st_mode)
        except FileNotFoundError:
            return
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                return  # load and save say what went wrong
            raise TokenStoreError(
                f"token store path {clip(str(self.path), 80)} is {len(str(self.path))} characters "
                "long, more than the file system allows: set OAUTH_ETL_TOKEN_STORE to "
                "file:PATH with a shorter path"
            ) from None
        if is_dir:
            raise TokenStoreError(
                f"token store {self.path} is a directory, not a file: set "
                f"OAUTH_ETL_TOKEN_STORE to file:PATH naming a file, e.g. "
                f"file:{self.path / 'token.json'}"
            )

    def load(self) -> TokenSet | None:
        self._refuse_directory()
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TokenStoreError(f"cannot read token file {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            if mode & 0o077:
                raise TokenStoreError(
                    f"token file {self.path} is readable by other users (mode {mode:04o}); "
                    f"it holds secrets: run `chmod 600 {self.path}` and try again"
                )
            data = handle.read()
        return TokenSet.from_json(data, source=f"token file {self.path}")

    def recover_interrupted_save(self) -> TokenSet | None:
        """Adopt a complete token set that a killed process wrote but never renamed.

        A save writes and fsyncs a temp file before the rename; a process killed in
        between leaves the only copy of a rotated refresh token there. Call this
        holding the store's lock (no save is then in flight): the newest complete
        temp file newer than the store replaces it; unreadable leftovers are removed.
        """
        current = self.load()
        best: tuple[TokenSet, Path] | None = None
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            try:
                candidate = TokenSet.from_json(leftover.read_bytes(), source=str(leftover))
            except (OSError, TokenStoreError):
                with contextlib.suppress(OSError):
                    leftover.unlink()  # a write cut short: nothing complete to keep
                continue
            newest = best[0].obtained_at if best else (current.obtained_at if current else -1.0)
            if candidate.obtained_at > newest:
                if best is not None:
                    with contextlib.suppress(OSError):
                        best[1].unlink()
                best = (candidate, leftover)
            else:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        if best is None:
            return None
        try:
            os.chmod(best[1], 0o600)  # mkstemp made it so; never widen a secret by adopting
            os.replace(best[1], self.path)
            _fsync_dir(self.path.parent)
        except OSError as exc:
            raise TokenStoreError(f"cannot adopt {best[1]}: {exc.strerror}") from None
        logger.warning(
            "recovered token set %s from an interrupted save (%s)",
            best[0].fingerprint(),
            best[1].name,
        )
        return best[0]

    def save(self, tokens: TokenSet) -> None:
        self._refuse_directory()
        parent = self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            # mkstemp creates the file 0600; same directory so the rename is atomic.
            fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise TokenStoreError(f"cannot write token file {self.path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(tokens.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, self.path)
            _fsync_dir(parent)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise TokenStoreError(f"cannot write token file {self.path}: {exc.strerror}") from None


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; not every platform can open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# -- Azure Key Vault -----------------------------------------------------------------
def _default_credential() -> TokenCredential:
    from azure.identity import DefaultAzureCredential  # lazy: slow import, optional at runtime

    return DefaultAzureCredential()


def make_secret_client(
    vault_url: str,
    credential: TokenCredential | None = None,
    *,
    retry_total: int = 4,
    retry_backoff_factor: float = 0.8,
    retry_backoff_max: float = 30.0,
    retry_after_max: float = 60.0,
    timeout: float = 30.0,
    **kwargs: Any,
) -> SecretClient:
    """A SecretClient whose azure-core retry policy is bounded.

    azure-core retries 408/429/500/502/503/504 and honours `Retry-After`;
    `retry_total` bounds the attempts, `retry_backoff_max` the backoff and
    `retry_after_max` the wait a server may ask for.
    """
    from azure.core.pipeline.policies import RetryPolicy
    from azure.keyvault.secrets import SecretClient

    class BoundedRetryPolicy(RetryPolicy[Any, Any]):
        def get_retry_after(self, response: Any) -> float | None:
            asked = super().get_retry_after(response)
            return None if asked is None else min(float(asked), retry_after_max)

    policy = BoundedRetryPolicy(
        retry_total=retry_total,
        retry_backoff_factor=retry_backoff_factor,
        retry_backoff_max=retry_backoff_max,
    )
    return SecretClient(
        vault_url,
        credential if credential is not None else _default_credential(),
        retry_policy=policy,
        connection_timeout=timeout,
        read_timeout=timeout,
        **kwargs,
    )


class KeyVaultTokenStore:
    """One Key Vault secret holding the JSON token set; writes only when it changed."""

    CONTENT_TYPE = "application/json"

    def __init__(
        self,
        vault_url: str,
        secret_name: str,
        credential: TokenCredential | None = None,
        client: SecretClient | None = None,
    ) -> None:
        self.vault_url = vault_url.rstrip("/")
        self.secret_name = secret_name
        self._credential = credential
        self._client = client
        # The last set known to be in the vault: saving it again would only add a version.
        self._last: TokenSet | None = None

    def describe(self) -> str:
        return f"Key Vault secret {self.secret_name!r} in {self.vault_url}"

    def __repr__(self) -> str:
        return f"KeyVaultTokenStore({self.vault_url!r}, {self.secret_name!r})"

    @property
    def client(self) -> SecretClient:
        if self._client is None:
            self._client = make_secret_client(self.vault_url, self._credential)
        return self._client

    def load(self) -> TokenSet | None:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        try:
            secret = self.client.get_secret(self.secret_name)
        except ResourceNotFoundError:
            self._last = None
            return None
        except AzureError as exc:
            raise keyvault_error(exc, "Get", self.secret_name, self.vault_url) from None
        if secret.value is None:
            raise TokenStoreError(f"{self.describe()} has no value")
        tokens = TokenSet.from_json(secret.value.encode("utf-8"), source=self.describe())
        self._last = tokens
        return tokens

    def save(self, tokens: TokenSet) -> None:
        from azure.core.exceptions import AzureError

        if tokens == self._last:
            logger.debug("token set %s unchanged: no new secret version", tokens.fingerprint())
            return
        try:
            self.client.set_secret(
                self.secret_name, tokens.to_json().decode("utf-8"), content_type=self.CONTENT_TYPE
            )
        except AzureError as exc:
            raise keyvault_error(exc, "Set", self.secret_name, self.vault_url) from None
        self._last = tokens


def read_secret(
    vault_url: str,
    name: str,
    credential: TokenCredential | None = None,
    client: SecretClient | None = None,
) -> str:
    """One secret's value (e.g. the Xero client secret kept in Key Vault)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    client = client if client is not None else make_secret_client(vault_url, credential)
    try:
        secret = client.get_secret(name)
    except ResourceNotFoundError:
        raise KeyVaultAccessError(
            f"secret {name!r} not found in {vault_url}: create it or fix the name"
        ) from None
    except AzureError as exc:
        raise keyvault_error(exc, "Get", name, vault_url) from None
    if not secret.value:
        raise KeyVaultAccessError(f"secret {name!r} in {vault_url} is empty")
    return secret.value


# -- store URIs ----------------------------------------------------------------------
_SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")


@dataclass(frozen=True)
class StoreLocation:
    kind: Literal["file", "keyvault"]
    path: Path | None = None
    vault_url: str | None = None
    secret_name: str | None = None

    def describe(self) -> str:
        if self.kind == "file":
            return f"file {self.path}"
        return f"Key Vault secret {self.secret_name!r} in {self.vault_url}"


def parse_store_uri(uri: str) -> StoreLocation:
    """`file:PATH` or `keyvault:https://NAME.vault.azure.net/SECRET` → StoreLocation."""
    usage = (
        "expected `file:PATH` or `keyvault:https://NAME.vault.azure.net/SECRET-NAME` "
        "(OAUTH_ETL_TOKEN_STORE)"
    )
    text = uri.strip()
    scheme, sep, rest = text.partition(":")
    if not sep or scheme.lower() not in ("file", "keyvault"):
        raise ValueError(f"token store {text!r} not understood: {usage}")
    if scheme.lower() == "file":
        if rest.startswith("//"):
            rest = urlsplit(text).path  # file:///abs/path
        if not rest:
            raise ValueError(f"token store {text!r} has no path: {usage}")
        return StoreLocation("file", path=Path(rest).expanduser())
    parts = urlsplit(rest)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"token store {text!r}: the vault URL must be https://…: {usage}")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"token store {text!r}: unexpected query or credentials in the URL")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) != 1:
        raise ValueError(f"token store {text!r}: give exactly one secret name after the vault URL")
    name = segments[0]
    if not _SECRET_NAME.match(name):
        raise ValueError(
            f"token store {text!r}: secret name {name!r} may hold only letters, digits and "
            "dashes (1-127)"
        )
    return StoreLocation("keyvault", vault_url=f"https://{parts.netloc}", secret_name=name)


def open_store(
    location: StoreLocation | str, credential: TokenCredential | None = None
) -> FileTokenStore | KeyVaultTokenStore:
    """Build the store a location (or URI) names."""
    if isinstance(location, str):
        location = parse_store_uri(location)
    if location.kind == "file":
        assert location.path is not None
        return FileTokenStore(location.path)
    assert location.vault_url is not None and location.secret_name is not None
    return KeyVaultTokenStore(location.vault_url, location.secret_name, credential)

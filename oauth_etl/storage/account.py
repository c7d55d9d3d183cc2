"""Which storage account, how to reach it, and how its failures read.

`make_blob_service_client` is the one place a `BlobServiceClient` is built: connection
string, account URL + SAS, or account URL + `DefaultAzureCredential`. There is no default
account. Every client gets a bounded retry policy and socket timeouts.
`storage_errors` is the one place Azure SDK exceptions become `oauth_etl.storage` errors;
writer, reader, IO manager, resource and lease lock all use it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobClient, BlobServiceClient, ContainerClient, ExponentialRetry

from oauth_etl.storage.errors import (
    ContainerMissing,
    StorageAuthError,
    StorageError,
    StorageUnreachable,
)

DEFAULT_CONNECTION_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_RETRY_TOTAL = 3
DEFAULT_RETRY_BACKOFF = 0.25  # first retry after ~0.5 s, then ~1 s, ~2 s
DEFAULT_RETRY_BACKOFF_MAX = 8.0


class BoundedExponentialRetry(ExponentialRetry):
    """The SDK's storage retry (it knows which requests are safe to repeat), with sub-second,
    capped, jittered backoff: the SDK default waits 15 s and more between attempts."""

    def __init__(self, *, retry_total: int, backoff: float, backoff_max: float) -> None:
        super().__init__(retry_total=retry_total, random_jitter_range=0)
        self._backoff = backoff
        self._backoff_max = backoff_max

    def get_backoff_time(self, settings: dict[str, Any]) -> float:
        count = int(settings.get("count", 0))
        delay = min(self._backoff_max, self._backoff * 2.0 ** min(count, 16))
        return float(delay * random.uniform(0.8, 1.2))


def make_blob_service_client(
    *,
    connection_string: str | None = None,
    account_url: str | None = None,
    sas_token: str | None = None,
    credential: Any = None,
    connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    retry_total: int = DEFAULT_RETRY_TOTAL,
    retry_backoff: float = DEFAULT_RETRY_BACKOFF,
) -> BlobServiceClient:
    """A `BlobServiceClient` for one of: a connection string; an account URL with a SAS token,
    an explicit credential, or `DefaultAzureCredential`. No network call is made here."""
    connection_string = connection_string or None
    account_url = account_url or None
    sas_token = (sas_token or "").lstrip("?") or None
    if connection_string and account_url:
        raise ValueError("give either connection_string or account_url, not both")
    if not connection_string and not account_url:
        raise ValueError("no storage account: give a connection string or an account URL")
    if sas_token and credential is not None:
        raise ValueError("give either sas_token or credential, not both")
    options: dict[str, Any] = {
        "retry_policy": BoundedExponentialRetry(
            retry_total=retry_total, backoff=retry_backoff, backoff_max=DEFAULT_RETRY_BACKOFF_MAX
        ),
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout,
    }
    if connection_string is not None:
        try:
            return BlobServiceClient.from_connection_string(
                connection_string,
                credential=sas_token or credential,
                **options,
            )
        except ValueError:
            # The SDK's message is safe, but re-raise without the string in any traceback.
            raise StorageError(
                "the storage connection string is malformed: expected "
                "'DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;"
                "EndpointSuffix=core.windows.net' or 'UseDevelopmentStorage=true'"
            ) from None
    assert account_url is not None
    if not account_url.startswith(("https://", "http://")):
        raise ValueError(
            f"account_url must start with https:// (got {safe_url(account_url)!r}); "
            "e.g. https://ACCOUNT.blob.core.windows.net"
        )
    if sas_token:
        return BlobServiceClient(account_url, credential=sas_token, **options)
    if credential is None:
        # Imported lazily: azure.identity is heavy and unused with keys, SAS and Azurite.
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    return BlobServiceClient(account_url, credential=credential, **options)


_SECRET_PARAM = re.compile(
    r"(?i)\b(sig|signature|accountkey|sharedaccesssignature|access_token)=[^&;\s'\"<>]+"
)


def redact(text: str) -> str:
    """Remove SAS signatures and keys from free text (e.g. a transport error quoting a URL)."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}=<redacted>", text)


def safe_url(url: str) -> str:
    """A URL without query string, fragment or user info: never carries a SAS."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def account_url_of(client: BlobServiceClient | ContainerClient | BlobClient) -> str:
    """The account endpoint of a client, without SAS (Azurite: path-style, Azure: host)."""
    parts = urlsplit(safe_url(client.url))
    segments = parts.path.rstrip("/").split("/")
    if isinstance(client, ContainerClient):
        segments = segments[:-1]
    elif isinstance(client, BlobClient):
        segments = segments[: -(client.blob_name.count("/") + 2)]
    return urlunsplit((parts.scheme, parts.netloc, "/".join(segments), "", ""))


def describe_account(client: BlobServiceClient | ContainerClient | BlobClient) -> str:
    """A safe description: account name and endpoint, never a key or SAS."""
    return f"storage account '{client.account_name}' at {account_url_of(client)}"


def map_azure_error(
    exc: AzureError, *, account: str, container: str | None = None, blob: str | None = None
) -> StorageError:
    """Translate an Azure SDK error into this package's hierarchy, with a safe message."""
    where = account + (f", container '{container}'" if container else "")
    if blob:
        where += f", blob '{blob}'"
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    code = getattr(exc, "error_code", None) or (
        getattr(response, "headers", {}).get("x-ms-error-code") if response is not None else None
    )
    detail = f"HTTP {status}, {code}" if status else type(exc).__name__
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return StorageAuthError(
            f"{where} refused the credential ({detail}): check the account key or connection "
            "string, the SAS token's expiry and permissions, or the identity's role assignment "
            "(Storage Blob Data Contributor)"
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        reason = redact(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return StorageUnreachable(
            f"{account} did not answer ({type(exc).__name__}: {reason[:300]}): check the account "
            "URL and the network; for local work start Azurite (`make deps`, `npx azurite-blob`)"
        )
    if isinstance(exc, ResourceNotFoundError) and code == "ContainerNotFound":
        return ContainerMissing(
            f"container '{container or '?'}' does not exist in {account}: create it, or let the "
            "resource create it (create_container=True) with a credential allowed to"
        )
    return StorageError(f"storage request failed at {where} ({detail})")


@contextmanager
def storage_errors(
    *, account: str, container: str | None = None, blob: str | None = None
) -> Iterator[None]:
    """Raise Azure SDK errors from the block as `StorageError`s.

    The SDK error is not chained: its text (and its own causes) may quote a request URL
    carrying a SAS. The mapped message keeps what matters: status, error code, where.
    """
    try:
        yield
    except StorageError:
        raise
    except AzureError as exc:
        raise map_azure_error(exc, account=account, container=container, blob=blob) from None


@contextmanager
def container_errors(container: ContainerClient, blob: str | None = None) -> Iterator[None]:
    """`storage_errors` for operations on one container (and optionally one blob in it)."""
    with storage_errors(
        account=describe_account(container), container=container.container_name, blob=blob
    ):
        yield

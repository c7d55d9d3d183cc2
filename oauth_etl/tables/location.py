"""Where the tables live and how delta-rs reaches the storage account.

By default beside the landed batches: `az://<container>/<prefix>tables/xero/<table>`. The
credentials are the landing account's, translated for delta-rs (object_store's Azure
options): a connection string gives `account_name` + `account_key` (or `sas_token`) and,
when it names a `BlobEndpoint` (Azurite, sovereign clouds), `azure_storage_endpoint` with
`allow_http` for plain HTTP; an account URL with a SAS gives `sas_token`; an account URL
alone gives a `bearer_token` from `DefaultAzureCredential`, fetched afresh for every
operation so a long merge never outlives its token.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from oauth_etl.storage.connection_string import connection_string_pairs
from oauth_etl.storage.manifest import normalize_prefix

SOURCE = "xero"
STORAGE_SCOPE = "https://storage.azure.com/.default"  # Azure Storage's OAuth audience

Options = Mapping[str, str]


def default_root(container: str, prefix: str = "") -> str:
    """`az://<container>/<prefix>tables/xero`."""
    return f"az://{container}/{normalize_prefix(prefix)}tables/{SOURCE}"


def _connection_string_options(connection_string: str) -> dict[str, str]:
    parts = connection_string_pairs(connection_string) or {}
    if parts.get("usedevelopmentstorage", "").lower() == "true":
        raise ValueError(
            "UseDevelopmentStorage=true names no endpoint: give the emulator's full "
            "connection string (AccountName, AccountKey, BlobEndpoint)"
        )
    name = parts.get("accountname")
    if not name:
        raise ValueError("the storage connection string names no AccountName")
    options = {"account_name": name}
    if parts.get("accountkey"):
        options["account_key"] = parts["accountkey"]
    elif parts.get("sharedaccesssignature"):
        options["sas_token"] = parts["sharedaccesssignature"].lstrip("?")
    endpoint = parts.get("blobendpoint")
    if endpoint:
        options["azure_storage_endpoint"] = endpoint.rstrip("/")
        if endpoint.startswith("http://"):
            options["allow_http"] = "true"
    return options


def _account_name(account_url: str) -> str:
    parsed = urlsplit(account_url)
    host = parsed.hostname or ""
    if "." in host and not host.replace(".", "").isdigit():
        return host.split(".", 1)[0]  # ACCOUNT.blob.core.windows.net
    # http://127.0.0.1:10000/devstoreaccount1: the emulator puts the account in the path
    return parsed.path.strip("/").split("/", 1)[0]


def storage_options_provider(
    *,
    connection_string: str | None = None,
    account_url: str | None = None,
    sas_token: str | None = None,
    credential: object | None = None,
) -> Callable[[], dict[str, str]]:
    """A function returning delta-rs storage options, for the same choices as the landing
    account (`oauth_etl.storage.account.make_blob_service_client`)."""
    if connection_string:
        static = _connection_string_options(connection_string)
        return lambda: dict(static)
    if not account_url:
        raise ValueError(
            "no storage account: set a connection string or an account URL for the tables"
        )
    base = {
        "account_name": _account_name(account_url),
        "azure_storage_endpoint": account_url.rstrip("/"),
    }
    if account_url.startswith("http://"):
        base["allow_http"] = "true"
    if sas_token:
        with_sas = {**base, "sas_token": sas_token.lstrip("?")}
        return lambda: dict(with_sas)
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    get_token = credential.get_token  # type: ignore[attr-defined]

    def with_token() -> dict[str, str]:
        return {**base, "bearer_token": str(get_token(STORAGE_SCOPE).token)}

    return with_token


def with_endpoint(
    options: Callable[[], dict[str, str]], endpoint_url: str
) -> Callable[[], dict[str, str]]:
    """The same credentials, sent to another blob endpoint."""
    endpoint = {"azure_storage_endpoint": endpoint_url.rstrip("/")}
    if endpoint_url.startswith("http://"):
        endpoint["allow_http"] = "true"
    return lambda: {**options(), **endpoint}


@dataclass(frozen=True)
class TableStore:
    """The root every table lives under, and how to open it. Secrets stay out of repr."""

    root: str
    options: Callable[[], dict[str, str]] = field(repr=False, default=dict)

    @classmethod
    def for_account(
        cls,
        *,
        container: str,
        prefix: str = "",
        connection_string: str | None = None,
        account_url: str | None = None,
        sas_token: str | None = None,
        credential: object | None = None,
        root: str | None = None,
        endpoint_url: str | None = None,
    ) -> TableStore:
        """Tables of the landing account (the storage resource's settings); `root`
        overrides the default location, `endpoint_url` the blob endpoint delta-rs calls
        (the local Azurite relay: see oauth_etl_dev/azurite_relay.py)."""
        options = storage_options_provider(
            connection_string=connection_string,
            account_url=account_url,
            sas_token=sas_token,
            credential=credential,
        )
        if endpoint_url:
            options = with_endpoint(options, endpoint_url)
        return cls(root or default_root(container, prefix), options)

    def uri(self, table: str) -> str:
        return f"{self.root.rstrip('/')}/{table}"

    def storage_options(self) -> dict[str, str]:
        return self.options()

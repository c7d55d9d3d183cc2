"""The shape of a setting's text, checked before anything is opened: a URL, a storage
connection string, a Delta table root. Each function returns what is wrong (naming the
setting, never quoting a value that may be secret) or None.
"""

from __future__ import annotations

import base64
import binascii
from typing import Literal
from urllib.parse import urlsplit

from oauth_etl.storage.connection_string import connection_string_pairs

# The keys a storage connection string may hold (learn.microsoft.com/azure/storage/common/
# storage-configure-connection-string).
CONNECTION_KEYS = frozenset(
    {
        "defaultendpointsprotocol",
        "accountname",
        "accountkey",
        "endpointsuffix",
        "blobendpoint",
        "queueendpoint",
        "tableendpoint",
        "fileendpoint",
        "sharedaccesssignature",
        "usedevelopmentstorage",
        "developmentstorageproxyuri",
    }
)
_ENDPOINT_KEYS = {
    "blobendpoint": "BlobEndpoint",
    "queueendpoint": "QueueEndpoint",
    "tableendpoint": "TableEndpoint",
    "fileendpoint": "FileEndpoint",
    "developmentstorageproxyuri": "DevelopmentStorageProxyUri",
}
# The roots the tables are opened at here (oauth_etl.tables.location: the landing
# account's az:// default, an abfs[s]:// Data Lake path, or a local directory).
TABLE_SCHEMES = ("az://", "abfs://", "abfss://", "file://")


def url_shape(name: str, url: str) -> str | None:
    """Why `url` (of setting `name`) is not an http(s) URL with a host and a valid port."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} is not a URL (expected https://HOST)"
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        return f"{name} has a port that is not a number from 1 to 65535"
    return None


def connection_string_problem(
    name: str, text: str, service: Literal["blob", "queue"] = "blob"
) -> str | None:
    """The syntax of a storage connection string (of setting `name`) for the `service` it
    must reach: known keys, an account key that is base64, a protocol, endpoints that are
    URLs, a credential and an endpoint. Never quotes it: it holds the account key."""
    pairs = connection_string_pairs(text)
    if pairs is None:
        return f"{name} is not a connection string (Key=Value;... pairs)"
    if any(key not in CONNECTION_KEYS for key in pairs):
        # The key is not quoted: a pasted key alone looks like `AbC...==`, a "key" too.
        return f"{name} has an unknown key (known: AccountName, AccountKey, BlobEndpoint, ...)"
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        return None
    protocol = pairs.get("defaultendpointsprotocol")
    if protocol is not None and protocol.lower() not in ("http", "https"):
        return f"{name}'s DefaultEndpointsProtocol is neither http nor https"
    for key, label in _ENDPOINT_KEYS.items():
        if key in pairs and (found := url_shape(f"{name}'s {label}", pairs[key])):
            return found
    if "accountkey" in pairs:
        try:
            decoded = base64.b64decode(pairs["accountkey"], validate=True)
        except (binascii.Error, ValueError):
            decoded = b""
        if not decoded:
            return f"{name}'s AccountKey is not base64 (a key copied only in part?)"
        if "accountname" not in pairs:
            return f"{name} has an AccountKey without AccountName (the key signs for it)"
    elif "sharedaccesssignature" not in pairs:
        return f"{name} holds no credential (AccountKey=... or SharedAccessSignature=...)"
    endpoint = f"{service}endpoint"
    if "accountname" not in pairs and endpoint not in pairs:
        label = _ENDPOINT_KEYS[endpoint]
        return f"{name} names no account (AccountName=... or {label}=...)"
    return None


def table_root_problem(name: str, root: str) -> str | None:
    """A Delta table root delta-rs is used with here: az://CONTAINER/..., abfs[s]://...,
    file://PATH or a local path."""
    text = root.strip()
    if "://" not in text:
        return None  # a local directory
    scheme = text.split("://", 1)[0].lower() + "://"
    if scheme not in TABLE_SCHEMES:
        return f"{name} has a scheme the tables cannot use (az://, abfs://, abfss://, file://)"
    if scheme != "file://" and not text.split("://", 1)[1].split("/", 1)[0]:
        return f"{name} names no container after {scheme}"
    return None

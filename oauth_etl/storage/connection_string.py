"""A storage connection string read without the Azure SDK: its `Key=Value;...` pairs,
the endpoint it names for a service and the kind of credential it holds. Never its key:
nothing here returns or quotes the AccountKey or the SharedAccessSignature.
(learn.microsoft.com/azure/storage/common/storage-configure-connection-string)
"""

from __future__ import annotations

from typing import Literal

Service = Literal["blob", "queue"]


def connection_string_pairs(text: str) -> dict[str, str] | None:
    """`Key=Value;...` as {lowercased key: value}; None when it is not that shape."""
    pairs: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            return None
        pairs[key.strip().lower()] = value.strip()
    return pairs or None


def account_endpoint(connection_string: str, service: Service) -> str:
    """The `service` endpoint a connection string names ("" when it names none)."""
    pairs = connection_string_pairs(connection_string) or {}
    if pairs.get(f"{service}endpoint"):
        return pairs[f"{service}endpoint"]
    if pairs.get("usedevelopmentstorage", "").lower() == "true":
        port = 10000 if service == "blob" else 10001  # Azurite's and the emulator's ports
        return f"http://127.0.0.1:{port}/devstoreaccount1"
    account = pairs.get("accountname", "")
    protocol = pairs.get("defaultendpointsprotocol", "https")
    suffix = pairs.get("endpointsuffix", "core.windows.net")
    return f"{protocol}://{account}.{service}.{suffix}" if account else ""


def credential_kind(connection_string: str) -> Literal["key", "sas"]:
    """Which credential the string signs with: an account key, else a SAS."""
    pairs = connection_string_pairs(connection_string) or {}
    return "key" if pairs.get("accountkey") else "sas"

"""The doctor's first check: the environment contract parsed and validated before any
network call (variables named, values never shown: a connection string holds a key)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from oauth_etl.app import contract
from oauth_etl.app.contract import OAuthSettings, StorageSettings
from oauth_etl.app.sets import parse_names, store_for
from oauth_etl.doctor.result import CheckResult
from oauth_etl.oauth.locks import keyvault_lock_location
from oauth_etl.oauth.rescue import parse_rescue_location
from oauth_etl.oauth.stores import parse_store_uri


def _name(section: contract.Section, field: str) -> str:
    """The variable that sets a settings field (the contract names each once)."""
    return contract.variable_for(section, field).name


CLIENT_ID_VAR = _name("oauth", "client_id")
CLIENT_ID_SECRET_NAME_VAR = _name("oauth", "client_id_secret_name")
VAULT_URL_VAR = _name("oauth", "credentials_vault_url")
TOKEN_STORE_VAR = _name("oauth", "token_store")
REDIRECT_URI_VAR = _name("oauth", "redirect_uri")
RESCUE_LOCATION_VAR = _name("oauth", "rescue_location")
TOKEN_LOCK_VAR = _name("oauth", "token_lock")
CONNECTIONS_VAR = _name("oauth", "connections")
LOGIN_URL_VAR, IDENTITY_URL_VAR, API_URL_VAR = (
    _name("oauth", f) for f in ("login_url", "identity_url", "api_url")
)
URL_VARS = (LOGIN_URL_VAR, IDENTITY_URL_VAR, API_URL_VAR)
CONNECTION_STRING_VAR = _name("storage", "connection_string")
ACCOUNT_URL_VAR = _name("storage", "account_url")
CONTAINER_VAR = _name("storage", "container")
# Container names: 3-63 lowercase letters, digits and single dashes (Azure's naming rules:
# learn.microsoft.com/rest/api/storageservices, "Naming and referencing containers").
_CONTAINER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
# The keys a storage connection string may hold (learn.microsoft.com/azure/storage/common/
# storage-configure-connection-string).
_CONNECTION_KEYS = frozenset(
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


def url_problem(name: str, url: str) -> str | None:
    """Why `url` (of variable `name`) cannot be used: not a URL, or plain http off loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{name} is not a URL (expected https://HOST)"
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
        return f"{name} must be https:// (http only for localhost)"
    try:
        parts.port  # noqa: B018  (a malformed port raises here)
    except ValueError:
        return f"{name} has a port that is not a number from 1 to 65535"
    return None


def connection_string_problem(text: str) -> str | None:
    """The syntax of a storage connection string: `Key=Value;...` with known keys and an
    account (never quoted: it holds the account key)."""
    pairs = [part for part in text.strip().strip(";").split(";") if part.strip()]
    keys: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            return f"{CONNECTION_STRING_VAR} is not a connection string (Key=Value;... pairs)"
        if key.strip().lower() not in _CONNECTION_KEYS:
            return f"{CONNECTION_STRING_VAR} has an unknown key {key.strip()!r}"
        keys[key.strip().lower()] = value.strip()
    if not keys:
        return f"{CONNECTION_STRING_VAR} is empty"
    if keys.get("usedevelopmentstorage", "").lower() == "true":
        return None
    if "accountname" not in keys and "blobendpoint" not in keys:
        return f"{CONNECTION_STRING_VAR} names no account (AccountName=... or BlobEndpoint=...)"
    if "blobendpoint" in keys:
        return url_problem(f"{CONNECTION_STRING_VAR}'s BlobEndpoint", keys["blobendpoint"])
    return None


def check_settings(environ: Mapping[str, str]) -> CheckResult:
    """The environment contract: present and well formed (values are never shown)."""

    def get(name: str) -> str:
        return environ.get(name, "").strip() if contract.is_set(name, environ) else ""

    problems: list[str] = []
    fixes: list[str] = []

    def problem(text: str, fix: str) -> None:
        problems.append(text)
        fixes.append(fix)

    try:
        oauth = contract.settings(OAuthSettings, environ)
        storage = contract.settings(StorageSettings, environ)
    except contract.ConfigError as exc:  # a malformed number names its variable
        return CheckResult("settings", "fail", str(exc), "set it to a whole number")
    if not get(CLIENT_ID_VAR) and not get(CLIENT_ID_SECRET_NAME_VAR):
        problem(
            f"{CLIENT_ID_VAR} is not set",
            f"set {CLIENT_ID_VAR} to the app's client id (developer.xero.com → My Apps → "
            "your app → Configuration)",
        )
    if get(CLIENT_ID_SECRET_NAME_VAR) and not get(VAULT_URL_VAR):
        problem(
            f"{CLIENT_ID_SECRET_NAME_VAR} is set without {VAULT_URL_VAR}",
            f"set {VAULT_URL_VAR}=https://NAME.vault.azure.net (the vault holding it)",
        )
    if get(VAULT_URL_VAR):
        found = url_problem(VAULT_URL_VAR, get(VAULT_URL_VAR))
        if found:
            problem(found, f"set {VAULT_URL_VAR}=https://NAME.vault.azure.net")
    store = oauth.token_store
    further: tuple[str, ...] = ()
    try:
        location = parse_store_uri(store)
        if location.vault_url:
            found = url_problem(TOKEN_STORE_VAR, location.vault_url)
            if found:
                raise ValueError(f"{found} after keyvault:")
    except ValueError as exc:
        problem(
            str(exc),
            f"set {TOKEN_STORE_VAR}=file:PATH or keyvault:https://NAME.vault.azure.net/SECRET",
        )
    else:
        try:
            further = parse_names(oauth.connections)
            for token_set in further:
                store_for(store, token_set)
        except contract.ConfigError as exc:
            problem(str(exc), f"list lowercase names, comma separated, in {CONNECTIONS_VAR}")
    if storage.connection_string:
        found = connection_string_problem(storage.connection_string)
        if found:
            problem(
                found,
                f"copy {CONNECTION_STRING_VAR} again from the portal (storage account → "
                "Access keys → Connection string)",
            )
    elif storage.account_url:
        found = url_problem(ACCOUNT_URL_VAR, storage.account_url)
        if found:
            problem(found, f"set {ACCOUNT_URL_VAR}=https://ACCOUNT.blob.core.windows.net")
    else:
        problem(
            "no storage account configured",
            f"set {ACCOUNT_URL_VAR}=https://ACCOUNT.blob.core.windows.net (managed "
            f"identity) or {CONNECTION_STRING_VAR}",
        )
    container = storage.container
    shape = 3 <= len(container) <= 63 and set(container) <= _CONTAINER_CHARS
    if not shape or container.startswith("-") or container.endswith("-") or "--" in container:
        problem(
            f"{CONTAINER_VAR}={container!r} is not a valid container name",
            f"set {CONTAINER_VAR} to 3-63 lowercase letters, digits or single dashes",
        )
    for name in URL_VARS:
        found = url_problem(name, get(name)) if get(name) else None
        if found:
            problem(found, f"unset {name} to use Xero, or point it at https://HOST")
    redirect = get(REDIRECT_URI_VAR)
    if redirect and (url_problem(REDIRECT_URI_VAR, redirect) or urlsplit(redirect).port is None):
        problem(
            f"{REDIRECT_URI_VAR}={redirect!r} is not a usable redirect URI",
            f"set {REDIRECT_URI_VAR} to the URI registered on the app, e.g. "
            "http://localhost:8765/callback (exact match, port included)",
        )
    for var, parse, shape_hint in (
        (RESCUE_LOCATION_VAR, parse_rescue_location, "file:DIR or blob:CONTAINER[/PREFIX]"),
        (
            TOKEN_LOCK_VAR,
            lambda text: keyvault_lock_location("https://x", "x", text),
            "CONTAINER/BLOB",
        ),
    ):
        if get(var):
            try:
                parse(get(var))
            except ValueError as exc:
                problem(str(exc), f"set {var}={shape_hint}")
    if problems:
        return CheckResult("settings", "fail", "; ".join(problems), "; ".join(fixes))
    confidential = oauth.client_secret or oauth.client_secret_secret_name
    kind = "confidential (client secret set)" if confidential else "public (PKCE)"
    sets = f" (and token sets {', '.join(further)} beside it)" if further else ""
    return CheckResult(
        "settings", "ok", f"client {kind}, token store {store}{sets}, container {container!r}"
    )

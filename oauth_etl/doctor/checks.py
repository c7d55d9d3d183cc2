"""The checks of `oauth-etl doctor`, one function per link of the chain.

Each check takes already-built objects (or plain values), talks to the real service
(or the sandbox and Azurite), and returns a `CheckResult` with the exact fix when it
fails. No Dagster here. Nothing printed may hold a secret: details quote our own
messages (which never contain one) or an exception's type and status, never a server's
text, a connection string or a token.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol
from urllib.parse import urlsplit

from oauth_etl.app import contract
from oauth_etl.app.contract import OAuthSettings, StorageSettings
from oauth_etl.app.sets import parse_names, store_for
from oauth_etl.oauth.errors import AuthorizationRequired, LockTimeout, OAuthError
from oauth_etl.oauth.locks import CrossProcessLock, keyvault_lock_location
from oauth_etl.oauth.rescue import FileRescueSink, RescueSink, parse_rescue_location
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore, TokenStore, parse_store_uri
from oauth_etl.xero.scopes import RESTRICTED_SCOPES, unreadable

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager
    from oauth_etl.xero.catalog import Endpoint


def _name(section: contract.Section, field: str) -> str:
    """The variable that sets a settings field (the contract names each once)."""
    return contract.variable_for(section, field).name


CLIENT_ID_VAR = _name("oauth", "client_id")
CLIENT_SECRET_VAR = _name("oauth", "client_secret")
CLIENT_ID_SECRET_NAME_VAR = _name("oauth", "client_id_secret_name")
TOKEN_STORE_VAR = _name("oauth", "token_store")
REDIRECT_URI_VAR = _name("oauth", "redirect_uri")
RESCUE_LOCATION_VAR = _name("oauth", "rescue_location")
TOKEN_LOCK_VAR = _name("oauth", "token_lock")
CONNECTIONS_VAR = _name("oauth", "connections")
URL_VARS = tuple(_name("oauth", f) for f in ("login_url", "identity_url", "api_url"))
CONNECTION_STRING_VAR = _name("storage", "connection_string")
ACCOUNT_URL_VAR = _name("storage", "account_url")
CONTAINER_VAR = _name("storage", "container")

Status = Literal["ok", "warn", "fail"]
WARN_DAYS_LEFT = 14.0  # the weekly keep-alive should keep a refresh token far younger
_CONTAINER = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""


def safe_text(exc: BaseException) -> str:
    """An exception as text that cannot carry a secret."""
    if isinstance(exc, OAuthError | ValueError):
        return str(exc)  # our messages: fingerprints, names and URLs only
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    extra = ", ".join(str(x) for x in (status, code) if x)
    return f"{type(exc).__name__}" + (f" ({extra})" if extra else "")


# -- 1. settings --------------------------------------------------------------------------
def _url_problem(name: str, url: str) -> str | None:
    parts = urlsplit(url)
    loopback = parts.hostname in ("localhost", "127.0.0.1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return None
    return f"{name}={url!r} must be https:// (http only for localhost)"


def check_settings(environ: Mapping[str, str]) -> CheckResult:
    """The environment contract: present and well formed (values are never shown)."""

    def get(name: str) -> str:
        return environ.get(name, "").strip() if contract.is_set(name, environ) else ""

    problems: list[str] = []
    fixes: list[str] = []
    try:
        oauth = contract.settings(OAuthSettings, environ)
        storage = contract.settings(StorageSettings, environ)
    except contract.ConfigError as exc:  # a malformed number names its variable
        return CheckResult("settings", "fail", str(exc), "set it to a whole number")
    if not get(CLIENT_ID_VAR) and not get(CLIENT_ID_SECRET_NAME_VAR):
        problems.append(f"{CLIENT_ID_VAR} is not set")
        fixes.append(
            f"set {CLIENT_ID_VAR} to the app's client id (developer.xero.com → My Apps → "
            "your app → Configuration)"
        )
    store = oauth.token_store
    further: tuple[str, ...] = ()
    try:
        parse_store_uri(store)
    except ValueError as exc:
        problems.append(str(exc))
        fixes.append(f"fix {TOKEN_STORE_VAR}")
    else:
        try:
            further = parse_names(oauth.connections)
            for token_set in further:
                store_for(store, token_set)
        except contract.ConfigError as exc:
            problems.append(str(exc))
            fixes.append(f"fix {CONNECTIONS_VAR}")
    if not (storage.connection_string or storage.account_url):
        problems.append("no storage account configured")
        fixes.append(
            f"set {ACCOUNT_URL_VAR}=https://ACCOUNT.blob.core.windows.net (managed "
            f"identity) or {CONNECTION_STRING_VAR}"
        )
    container = storage.container
    if not _CONTAINER.match(container):
        problems.append(f"{CONTAINER_VAR}={container!r} is not a valid container name")
        fixes.append(f"set {CONTAINER_VAR} to 3-63 lowercase letters, digits or single dashes")
    for name in URL_VARS:
        problem = _url_problem(name, get(name)) if get(name) else None
        if problem:
            problems.append(problem)
            fixes.append(f"unset {name} to use Xero, or point it at https")
    redirect = get(REDIRECT_URI_VAR)
    if redirect and (_url_problem(REDIRECT_URI_VAR, redirect) or urlsplit(redirect).port is None):
        problems.append(f"{REDIRECT_URI_VAR}={redirect!r} is not a usable redirect URI")
        fixes.append(
            f"set {REDIRECT_URI_VAR} to the URI registered on the app, e.g. "
            "http://localhost:8765/callback (exact match, port included)"
        )
    for var, parse in (
        (RESCUE_LOCATION_VAR, parse_rescue_location),
        (TOKEN_LOCK_VAR, lambda text: keyvault_lock_location("https://x", "x", text)),
    ):
        if get(var):
            try:
                parse(get(var))
            except ValueError as exc:
                problems.append(str(exc))
                fixes.append(f"fix {var}")
    if problems:
        return CheckResult("settings", "fail", "; ".join(problems), "; ".join(fixes))
    confidential = oauth.client_secret or oauth.client_secret_secret_name
    kind = "confidential (client secret set)" if confidential else "public (PKCE)"
    sets = f" (and token sets {', '.join(further)} beside it)" if further else ""
    return CheckResult(
        "settings", "ok", f"client {kind}, token store {store}{sets}, container {container!r}"
    )


# -- 2. token store -----------------------------------------------------------------------
_KV_FIX = (
    "grant the identity the role 'Key Vault Secrets Officer' on the vault (Azure RBAC) or "
    "Get and Set secret permissions (access policy); locally, `az login` first"
)


def check_token_store(store: TokenStore, lock: CrossProcessLock | None = None) -> CheckResult:
    """Readable and writable, without changing the stored token set."""
    name = "token store"
    try:
        tokens = store.load()
    except Exception as exc:
        fix = _KV_FIX if isinstance(store, KeyVaultTokenStore) else "see the message above"
        if isinstance(store, FileTokenStore):
            fix = (
                f"run `chmod 600 {store.path}`"
                if "readable by other users" in str(exc)
                else f"check {TOKEN_STORE_VAR} and this user's access to {store.path}"
            )
        return CheckResult(name, "fail", f"cannot read {store.describe()}: {safe_text(exc)}", fix)
    if isinstance(store, FileTokenStore):
        directory = store.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, probe = tempfile.mkstemp(dir=directory, prefix=".doctor-", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return CheckResult(
                name,
                "fail",
                f"cannot write in {directory}: {exc.strerror}",
                f"give this user write access to {directory} (the store is replaced atomically "
                f"there), or point {TOKEN_STORE_VAR} elsewhere",
            )
        return CheckResult(name, "ok", f"{store.describe()} readable and writable")
    if isinstance(store, KeyVaultTokenStore):
        return _check_vault_set(store, lock, present=tokens is not None)
    return CheckResult(name, "ok", f"{store.describe()} readable")


def _check_vault_set(
    store: KeyVaultTokenStore, lock: CrossProcessLock | None, *, present: bool
) -> CheckResult:
    """Set permission: write the current value again as a new version, under the lock
    (a refresh in between would otherwise be overwritten by the older set)."""
    name = "token store"
    if not present:
        return CheckResult(
            name,
            "warn",
            f"Get works on {store.describe()}; nothing stored yet, so Set is tested when "
            "`oauth-etl authorize` stores the first token set",
            "run `oauth-etl authorize`",
        )
    if lock is None:
        return CheckResult(name, "warn", "Get works; Set not tested (no lock given)", "")
    try:
        with lock.hold():
            secret = store.client.get_secret(store.secret_name)
            store.client.set_secret(
                store.secret_name, secret.value or "", content_type=store.CONTENT_TYPE
            )
    except LockTimeout as exc:
        return CheckResult(name, "warn", f"Get works; Set not tested: {exc}", "run doctor again")
    except Exception as exc:
        return CheckResult(
            name, "fail", f"Set on {store.describe()} failed: {safe_text(exc)}", _KV_FIX
        )
    return CheckResult(name, "ok", f"{store.describe()}: Get and Set allowed")


# -- 3. lock ------------------------------------------------------------------------------
def check_lock(lock: CrossProcessLock) -> CheckResult:
    try:
        with lock.hold():
            pass
    except LockTimeout as exc:
        return CheckResult(
            "lock",
            "fail",
            str(exc),
            "another process holds the refresh lock: wait for it, or stop a stuck oauth-etl "
            "process; a blob lease frees itself within its lease time (15-60 s)",
        )
    except Exception as exc:
        return CheckResult(
            "lock",
            "fail",
            f"cannot take {lock.describe()}: {safe_text(exc)}",
            "for a blob lease lock grant the identity 'Storage Blob Data Contributor' on the "
            f"lock's container (or set {TOKEN_LOCK_VAR}=CONTAINER/BLOB to one it may write)",
        )
    return CheckResult("lock", "ok", f"{lock.describe()} taken and released")


# -- 4. token set -------------------------------------------------------------------------
def check_token_set(manager: TokenManager, now: float | None = None) -> CheckResult:
    """A usable access token (refreshing if due), and the refresh token's days left."""
    name = "token set"
    status = manager.status(now)
    if not status.present:
        return CheckResult(
            name, "fail", f"no token set in {status.store}", "run `oauth-etl authorize`"
        )
    try:
        manager.access_token()
    except AuthorizationRequired as exc:
        return CheckResult(name, "fail", exc.reason, "run `oauth-etl authorize` again")
    except OAuthError as exc:
        return CheckResult(name, "fail", str(exc), "see the message; then run doctor again")
    status = manager.status(now)
    if status.grant == "client_credentials":
        return CheckResult(name, "ok", f"{status.fingerprint}: client credentials, no refresh")
    if status.refresh_days_left is None:
        return CheckResult(
            name,
            "warn",
            f"{status.fingerprint}: refresh token age unknown (imported?), so the 60-day "
            "expiry cannot be predicted",
            "run `oauth-etl token keep-alive` once: the rotated token's age is then known",
        )
    left = status.refresh_days_left
    detail = f"{status.fingerprint}: refresh token {left:.1f} days left of 60 unused"
    if left < WARN_DAYS_LEFT:
        return CheckResult(
            name,
            "warn",
            detail,
            "make sure the weekly keep-alive schedule runs (or `oauth-etl token keep-alive`)",
        )
    return CheckResult(name, "ok", detail)


# -- 5. scopes ----------------------------------------------------------------------------
def check_scopes(granted: str, endpoints: Iterable[Endpoint] | None = None) -> CheckResult:
    """The granted scopes against what the selected endpoints need."""
    missing = unreadable(granted.split(), endpoints)
    if not missing:
        return CheckResult("scopes", "ok", f"granted scopes cover the selection ({granted})")
    parts = []
    for endpoint_name, scope in sorted(missing.items()):
        why = RESTRICTED_SCOPES.get(scope)
        parts.append(f"{endpoint_name} needs {scope}" + (f" ({why})" if why else ""))
    return CheckResult(
        "scopes",
        "fail",
        "these assets will fail with 401 AuthorizationUnsuccessful: " + "; ".join(parts),
        "deselect those assets, or authorize again asking for the scopes (restricted ones "
        "only if the app has them: `oauth-etl authorize --with-journals`)",
    )


# -- 6. tenants ---------------------------------------------------------------------------
class ConnectionLike(Protocol):
    @property
    def tenant_id(self) -> str: ...
    @property
    def tenant_name(self) -> str | None: ...


def check_tenants(list_connections: Callable[[], Sequence[ConnectionLike]]) -> CheckResult:
    try:
        connections = list(list_connections())
    except Exception as exc:
        return CheckResult(
            "tenants", "fail", f"GET /connections failed: {safe_text(exc)}", f"check {URL_VARS[2]}"
        )
    if not connections:
        return CheckResult(
            "tenants",
            "fail",
            "the token reaches no organisation",
            "run `oauth-etl authorize` again and allow at least one organisation",
        )
    names = ", ".join(f"{c.tenant_name or '(no name)'} [{c.tenant_id}]" for c in connections)
    return CheckResult("tenants", "ok", f"{len(connections)}: {names}")


# -- 7. landing container ------------------------------------------------------------------
class ProbeContainer(Protocol):
    @property
    def container_name(self) -> str: ...
    def upload_blob(self, name: str, data: bytes, **kwargs: Any) -> Any: ...
    def delete_blob(self, blob: str, **kwargs: Any) -> Any: ...


def check_landing(container: ProbeContainer, prefix: str = "") -> CheckResult:
    """Write a probe blob and delete it."""
    name = "landing container"
    blob = f"{prefix.strip('/') + '/' if prefix.strip('/') else ''}_doctor/probe-{uuid.uuid4().hex}"
    where = f"container {container.container_name!r}"
    try:
        container.upload_blob(blob, b"oauth-etl doctor probe", overwrite=True, timeout=30)
        container.delete_blob(blob, timeout=30)
    except Exception as exc:
        code = str(getattr(exc, "error_code", "") or "")
        if code == "ContainerNotFound":
            fix = f"create it: `az storage container create --name {container.container_name}`"
        elif getattr(exc, "status_code", None) == 403:
            fix = f"grant the identity 'Storage Blob Data Contributor' on {where}"
        else:
            fix = "check the storage account URL or connection string and the network"
        return CheckResult(name, "fail", f"cannot write a probe to {where}: {safe_text(exc)}", fix)
    return CheckResult(name, "ok", f"probe blob written to and deleted from {where}")


# -- 8. optional: credentials in Key Vault, rescue location --------------------------------
def check_credential_secrets(
    read_secret: Callable[[str], str] | None, names: Sequence[str]
) -> CheckResult:
    name = "credential secrets"
    if read_secret is None or not names:
        return CheckResult(name, "ok", "not used (client id and secret from the environment)")
    failed = []
    for secret in names:
        try:
            read_secret(secret)
        except Exception as exc:
            failed.append(safe_text(exc))
    if failed:
        return CheckResult(name, "fail", "; ".join(failed), _KV_FIX.replace("and Set ", ""))
    return CheckResult(name, "ok", f"{len(names)} secret(s) readable: {', '.join(names)}")


def check_rescue(store: TokenStore, sink: RescueSink) -> CheckResult:
    """A Key Vault deployment needs a rescue location that outlives the process."""
    name = "rescue location"
    if isinstance(sink, FileRescueSink):
        directory = sink.directory
        with contextlib.suppress(OSError):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not os.access(directory, os.W_OK):
            return CheckResult(
                name,
                "fail",
                f"{directory} is not writable",
                f"set {RESCUE_LOCATION_VAR}=file:/a/writable/volume or blob:CONTAINER",
            )
        # Home, temp and relative paths live on the machine's (a pod's) own disk.
        local = (Path.home(), Path(tempfile.gettempdir()))
        ephemeral = not directory.is_absolute() or any(
            root == directory or root in directory.parents for root in local
        )
        if isinstance(store, KeyVaultTokenStore) and ephemeral:
            return CheckResult(
                name,
                "warn",
                f"rescue copies go to {directory} on this machine: in a pod it dies with the pod",
                f"set {RESCUE_LOCATION_VAR}=blob:CONTAINER (restricted container in the landing "
                "account) or file:/mounted/volume",
            )
    return CheckResult(name, "ok", f"rescue copies go to {sink.describe()}")

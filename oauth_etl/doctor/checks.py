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
import tempfile
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from oauth_etl.doctor.causes import Cause, Service, explain
from oauth_etl.doctor.paths import path_fix, path_problem
from oauth_etl.doctor.result import CheckResult, Status
from oauth_etl.doctor.settings import RESCUE_LOCATION_VAR, TOKEN_LOCK_VAR, TOKEN_STORE_VAR
from oauth_etl.oauth.errors import AuthorizationRequired, LockTimeout, NotATokenSet, OAuthError
from oauth_etl.oauth.locks import CrossProcessLock, FileLock
from oauth_etl.oauth.rescue import FileRescueSink, RescueSink, restore_hint
from oauth_etl.oauth.stores import FileTokenStore, KeyVaultTokenStore, TokenStore

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager

__all__ = ["CheckResult", "Status"]

WARN_DAYS_LEFT = 14.0  # the weekly keep-alive should keep a refresh token far younger


def safe_text(exc: BaseException) -> str:
    """An exception as text that cannot carry a secret: our own messages (they name
    fingerprints, variables and URLs only), else what its status says."""
    if isinstance(exc, OAuthError | ValueError):
        return str(exc)
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    if status or code:
        return "the service answered " + " ".join(str(x) for x in (status, code) if x)
    return "it failed without a reason we can quote"


def failed(name: str, cause: Cause) -> CheckResult:
    return CheckResult(name, "fail", cause.detail, cause.fix, cause.key)


def unreachable(name: str, exc: BaseException, service: Service | None) -> CheckResult | None:
    """The check's failure when `exc` is a network or permission failure of `service`."""
    cause = explain(exc, service) if service is not None else None
    return None if cause is None else failed(name, cause)


# -- 2. token store -----------------------------------------------------------------------
_KV_ROLE = (
    "the role 'Key Vault Secrets Officer' on the vault (Azure RBAC) or Get and Set secret "
    "permissions (access policy)"
)
_KV_FIX = f"grant the identity {_KV_ROLE}; locally, `az login` first"
_BLOB_ROLE = "'Storage Blob Data Contributor' on the container"


def vault_service(url: str, setting: str = TOKEN_STORE_VAR) -> Service:
    return Service("the Key Vault", url, setting, _KV_ROLE)


def check_token_store(
    store: TokenStore,
    lock: CrossProcessLock | None = None,
    vault: Service | None = None,
    rescue: RescueSink | None = None,
) -> CheckResult:
    """Readable and writable, without changing the stored token set."""
    name = "token store"
    if isinstance(store, KeyVaultTokenStore):
        vault = vault or vault_service(store.vault_url)
    try:
        tokens = store.load()
    except NotATokenSet as corrupt:
        # Readable, so access is not the problem: what it holds is.
        fix = restore_hint(rescue) if rescue is not None else NotATokenSet.DEFAULT_FIX
        detail = f"{store.describe()} is not a token set ({corrupt.problem})"
        return CheckResult(name, "fail", detail, f"it was left untouched; {fix}")
    except Exception as exc:
        if (found := unreachable(name, exc, vault)) is not None:
            return found
        fix = _KV_FIX
        os_error = next(
            (e for e in (exc, exc.__cause__, exc.__context__) if isinstance(e, OSError)), None
        )
        if isinstance(store, FileTokenStore) and os_error is not None:
            why = path_problem(store.path, os_error)
            return CheckResult(
                name,
                "fail",
                f"cannot read {store.describe()}: {why}",
                path_fix(why, store.path.parent, "the store is kept there"),
                f"path|{why}",
            )
        if isinstance(store, FileTokenStore):
            fix = (
                f"run `chmod 600 {store.path}`"
                if "readable by other users" in str(exc)
                else f"check {TOKEN_STORE_VAR} and this user's access to {store.path}"
            )
        return CheckResult(name, "fail", f"cannot read {store.describe()}: {safe_text(exc)}", fix)
    if isinstance(store, FileTokenStore):
        directory = store.path.parent
        probe_path = directory / ".doctor-probe"
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, probe = tempfile.mkstemp(dir=directory, prefix=".doctor-", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            return CheckResult(
                name,
                "fail",
                f"cannot write in {directory}: {(why := path_problem(probe_path, exc))}",
                path_fix(why, directory, "the store is replaced atomically there"),
                f"path|{why}",  # the lock beside the store meets it too: reported once
            )
        return CheckResult(name, "ok", f"{store.describe()} readable and writable")
    if isinstance(store, KeyVaultTokenStore):
        assert vault is not None
        return _check_vault_set(store, lock, vault, present=tokens is not None)
    return CheckResult(name, "ok", f"{store.describe()} readable")


def _check_vault_set(
    store: KeyVaultTokenStore, lock: CrossProcessLock | None, vault: Service, *, present: bool
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
        cause = explain(exc, vault)
        if cause is not None and cause.key:
            return failed(name, cause)
        detail = f"Set on {store.describe()} failed: " + (cause.detail if cause else safe_text(exc))
        return CheckResult(name, "fail", detail, _KV_FIX)
    return CheckResult(name, "ok", f"{store.describe()}: Get and Set allowed")


# -- 3. lock ------------------------------------------------------------------------------
def check_lock(lock: CrossProcessLock, storage: Service | None = None) -> CheckResult:
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
        if isinstance(exc, OSError) and isinstance(lock, FileLock):  # the path, not storage
            return CheckResult(
                "lock",
                "fail",
                f"cannot take {lock.describe()}: {(why := path_problem(lock.path, exc))}",
                path_fix(why, lock.path.parent, "the lock lives beside the store"),
                f"path|{why}",
            )
        cause = explain(exc, storage) if storage is not None else None
        if cause is not None and cause.key:
            return failed("lock", cause)
        return CheckResult(
            "lock",
            "fail",
            f"cannot take {lock.describe()}: " + (cause.detail if cause else safe_text(exc)),
            cause.fix
            if cause
            else f"grant the identity {_BLOB_ROLE} of the lock (or set "
            f"{TOKEN_LOCK_VAR}=CONTAINER/BLOB to one it may write)",
        )
    return CheckResult("lock", "ok", f"{lock.describe()} taken and released")


# -- 4. token set -------------------------------------------------------------------------
def check_token_set(
    manager: TokenManager, now: float | None = None, identity: Service | None = None
) -> CheckResult:
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
        if (found := unreachable(name, exc, identity)) is not None:
            return found
        return CheckResult(
            name,
            "fail",
            str(exc),
            "check XERO_CLIENT_ID and XERO_CLIENT_SECRET against the app (developer.xero.com → "
            "My Apps → Configuration), then run doctor again",
        )
    status = manager.status(now)
    if status.grant == "client_credentials":
        return CheckResult(name, "ok", f"{status.fingerprint}: client credentials, no refresh")
    if status.refresh_days_left is None:
        return CheckResult(
            name,
            "warn",
            f"{status.fingerprint}: refresh token age unknown (imported?), so the 60-day "
            "expiry cannot be predicted",
            "run `oauth-etl token refresh` once: the rotated token's age is then known",
        )
    left = status.refresh_days_left
    detail = f"{status.fingerprint}: refresh token {left:.1f} days left of 60 unused"
    if left < WARN_DAYS_LEFT:
        return CheckResult(
            name,
            "warn",
            detail,
            "make sure the weekly keep-alive schedule runs (or `oauth-etl token refresh`)",
        )
    return CheckResult(name, "ok", detail)


# -- 6. tenants ---------------------------------------------------------------------------
class ConnectionLike(Protocol):
    @property
    def tenant_id(self) -> str: ...
    @property
    def tenant_name(self) -> str | None: ...


def check_tenants(
    list_connections: Callable[[], Sequence[ConnectionLike]], api: Service | None = None
) -> CheckResult:
    try:
        connections = list(list_connections())
    except Exception as exc:
        if (found := unreachable("tenants", exc, api)) is not None:
            return found
        return CheckResult(
            "tenants",
            "fail",
            f"GET /connections failed: {safe_text(exc)}",
            "run `oauth-etl token ensure`; if it works, run doctor again in a minute",
        )
    if not connections:
        return CheckResult(
            "tenants",
            "fail",
            "the token reaches no organisation",
            "run `oauth-etl authorize --yes` again and allow at least one organisation",
        )
    names = ", ".join(f"{c.tenant_name or '(no name)'} [{c.tenant_id}]" for c in connections)
    return CheckResult("tenants", "ok", f"{len(connections)}: {names}")


# -- 7. landing container ------------------------------------------------------------------
class ProbeContainer(Protocol):
    @property
    def container_name(self) -> str: ...
    def upload_blob(self, name: str, data: bytes, **kwargs: Any) -> Any: ...
    def delete_blob(self, blob: str, **kwargs: Any) -> Any: ...


def check_landing(
    container: ProbeContainer, prefix: str = "", storage: Service | None = None
) -> CheckResult:
    """Write a probe blob and delete it."""
    name = "landing container"
    blob = f"{prefix.strip('/') + '/' if prefix.strip('/') else ''}_doctor/probe-{uuid.uuid4().hex}"
    where = f"container {container.container_name!r}"
    try:
        container.upload_blob(blob, b"oauth-etl doctor probe", overwrite=True, timeout=10)
        container.delete_blob(blob, timeout=10)
    except Exception as exc:
        code = str(getattr(exc, "error_code", "") or "")
        if code == "ContainerNotFound":
            return CheckResult(
                name,
                "fail",
                f"{where} does not exist",
                f"create it: `az storage container create --name {container.container_name}`",
            )
        if (found := unreachable(name, exc, storage)) is not None:
            return found
        if getattr(exc, "status_code", None) == 403:  # no service to say which 403 it is
            return CheckResult(
                name,
                "fail",
                f"cannot write a probe to {where}: 403 Forbidden",
                f"grant the identity {_BLOB_ROLE} {container.container_name!r}, or check the "
                "account key or SAS",
            )
        return CheckResult(
            name,
            "fail",
            f"cannot write a probe to {where}: {safe_text(exc)}",
            "check the storage account URL or connection string and the network",
        )
    return CheckResult(name, "ok", f"probe blob written to and deleted from {where}")


# -- 8. optional: credentials in Key Vault, rescue location --------------------------------
def check_credential_secrets(
    read_secret: Callable[[str], str] | None,
    names: Sequence[str],
    vault: Service | None = None,
    *,
    client_id_set: bool = True,
) -> CheckResult:
    name = "credential secrets"
    if read_secret is None or not names:
        if not client_id_set:
            return CheckResult(name, "skip", "skipped: no client id (see settings)")
        return CheckResult(name, "ok", "not used (client id and secret from the environment)")
    failures = []
    for secret in names:
        try:
            read_secret(secret)
        except Exception as exc:
            cause = explain(exc, vault) if vault is not None else None
            if cause is not None and cause.key:
                return failed(name, cause)
            failures.append(f"{secret}: " + (cause.detail if cause else safe_text(exc)))
    if failures:
        return CheckResult(
            name,
            "fail",
            "; ".join(failures),
            "create the secret in the vault, or grant the identity the role 'Key Vault "
            "Secrets User' (Get permission); locally, `az login` first",
        )
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

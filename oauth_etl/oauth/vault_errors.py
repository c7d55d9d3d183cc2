"""Key Vault's failures as messages: what was refused or unreachable, and the fix."""

from __future__ import annotations

from typing import Literal

from oauth_etl.oauth.errors import TokenStoreError

_PERMISSION_HINT = (
    "grant the identity the {op} permission on secrets (vault access policy) or, with "
    "Azure RBAC, the role 'Key Vault Secrets Officer' on the vault"
)


class KeyVaultAccessError(TokenStoreError):
    """Key Vault refused or failed a request."""


def keyvault_error(exc: Exception, op: Literal["Get", "Set"], name: str, vault: str) -> Exception:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ServiceRequestError,
        ServiceResponseError,
    )

    what = f"secret {name!r} in {vault}"
    status = getattr(exc, "status_code", None)
    code = ""
    if isinstance(exc, HttpResponseError) and exc.error is not None:
        code = f" {exc.error.code}"
    if status == 403:
        return KeyVaultAccessError(
            f"Key Vault denied {op} on {what} (403 Forbidden{code}): "
            + _PERMISSION_HINT.format(op=op)
        )
    if isinstance(exc, ClientAuthenticationError):
        return KeyVaultAccessError(
            f"could not authenticate to Key Vault for {what} ({type(exc).__name__}): sign in "
            "with `az login` locally, or give the workload a managed identity"
        )
    if status == 409 or isinstance(exc, ResourceExistsError):
        return KeyVaultAccessError(
            f"Key Vault refused {op} on {what} (409 Conflict{code}): the secret is probably "
            "deleted but recoverable; recover or purge it (`az keyvault secret recover`)"
        )
    if isinstance(exc, HttpResponseError) and status is not None:
        return KeyVaultAccessError(
            f"Key Vault {op} on {what} failed: HTTP {status}{code} (after bounded retries)"
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return KeyVaultAccessError(
            f"the Key Vault at {vault} could not be reached ({_why_unreachable(exc)}) to "
            f"{op.lower()} secret {name!r}: check the vault URL (OAUTH_ETL_TOKEN_STORE), that "
            "this machine's network or firewall lets it reach the vault (a private endpoint "
            "needs its DNS), and try again"
        )
    return KeyVaultAccessError(f"Key Vault {op} on {what} failed: {type(exc).__name__}")


def _why_unreachable(exc: Exception) -> str:
    """Refused, timed out or a name not found: from the text azure-core passes on."""
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused: nothing listens there"
    if "timed out" in text or "timeout" in text:
        return "it did not answer in time"
    if "name or service not known" in text or "nodename nor servname" in text or "resolve" in text:
        return "the host name does not resolve"
    return type(exc).__name__

"""Why a network probe failed, in words a person can act on: the URL or setting, the real
cause (connection refused, DNS, TLS, timeout, 401/403 and the role that is missing) and a
fix that applies to that cause. No exception class name, no server text (it may quote a
secret): the cause is read from the exception chain's types and status codes.

`Service` says what was probed (its URL and the setting that names it, and the role an
identity needs there); `explain` turns an exception into a `Cause`. A cause's `key`
(service and URL) lets the runner report one root cause once and skip what it blocks.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

# Every probe of doctor: one attempt, this long to connect and as long for an answer, so
# a run with every service silent ends in seconds.
PROBE_TIMEOUT = 3


@dataclass(frozen=True)
class Service:
    what: str  # "the storage account", "Xero's identity server"
    url: str  # without query (never a SAS)
    setting: str  # the variable that names it
    role: str = ""  # what an identity needs there, for 403 (Azure RBAC role)
    # How the caller proves who it is: a 403 means another fix for a key, a SAS, an identity.
    credential: Literal["", "key", "sas", "identity"] = ""
    timeout: float | None = None  # the probe's connect and read timeout (seconds), if known


@dataclass(frozen=True)
class Cause:
    detail: str
    fix: str
    key: str = ""  # "" when the failure is this check's own (not shared by others)


def safe_url(url: str) -> str:
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}" if parts.netloc else url
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        for attribute in ("inner_exception", "exc_value"):  # azure-core wraps here
            inner = getattr(current, attribute, None)
            if isinstance(inner, BaseException):
                yield from _chain(inner)
        current = current.__cause__ or current.__context__


def _status(exc: BaseException) -> int | None:
    for item in _chain(exc):
        status = getattr(item, "status_code", None)
        if isinstance(status, int):
            return status
        response = getattr(item, "response", None)
        code = getattr(response, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def _code(exc: BaseException) -> str:
    """Azure Storage's error code (`x-ms-error-code`) anywhere in the chain, or ""."""
    for item in _chain(exc):
        code = getattr(item, "error_code", None)
        if code:
            return str(getattr(code, "value", code))  # the SDK's StorageErrorCode enum
        headers = getattr(getattr(item, "response", None), "headers", None)
        if headers is not None and hasattr(headers, "get") and headers.get("x-ms-error-code"):
            return str(headers.get("x-ms-error-code"))
    return ""


def _kind(exc: BaseException) -> str:
    """refused | dns | tls | timeout | unreachable | '' (not a network failure)."""
    names = " ".join(type(e).__name__.lower() for e in _chain(exc))
    text = " ".join(str(e).lower() for e in _chain(exc))[:2000]
    if any(isinstance(e, socket.gaierror) for e in _chain(exc)) or (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "failed to resolve" in text
        or "getaddrinfo" in text
        or "temporary failure in name resolution" in text
    ):
        return "dns"
    if any(isinstance(e, ssl.SSLError) for e in _chain(exc)) or "certificate" in text:
        return "tls"
    if _status(exc) is not None:  # the service answered: not a network failure
        return ""
    if any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)) or (
        "connection refused" in text
    ):
        return "refused"
    if "timeout" in names or "timed out" in text or "timeout" in text:
        return "timeout"
    if any(n in names for n in ("connect", "servicerequest", "network")):
        return "unreachable"
    return ""


def mentions(exc: BaseException, service: Service) -> bool:
    """Does `exc` (our messages name the URL they failed on) concern `service`?"""
    netloc = urlsplit(service.url).netloc
    return bool(netloc) and any(netloc in str(e) for e in _chain(exc))


_TRANSPORT = ("unreachable", "connect", "servicerequest", "transport", "unavailable", "timeout")


def probe(url: str, timeout: float) -> str:
    """What a fresh connection to `url`'s host finds: dns | refused | timeout | tls |
    unreachable | '' (it connects): for errors whose chain no longer says why."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.getaddrinfo(host, port)
    except (socket.gaierror, UnicodeError):
        return "dns"
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            if parts.scheme == "https":
                with ssl.create_default_context().wrap_socket(raw, server_hostname=host):
                    pass
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"
    except ssl.SSLError:
        return "tls"
    except OSError:
        return "unreachable"
    return ""


def explain(exc: BaseException, service: Service, timeout: float | None = None) -> Cause | None:
    """The network or permission cause of `exc` at `service`; None when it is neither
    (the caller's own message applies). A transport failure whose chain does not say why
    is probed once more (`probe`, within `timeout`)."""
    url = safe_url(service.url)
    host = urlsplit(service.url).hostname or url
    key = f"{service.what}|{url}"
    timeout = timeout or service.timeout
    kind = _kind(exc)
    said = " ".join(f"{type(e).__name__} {e}".lower() for e in _chain(exc))[:2000]
    if kind in ("", "unreachable") and _status(exc) is None and any(n in said for n in _TRANSPORT):
        kind = probe(service.url, timeout or 3.0) or kind
    if kind == "dns":
        return Cause(
            f"{service.what} at {url}: DNS cannot resolve {host}",
            f"check the host name in {service.setting} (a typo?) and this machine's DNS",
            key,
        )
    if kind == "tls":
        return Cause(
            f"{service.what} at {url}: the TLS handshake failed (certificate not trusted or "
            "not for this host)",
            f"use the service's own https host in {service.setting}; behind a proxy that "
            "inspects TLS, give Python its CA (SSL_CERT_FILE, REQUESTS_CA_BUNDLE)",
            key,
        )
    if kind == "refused":
        return Cause(
            f"{service.what} at {url}: connection refused (nothing listens on that port)",
            f"check the port in {service.setting}, or start the service",
            key,
        )
    if kind == "timeout":
        within = f" within {timeout:g} s" if timeout else ""
        return Cause(
            f"{service.what} at {url}: did not answer{within}",
            f"check that {host} is reachable from this machine (firewall, proxy, private "
            f"endpoint) and the URL in {service.setting}",
            key,
        )
    if kind == "unreachable":
        return Cause(
            f"{service.what} at {url}: cannot connect",
            f"check the URL in {service.setting} and the network to {host}",
            key,
        )
    status = _status(exc)
    if status == 403:
        return _forbidden(service, url, _code(exc), exc)
    if status == 401:
        return Cause(
            f"{service.what} at {url}: 401 (the credential was refused)",
            f"check the credential for {service.setting} (an expired SAS or key, or `az login`)",
        )
    if status is not None and status >= 500:
        return Cause(
            f"{service.what} at {url}: the service answered {status}",
            "a fault on the service's side: run doctor again in a few minutes",
            key,
        )
    return None


def _forbidden(service: Service, url: str, code: str, exc: BaseException) -> Cause:
    """A 403, by what Azure Storage says (learn.microsoft.com/rest/api/storageservices/
    common-rest-api-error-codes): AuthenticationFailed is a signature that does not match
    (a wrong or expired key or SAS); AuthorizationFailure a request the account's network
    rules refuse; AuthorizationPermissionMismatch a credential that is valid but not
    allowed (an identity without the role, a SAS without the permission)."""
    said = f" ({code})" if code else ""
    # Read, never shown: Azurite answers a wrong key AuthorizationFailure with this text.
    unsigned = "failed to authenticate" in " ".join(str(e).lower() for e in _chain(exc))
    if code == "AuthenticationFailed" or unsigned or (not code and service.credential == "key"):
        what = "a SAS" if service.credential == "sas" else "the account key"
        return Cause(
            f"{service.what} at {url}: 403{said}, the credential was rejected (its signature "
            f"does not match: {what} is wrong or expired)",
            f"copy the account's key or connection string again into {service.setting} "
            "(storage account → Access keys), or issue a new SAS",
            f"{service.what}|{url}|rejected",
        )
    if code == "AuthorizationFailure":  # the account's firewall, not the credential
        return Cause(
            f"{service.what} at {url}: 403{said}, the account refuses requests from here",
            "allow this machine's network in the storage account's Networking settings "
            "(firewall, virtual networks), or reach it through its private endpoint",
        )
    if service.credential == "sas":
        return Cause(
            f"{service.what} at {url}: 403{said}, the SAS does not allow this",
            "issue a SAS with read, add, create, write, delete and list permissions on the "
            f"container, and set it in {service.setting}",
        )
    role = f"grant the identity {service.role}" if service.role else "grant the access"
    return Cause(
        f"{service.what} at {url}: 403 Forbidden{said} (the identity lacks a permission)",
        f"{role}; a role assignment takes a few minutes to apply",
    )

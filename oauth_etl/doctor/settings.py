"""The doctor's first check: the environment contract parsed and validated before any
network call (variables named, values never shown: a connection string holds a key)."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from oauth_etl.app import contract
from oauth_etl.app.contract import OAuthSettings
from oauth_etl.app.sets import parse_names
from oauth_etl.app.syntax import url_shape
from oauth_etl.doctor.result import CheckResult


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
# Every section a run or a check reads: each refuses its own malformed settings.
SECTIONS: tuple[contract.Section, ...] = ("oauth", "xero", "storage", "tables", "webhooks")


def url_problem(name: str, url: str) -> str | None:
    """Why `url` (of variable `name`) cannot be used: not a URL (the settings' rule), or
    plain http off loopback (doctor's: a token or key would cross the network in clear)."""
    return url_shape(name, url) or insecure(name, url)


def insecure(name: str, url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1"):
        return f"{name} must be https:// (http only for localhost)"
    return None


def refused(environ: Mapping[str, str]) -> list[contract.Problem]:
    """Every problem the settings classes find in the environment, section by section."""
    problems: list[contract.Problem] = []
    for section in SECTIONS:
        try:
            contract.settings(contract.SECTIONS[section], environ)
        except contract.SettingsError as exc:
            problems += exc.problems
    return problems


def check_settings(environ: Mapping[str, str]) -> CheckResult:
    """The environment contract: present and well formed (values are never shown). The
    settings classes' own rules first (what a run would refuse), then doctor's: what a
    run needs set, and https off this machine."""

    def get(name: str) -> str:
        return environ.get(name, "").strip() if contract.is_set(name, environ) else ""

    found = refused(environ)
    problems = [p.detail for p in found]
    fixes = [p.fix for p in found]
    malformed = {p.variable for p in found}

    def problem(text: str, fix: str) -> None:
        problems.append(text)
        fixes.append(fix)

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
    if not get(CONNECTION_STRING_VAR) and not get(ACCOUNT_URL_VAR):
        problem(
            "no storage account configured",
            f"set {ACCOUNT_URL_VAR}=https://ACCOUNT.blob.core.windows.net (managed "
            f"identity) or {CONNECTION_STRING_VAR}",
        )
    for name, shape in (
        (VAULT_URL_VAR, "https://NAME.vault.azure.net"),
        (ACCOUNT_URL_VAR, "https://ACCOUNT.blob.core.windows.net"),
        *((name, "https://HOST (or unset it to use Xero)") for name in URL_VARS),
    ):
        if name not in malformed and get(name) and (why := insecure(name, get(name))):
            problem(why, f"set {name}={shape}")
    container = get(CONTAINER_VAR) or contract.default_of("storage", "container")
    sized = 3 <= len(container) <= 63 and set(container) <= _CONTAINER_CHARS
    if not sized or container.startswith("-") or container.endswith("-") or "--" in container:
        problem(
            f"{CONTAINER_VAR}={container!r} is not a valid container name",
            f"set {CONTAINER_VAR} to 3-63 lowercase letters, digits or single dashes",
        )
    redirect = get(REDIRECT_URI_VAR)
    if redirect and (url_problem(REDIRECT_URI_VAR, redirect) or urlsplit(redirect).port is None):
        problem(
            f"{REDIRECT_URI_VAR}={redirect!r} is not a usable redirect URI",
            f"set {REDIRECT_URI_VAR} to the URI registered on the app, e.g. "
            "http://localhost:8765/callback (exact match, port included)",
        )
    if problems:
        return CheckResult("settings", "fail", "; ".join(problems), "; ".join(fixes))
    oauth = contract.settings(OAuthSettings, environ)
    further = parse_names(oauth.connections)
    confidential = oauth.client_secret or oauth.client_secret_secret_name
    kind = "confidential (client secret set)" if confidential else "public (PKCE)"
    sets = f" (and token sets {', '.join(further)} beside it)" if further else ""
    return CheckResult(
        "settings",
        "ok",
        f"client {kind}, token store {oauth.token_store}{sets}, container {container!r}",
    )

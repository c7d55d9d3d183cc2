"""Several token sets: their names, and where each one's store and lock live.

A Xero token set sees the organisations its user connected (identity spec
xero-identity.yaml, getConnections: "Retrieves the connections for this user"), so a
deployment reaching organisations of several Xero users holds one set per user. The
default set lives at OAUTH_ETL_TOKEN_STORE; each name in OAUTH_ETL_CONNECTIONS has a
set beside it, derived from that store, so one variable still says where every set
lives and no two sets can share a store, a lock or a rescue copy:

- `file:DIR/xero-token.json` -> `file:DIR/xero-token.NAME.json` (its lock file beside it);
- `keyvault:https://V.vault.azure.net/xero-token` -> `.../xero-token-NAME` (its lease
  blob derived from that secret, or `CONTAINER/BLOB.NAME` under OAUTH_ETL_TOKEN_LOCK).

Rescue copies are named by the set's own fingerprint (rescue.py), so they never collide.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import PurePath

from oauth_etl.app import contract
from oauth_etl.app.contract import ConfigError, OAuthSettings
from oauth_etl.oauth.stores import parse_store_uri

DEFAULT = "default"
VARIABLE = contract.variable_for("oauth", "connections").name
# Lowercase letters, digits and single dashes: valid in a file name, a Key Vault secret
# name (letters, digits, dashes) and a blob name alike, whatever the platform.
_NAME = re.compile(r"^(?=.{1,32}$)[a-z0-9]+(-[a-z0-9]+)*$")


def authorize_command(name: str) -> str:
    """The command that (re)authorizes the set `name`."""
    return "oauth-etl authorize" + ("" if name == DEFAULT else f" --connection {name}")


def parse_names(text: str | None) -> tuple[str, ...]:
    """The further sets' names in declared order (`a, b` -> ("a", "b")); ConfigError if bad."""
    names: list[str] = []
    for raw in (text or "").split(","):
        name = raw.strip()
        if not name:
            continue
        if name == DEFAULT:
            raise ConfigError(
                f"{VARIABLE}: {DEFAULT!r} is the set at OAUTH_ETL_TOKEN_STORE, always there: "
                "list only the further sets"
            )
        if not _NAME.match(name):
            raise ConfigError(
                f"{VARIABLE}: {name!r} is not a valid token set name: use 1-32 lowercase "
                "letters, digits and single dashes, e.g. `acme-group`"
            )
        if name in names:
            raise ConfigError(f"{VARIABLE}: {name!r} is listed twice")
        names.append(name)
    return tuple(names)


def set_names(settings: OAuthSettings) -> tuple[str, ...]:
    """Every set of the deployment: the default first, then the declared ones in order."""
    return (DEFAULT, *parse_names(settings.connections))


def store_for(token_store: str, name: str) -> str:
    """The store URI of set `name`, derived from the default set's store URI."""
    if name == DEFAULT:
        return token_store
    location = parse_store_uri(token_store)
    if location.kind == "file":
        assert location.path is not None
        rest = token_store.strip().partition(":")[2]
        # Kept as written (`~` expands later); file:///abs/path as parsed.
        path = location.path if rest.startswith("//") else PurePath(rest)
        renamed = path.with_name(f"{path.stem}.{name}{path.suffix}")
        return f"file:{renamed}"
    assert location.vault_url is not None and location.secret_name is not None
    secret = f"{location.secret_name}-{name}"
    if len(secret) > 127:  # Key Vault's limit on a secret name
        raise ConfigError(
            f"token set {name!r}: its Key Vault secret {secret!r} would exceed 127 characters: "
            "use a shorter name in OAUTH_ETL_CONNECTIONS"
        )
    return f"keyvault:{location.vault_url}/{secret}"


def lock_for(token_lock: str | None, name: str) -> str | None:
    """An explicit lease blob (OAUTH_ETL_TOKEN_LOCK) of set `name`: `BLOB.NAME` beside it."""
    if not token_lock or name == DEFAULT:
        return token_lock
    return f"{token_lock.strip().rstrip('/')}.{name}"


def settings_for(settings: OAuthSettings, name: str) -> OAuthSettings:
    """The settings of set `name`: its own store and lock, everything else shared."""
    names = set_names(settings)
    if name not in names:
        declared = ", ".join(names[1:]) or "none"
        raise ConfigError(
            f"no token set named {name!r}: add it to {VARIABLE} (declared now: {declared}), "
            f"then run `{authorize_command(name)}` as the Xero user who connected its "
            "organisations"
        )
    if name == DEFAULT:
        return settings
    return dataclasses.replace(
        settings,
        token_store=store_for(settings.token_store, name),
        token_lock=lock_for(settings.token_lock, name),
        connections=None,
    )

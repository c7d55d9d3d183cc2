"""The environment contract: every variable oauth_etl reads, what it sets and what it means.

The one configuration path. The Dagster code location binds each variable that is set to
its resource field as a `dg.EnvVar` (resolved when a run launches; the UI shows the name,
never the value), and the command line resolves the same table into the same settings
objects with `settings(...)`. Nothing here reads the environment at import time, and
nothing imports Dagster or an Azure SDK: `oauth-etl --help` stays fast.

Three modules, one import path (this one): the table of variables (`variables`), the
settings classes with every default and every rule (`settings`: the Dagster resources
take their field defaults from them, and the README's table is checked against them),
and here the reading of the environment into them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from oauth_etl.app.settings import (
    OAuthSettings,
    ScheduleSettings,
    StorageCredential,
    StorageSettings,
    TablesSettings,
    WebhookSettings,
    XeroApiSettings,
    credential_of,
)
from oauth_etl.app.variables import (
    BY_NAME,
    CONTRACT,
    ConfigError,
    Kind,
    Problem,
    Section,
    SettingsError,
    Variable,
    variable_for,
    variables,
)

__all__ = [
    "BY_NAME",
    "CONTRACT",
    "REQUIRED_UNLESS",
    "SECTIONS",
    "ConfigError",
    "Kind",
    "OAuthSettings",
    "Problem",
    "ScheduleSettings",
    "Section",
    "SettingsError",
    "StorageCredential",
    "StorageSettings",
    "TablesSettings",
    "Variable",
    "WebhookSettings",
    "XeroApiSettings",
    "default_of",
    "is_set",
    "missing",
    "settings",
    "storage_credential",
    "values",
    "variable_for",
    "variables",
]


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Set and not blank: an empty variable means "not set" (as Kubernetes often leaves it)."""
    env = os.environ if environ is None else environ
    return bool(env.get(name, "").strip())


def values(section: Section, environ: Mapping[str, str] | None = None) -> dict[str, str | int]:
    """The fields of `section` that the environment sets, converted to their kind (every
    variable that is not a whole number where one is needed, at once)."""
    env = os.environ if environ is None else environ
    found: dict[str, str | int] = {}
    problems: list[Problem] = []
    for v in variables(section):
        if not is_set(v.name, env):
            continue
        text = env[v.name].strip()
        if v.kind == "int":
            try:
                found[v.field] = int(text)
            except ValueError:
                # An int setting is never a secret: its text is quoted.
                problems.append(
                    Problem(
                        v.name,
                        f"{v.name} must be a whole number, got {text!r}",
                        f"set {v.name} to a whole number, or unset it for the default "
                        f"{default_of(section, v.field)}",
                    )
                )
        else:
            found[v.field] = text
    if problems:
        raise SettingsError(problems)
    return found


SECTIONS: dict[Section, type[Any]] = {
    "oauth": OAuthSettings,
    "xero": XeroApiSettings,
    "storage": StorageSettings,
    "tables": TablesSettings,
    "webhooks": WebhookSettings,
    "schedules": ScheduleSettings,
}
T = TypeVar("T")


def settings(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """`cls` (one of SECTIONS) filled from the environment; unset fields keep defaults."""
    section = next(name for name, found in SECTIONS.items() if found is cls)
    return cls(**values(section, environ))


def default_of(section: Section, name: str) -> Any:
    """The default of a settings field (for the resources' field defaults and the docs)."""
    for f in fields(SECTIONS[section]):
        if f.name == name:
            return None if f.default is MISSING else f.default
    raise KeyError(f"{section} has no field {name!r}")


def storage_credential(environ: Mapping[str, str] | None = None) -> StorageCredential:
    """Which landing credential the environment selects (see StorageSettings.credential).

    With none set this is `connection_string`, so that a launch fails naming
    AZURE_STORAGE_CONNECTION_STRING: there is no default account (the demo and the
    tests point at Azurite explicitly).
    """
    # Read without the settings' rules: a malformed value is refused by name when the
    # resource builds its settings, not swapped for another credential here.
    found = {
        v.field: environ_value
        for v in variables("storage")
        if (environ_value := (os.environ if environ is None else environ).get(v.name, "").strip())
    }
    chosen = credential_of(
        found.get("connection_string"), found.get("account_url"), found.get("sas_token")
    )
    return chosen or "connection_string"


# Variables that must be set unless one of the alternatives is: bound as `dg.EnvVar`
# even when unset, so that a launch without them fails naming them.
REQUIRED_UNLESS: dict[str, tuple[str, ...]] = {
    "XERO_CLIENT_ID": ("XERO_CLIENT_ID_SECRET_NAME",),
}


def missing(environ: Mapping[str, str] | None = None) -> list[str]:
    """Required variables that are not set (and have no alternative set)."""
    return [
        name
        for name, alternatives in REQUIRED_UNLESS.items()
        if not is_set(name, environ) and not any(is_set(a, environ) for a in alternatives)
    ]

"""Resource fields from the environment contract, and the settings a resource's fields make.

Every resource field that a contract variable sets takes its default and description from
the contract (`app/contract.py`); a secret one is masked in the UI and left out of reprs.
"""

# No `from __future__ import annotations`: Dagster reads the field annotations at class
# creation.

from dataclasses import fields
from typing import Any, TypeVar

from pydantic import Field, JsonValue

from oauth_etl.app import contract
from oauth_etl.app.contract import Section

SECRET: dict[str, JsonValue] = {"dagster__is_secret": True}

Settings = TypeVar("Settings")


def secret_field(description: str, **kwargs: Any) -> Any:
    """A secret config field: masked in the UI, never in a repr."""
    return Field(description=description, json_schema_extra=SECRET, repr=False, **kwargs)


def contract_field(section: Section, name: str, *, secret: bool = False) -> Any:
    """A resource field whose default and description come from the contract."""
    variable = contract.variable_for(section, name)
    description = f"{variable.meaning} ({variable.name})."
    default = contract.default_of(section, name)
    if secret:
        return secret_field(description, default=default)
    return Field(default=default, description=description)


def settings_of(resource: object, settings: type[Settings]) -> Settings:
    """The settings dataclass built from the resource's fields of the same names."""
    return settings(**{f.name: getattr(resource, f.name) for f in fields(settings)})  # type: ignore[arg-type]

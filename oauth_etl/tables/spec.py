"""Xero's OpenAPI component schemas, reduced to what typing a table needs.

The package must not depend on the 900 KB spec at run time, so `xero_schemas.json` beside
this module holds every schema of `xero_accounting.yaml` (Xero's MIT-licensed
Xero-OpenAPI repository; the licence text travels inside the file) reduced to one type word
per property. The spec itself is vendored in the repository (`specs/xero-openapi/`, not in
the wheel); regenerate the file after updating it with

    python -m oauth_etl.tables.spec [PATH/TO/xero_accounting.yaml]

(needs PyYAML, a dev dependency); a test fails when the file and the spec disagree.

A property's type word is one of `PRIMITIVES`, or the name of another schema, or a
one-element list `[word]` for an array of that. A schema without properties (Xero's enums
such as `CurrencyCode`) is stored as its primitive word.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import orjson

SCHEMA_FILE = Path(__file__).with_name("xero_schemas.json")
# The vendored spec (XeroAPI/Xero-OpenAPI, MIT): present in a checkout, not in the wheel.
VENDORED_SPEC = Path(__file__).resolve().parents[2] / "specs/xero-openapi/xero_accounting.yaml"
# What a property means, from the spec's own markers: `x-is-msdate` (a calendar date),
# `x-is-msdate-time` (an instant), `x-is-money` (an amount), `enum`, `format: uuid`.
PRIMITIVES = frozenset(
    {"string", "uuid", "enum", "boolean", "integer", "number", "money", "date", "datetime"}
)
_REF = "#/components/schemas/"

TypeWord = str | list[Any]  # "money", "Contact", ["LineItem"], [["string"]] ...


def type_word(prop: Mapping[str, Any]) -> TypeWord:
    """The type word of one OpenAPI property."""
    if "$ref" in prop:
        ref = str(prop["$ref"])
        if not ref.startswith(_REF):
            raise ValueError(f"unsupported $ref {ref!r}")
        return ref[len(_REF) :]
    kind = prop.get("type")
    if kind == "array":
        return [type_word(prop["items"])]
    if kind == "string":
        if prop.get("x-is-msdate-time"):
            return "datetime"
        if prop.get("x-is-msdate"):
            return "date"
        if "enum" in prop:
            return "enum"
        return "uuid" if prop.get("format") == "uuid" else "string"
    if kind == "number":
        return "money" if prop.get("x-is-money") else "number"
    if kind in ("integer", "boolean"):
        return str(kind)
    if kind == "object" or kind is None:
        # No such property in v16.1.0; an untyped object would be kept as JSON text.
        return "string"
    raise ValueError(f"unsupported property type {kind!r}")


def reduce_spec(spec: Mapping[str, Any], source_bytes: bytes, license_text: str) -> dict[str, Any]:
    """The compact document `xero_schemas.json` holds, from the parsed spec."""
    schemas: dict[str, Any] = {}
    for name, schema in spec["components"]["schemas"].items():
        properties = schema.get("properties")
        if properties is None:
            schemas[name] = type_word(schema)
        else:
            schemas[name] = {prop: type_word(body) for prop, body in properties.items()}
    return {
        "source": "XeroAPI/Xero-OpenAPI xero_accounting.yaml",
        "version": str(spec["info"]["version"]),
        "sha256": hashlib.sha256(source_bytes).hexdigest(),
        "license": license_text,
        "schemas": schemas,
    }


def render(document: Mapping[str, Any]) -> bytes:
    """The exact bytes written: spec order, two-space indent, trailing newline."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def generate(yaml_path: Path) -> bytes:
    """Read the spec (and its LICENSE beside it) and render the compact file."""
    import yaml  # dev dependency: only the generator needs it

    source = yaml_path.read_bytes()
    spec = yaml.safe_load(source)
    license_path = yaml_path.with_name("LICENSE")
    license_text = license_path.read_text() if license_path.exists() else ""
    if not license_text:
        raise FileNotFoundError(f"{license_path}: the spec's licence must travel with it")
    return render(reduce_spec(spec, source, license_text))


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(SCHEMA_FILE.read_bytes())
    return document


def schemas() -> dict[str, Any]:
    """Every schema of the spec: name -> {property: type word} or a primitive word."""
    found: dict[str, Any] = _document()["schemas"]
    return found


def spec_version() -> str:
    return str(_document()["version"])


def properties(schema: str) -> dict[str, TypeWord]:
    """The properties of an object schema (KeyError for an unknown or scalar schema)."""
    body = schemas()[schema]
    if not isinstance(body, dict):
        raise KeyError(f"{schema} is a {body}, not an object schema")
    return body


def record_schema(record_key: str) -> str:
    """The element schema of an envelope: `Invoices` holds `{"Invoices": [Invoice]}`."""
    word = properties(record_key)[record_key]
    if not (isinstance(word, list) and isinstance(word[0], str)):
        raise KeyError(f"{record_key} does not hold an array of records")
    return word[0]


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print("usage: python -m oauth_etl.tables.spec [PATH/TO/xero_accounting.yaml]")
        return 2
    SCHEMA_FILE.write_bytes(generate(Path(argv[0]) if argv else VENDORED_SPEC))
    print(f"wrote {SCHEMA_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

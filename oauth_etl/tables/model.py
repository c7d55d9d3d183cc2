"""Which table each endpoint becomes: key, version rule, child tables, and its columns.

Derived from the endpoint catalog (`oauth_etl.xero.catalog`: envelope key, id field,
cursor) and the spec's schemas, never typed by hand, so a new catalog row gets a table.

Version rule, i.e. which landed copy of a record wins:
- `updated`: the newest `UpdatedDateUTC` (every endpoint whose cursor is that field);
- `batch`: the newest batch (batch ids sort by extraction time), for endpoints without an
  update stamp (snapshots, and BankTransfers, which carry only `CreatedDateUTC` even when
  soft-deleted: spec v16.0, BankTransfer `Status`);
- `append`: the first copy, never updated (Journals: immutable postings, JournalID).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Literal

from oauth_etl.tables import spec
from oauth_etl.xero.catalog import CATALOG, UPDATED, Endpoint
from oauth_etl.xero.catalog import endpoint as catalog_endpoint

if TYPE_CHECKING:  # pyarrow is imported where shapes are built: the Dagster definitions
    import pyarrow as pa  # load table specs without it (every run process loads them)

    from oauth_etl.tables import columns

TENANT = "tenant_id"
BATCH = "_batch_id"  # the landed batch the row's values came from
UNPARSED = "_unparsed"  # JSON object: path -> raw value that no typed column could hold
LINE = "_line"  # a child row's position in its parent's array
BUCKET = "_bucket"  # partition column under tenant_id: a stable hash of the (parent's) id

VersionRule = Literal["updated", "batch", "append"]

# The arrays reporting needs as tables of their own: (endpoint, array, child table).
CHILDREN: tuple[tuple[str, str, str], ...] = (
    ("invoices", "LineItems", "invoice_line_items"),
    ("credit_notes", "LineItems", "credit_note_line_items"),
    ("bank_transactions", "LineItems", "bank_transaction_line_items"),
    ("purchase_orders", "LineItems", "purchase_order_line_items"),
    ("quotes", "LineItems", "quote_line_items"),
    ("journals", "JournalLines", "journal_lines"),  # the general ledger
)


@dataclass(frozen=True)
class ChildTable:
    name: str  # "invoice_line_items"
    array: str  # the parent's property: "LineItems"
    schema: str  # the element schema: "LineItem"
    parent_id: str  # the parent's id column, repeated in every child row: "InvoiceID"


@dataclass(frozen=True)
class TableSpec:
    name: str  # the endpoint's asset name, also the table's: "invoices"
    endpoint: Endpoint
    schema: str  # "Invoice"
    id_field: str  # "InvoiceID"
    version: VersionRule
    children: tuple[ChildTable, ...]

    @property
    def version_column(self) -> str | None:
        return {"updated": UPDATED, "batch": BATCH, "append": None}[self.version]


def _version_rule(endpoint: Endpoint) -> VersionRule:
    if endpoint.name == "journals":
        return "append"
    if endpoint.cursor_field == UPDATED:
        return "updated"
    return "batch"


@cache
def table_spec(name: str) -> TableSpec:
    """The table of an endpoint ("invoices", "BankTransactions" ...)."""
    endpoint = catalog_endpoint(name)
    if endpoint.id_field is None:
        raise KeyError(f"{endpoint.name} has no id field: no table can be keyed on it")
    schema = spec.record_schema(endpoint.record_key)
    props = spec.properties(schema)
    if endpoint.id_field not in props:
        raise KeyError(f"{schema} has no property {endpoint.id_field}")
    children = []
    for parent, array, child in CHILDREN:
        if parent == endpoint.name:
            word = props[array]
            if not (isinstance(word, list) and isinstance(word[0], str)):
                raise KeyError(f"{schema}.{array} is not an array of objects")
            children.append(ChildTable(child, array, word[0], endpoint.id_field))
    return TableSpec(
        name=endpoint.name,
        endpoint=endpoint,
        schema=schema,
        id_field=endpoint.id_field,
        version=_version_rule(endpoint),
        children=tuple(children),
    )


def table_specs() -> tuple[TableSpec, ...]:
    """Every endpoint of the catalog that has an id field."""
    return tuple(table_spec(e.name) for e in CATALOG if e.id_field is not None)


def child_names() -> tuple[str, ...]:
    return tuple(child for _, _, child in CHILDREN)


def table_names() -> tuple[str, ...]:
    """Every table: one per endpoint, then the child tables (what the upkeep job visits)."""
    return tuple(t.name for t in table_specs()) + child_names()


@dataclass(frozen=True)
class Shape:
    """Columns of one table: key columns first, then the spec's properties, then ours."""

    keys: tuple[pa.Field, ...]
    fields: tuple[pa.Field, ...]  # the spec's properties, in spec order
    converters: dict[str, columns.ColumnConvert]
    skip: frozenset[str]  # properties held in child tables instead

    def schema(self, extra: Sequence[str] = ()) -> pa.Schema:
        """Arrow schema; `extra` are fields outside the spec, kept as strings."""
        import pyarrow as pa

        tail = [pa.field(BATCH, pa.string()), pa.field(UNPARSED, pa.string())]
        added = [pa.field(name, pa.string()) for name in extra]
        return pa.schema([*self.keys, *self.fields, *added, *tail])


def _shape(schema: str, keys: tuple[pa.Field, ...], skip: frozenset[str]) -> Shape:
    from oauth_etl.tables import columns

    body = {k: v for k, v in spec.properties(schema).items() if k not in skip}
    key_names = {f.name for f in keys}
    # A property named like a key column (a child's parent id) is the key column.
    body = {k: v for k, v in body.items() if k not in key_names}
    fields, converters = columns.compile_properties(body, 1, (schema,))
    return Shape(keys, tuple(fields), converters, skip)


@cache
def parent_shape(name: str) -> Shape:
    import pyarrow as pa

    from oauth_etl.tables import columns

    table = table_spec(name)
    id_type = columns.field_type(spec.properties(table.schema)[table.id_field])
    keys = (pa.field(TENANT, pa.string(), nullable=False), pa.field(table.id_field, id_type))
    return _shape(table.schema, keys, frozenset(c.array for c in table.children))


@cache
def child_shape(parent: str, child: str) -> Shape:
    import pyarrow as pa

    table = table_spec(parent)
    found = next(c for c in table.children if c.name == child)
    keys = (
        pa.field(TENANT, pa.string(), nullable=False),
        pa.field(found.parent_id, pa.string()),
        pa.field(LINE, pa.int32()),
    )
    return _shape(found.schema, keys, frozenset())

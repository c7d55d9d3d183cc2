"""The type mapping, against every schema of Xero's spec, and the value converters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import pyarrow as pa
import pytest
from deltalake import Schema as DeltaSchema

from oauth_etl.tables import columns, spec
from oauth_etl.tables.model import (
    BATCH,
    CHILDREN,
    TENANT,
    UNPARSED,
    child_shape,
    parent_shape,
    table_names,
    table_spec,
    table_specs,
)
from oauth_etl.xero.catalog import CATALOG

EXPECTED_PRIMITIVE = {
    "string": pa.string(),
    "uuid": pa.string(),
    "enum": pa.string(),
    "boolean": pa.bool_(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "money": pa.decimal128(28, 10),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
}


def test_the_vendored_schemas_are_generated_from_the_spec_byte_for_byte() -> None:
    source = spec.VENDORED_SPEC
    assert spec.generate(source) == spec.SCHEMA_FILE.read_bytes(), (
        "oauth_etl/tables/xero_schemas.json is stale: run "
        f"`python -m oauth_etl.tables.spec {source}`"
    )


def test_the_vendored_file_carries_its_licence_and_provenance() -> None:
    document = orjson.loads(spec.SCHEMA_FILE.read_bytes())
    assert "MIT License" in document["license"] and "Xero" in document["license"]
    assert document["version"] == spec.spec_version() == "16.1.0"
    assert len(document["sha256"]) == 64


def _expected(word: spec.TypeWord, depth: int, stack: tuple[str, ...]) -> pa.DataType:
    """The mapping written out independently of `columns.compile_word`."""
    if isinstance(word, list):
        return pa.list_(_expected(word[0], depth, stack))
    if word in EXPECTED_PRIMITIVE:
        return EXPECTED_PRIMITIVE[word]
    body = spec.schemas()[word]
    if isinstance(body, str):
        return EXPECTED_PRIMITIVE[body]
    if depth > columns.MAX_DEPTH or word in stack:
        return pa.string()  # JSON text
    return pa.struct(
        [pa.field(k, _expected(v, depth + 1, (*stack, word))) for k, v in body.items()]
    )


@pytest.mark.parametrize("name", sorted(spec.schemas()))
def test_every_schema_of_the_spec_maps_to_a_delta_compatible_arrow_schema(name: str) -> None:
    body = spec.schemas()[name]
    if isinstance(body, str):  # an enum schema: a string column wherever it is used
        assert columns.field_type(name) == pa.string()
        return
    fields, converters = columns.compile_properties(body, 1, (name,))
    assert [f.name for f in fields] == list(body) == list(converters)
    for arrow_field in fields:
        assert arrow_field.type == _expected(body[arrow_field.name], 1, (name,)), arrow_field.name
    DeltaSchema.from_arrow(pa.schema(fields))  # raises on a type Delta cannot store


def test_the_spec_markers_decide_the_types() -> None:
    invoice = parent_shape("invoices").schema()
    assert invoice.field("Date").type == pa.date32()  # x-is-msdate
    assert invoice.field("UpdatedDateUTC").type == pa.timestamp("us", tz="UTC")  # msdate-time
    assert invoice.field("AmountDue").type == pa.decimal128(28, 10)  # x-is-money
    assert invoice.field("Status").type == pa.string()  # enum
    assert invoice.field("CurrencyCode").type == pa.string()  # $ref to an enum schema
    contact = invoice.field("Contact").type
    assert pa.types.is_struct(contact)  # nested object
    assert contact.field("Addresses").type == pa.list_(pa.string())  # deeper: JSON text each
    payment = invoice.field("Payments").type.value_type
    assert payment.field("Invoice").type == pa.string()  # Invoice inside Invoice: JSON text
    assert invoice.names[:2] == [TENANT, "InvoiceID"] and invoice.names[-2:] == [BATCH, UNPARSED]


def test_every_catalog_endpoint_has_a_table_and_the_named_child_tables_exist() -> None:
    assert {t.name for t in table_specs()} == {e.name for e in CATALOG}
    assert len(set(table_names())) == len(CATALOG) + len(CHILDREN)
    assert {c for _, _, c in CHILDREN} == {
        "invoice_line_items",
        "credit_note_line_items",
        "bank_transaction_line_items",
        "purchase_order_line_items",
        "quote_line_items",
        "journal_lines",
    }
    for parent, _array, child in CHILDREN:
        shape = child_shape(parent, child).schema()
        assert shape.names[:3] == [TENANT, table_spec(parent).id_field, "_line"]
    assert table_spec("journals").version == "append"
    assert table_spec("bank_transfers").version == "batch"  # CreatedDateUTC only
    assert table_spec("invoices").version == "updated"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1419937200000+1300)/", dt.date(2014, 12, 31)),  # midnight in +13:00
        ("/Date(1539993600000+0000)/", dt.date(2018, 10, 20)),
        ("/Date(1539993600000)/", dt.date(2018, 10, 20)),
        ("/Date(1540000000000-0500)/", dt.date(2018, 10, 19)),
        ("2019-10-20T00:00:00", dt.date(2019, 10, 20)),
        ("2019-10-20", dt.date(2019, 10, 20)),
    ],
)
def test_dates_are_the_calendar_date_at_their_own_offset(text: str, expected: dt.date) -> None:
    assert dt.date(1970, 1, 1) + dt.timedelta(days=columns.parse_date_days(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/Date(1573755038314)/", dt.datetime(2019, 11, 14, 18, 10, 38, 314000, dt.UTC)),
        ("/Date(1573755038314+1300)/", dt.datetime(2019, 11, 14, 18, 10, 38, 314000, dt.UTC)),
        ("2019-11-14T18:10:38", dt.datetime(2019, 11, 14, 18, 10, 38, tzinfo=dt.UTC)),
        ("2019-11-15T07:10:38+13:00", dt.datetime(2019, 11, 14, 18, 10, 38, tzinfo=dt.UTC)),
    ],
)
def test_instants_are_utc(text: str, expected: dt.datetime) -> None:
    stamp = pa.array([columns.parse_instant_us(text)], type=columns.TIMESTAMP)
    assert stamp.to_pylist() == [expected]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1234.56, Decimal("1234.56")),
        (0.1, Decimal("0.1")),
        (99999999.99, Decimal("99999999.99")),
        (7, Decimal("7")),
        ("12.5", Decimal("12.5")),
        (1.2345678901, Decimal("1.2345678901")),
    ],
)
def test_amounts_are_the_exact_decimal_written(value: Any, expected: Decimal) -> None:
    assert columns.parse_money(value) == expected
    array = pa.array([columns.parse_money(value)], type=columns.MONEY)
    assert array.to_pylist() == [expected]


@pytest.mark.parametrize("value", [1e-11, "lots", True, 1e20, float("nan"), [1]])
def test_an_amount_that_does_not_fit_is_refused(value: Any) -> None:
    with pytest.raises(ValueError):
        columns.parse_money(value)


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("date", "someday"),
        ("date", "/Date(abc)/"),
        ("datetime", 1573755038314),
        ("boolean", "false"),
        ("integer", 1.5),
        ("number", "1.5"),
        ("money", "NaN"),
        ("money", 1e-11),
        (["string"], "not a list"),
        ("LineItemItem", "not an object"),
    ],
)
def test_a_value_that_does_not_convert_is_null_and_kept_raw(word: Any, value: Any) -> None:
    arrow, convert = columns.compile_word(word, 1, ())
    sinks = columns.Sinks(3)
    out = convert([None, value, None], lambda i: (i, "Field"), sinks)
    assert out.type == arrow and out.to_pylist() == [None, None, None]
    assert sinks.rows == [None, {"Field": orjson.dumps(value).decode()}, None]
    assert sinks.values == 1


def test_good_values_convert_column_wise_with_nested_paths_for_the_bad_ones() -> None:
    # As in a line item row: Tracking is a list of structs; as in an item: PurchaseDetails.
    tracking_type, tracking = columns.compile_word(["LineItemTracking"], 1, ("LineItem",))
    item_type, item = columns.compile_word("Purchase", 1, ("Item",))
    sinks = columns.Sinks(2)
    tracked = tracking(
        [[{"Name": "Region", "Option": "North"}], [{"Name": "A"}, {"Name": 5, "Extra": True}]],
        lambda i: (i, "Tracking"),
        sinks,
    )
    items = item(
        [{"TaxType": "C", "UnitPrice": 2.5}, {"UnitPrice": "x", "Surprise": [1, 2]}],
        lambda i: (i, "PurchaseDetails"),
        sinks,
    )
    assert tracked.type == tracking_type and items.type == item_type
    assert tracked.to_pylist()[1][1]["Name"] == "5"  # JSON text of a number: lossless
    assert items.to_pylist()[0]["UnitPrice"] == Decimal("2.5")
    assert items.to_pylist()[1]["UnitPrice"] is None
    assert sinks.rows == [
        None,
        {
            "Tracking[1].Extra": "true",
            "PurchaseDetails.UnitPrice": '"x"',
            "PurchaseDetails.Surprise": "[1,2]",
        },
    ]


def test_strings_keep_other_json_losslessly() -> None:
    _, as_string = columns.compile_word("string", 1, ())
    sinks = columns.Sinks(3)
    out = as_string([42, {"a": 1}, "plain"], lambda i: (i, "Reference"), sinks)
    assert out.to_pylist() == ["42", '{"a":1}', "plain"] and sinks.values == 0


def test_amounts_take_the_vectorized_path_and_the_exact_path_alike() -> None:
    _, money = columns.compile_word("money", 1, ())
    fast = money([1234.56, 0.1, 7, None], lambda i: (i, "Total"), columns.Sinks(4))
    slow = money([1234.56, 0.1, 7, "3.25"], lambda i: (i, "Total"), columns.Sinks(4))
    assert (
        fast.to_pylist()[:3]
        == slow.to_pylist()[:3]
        == [
            Decimal("1234.56"),
            Decimal("0.1"),
            Decimal("7"),
        ]
    )
    assert slow.to_pylist()[3] == Decimal("3.25")

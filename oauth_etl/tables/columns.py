"""Arrow types for Xero's schemas, and converters from landed JSON values to them.

The mapping (type words from `spec.py`):

| spec | Arrow |
| --- | --- |
| `x-is-msdate-time` (`/Date(ms)/`, an instant) | `timestamp[us, UTC]` |
| `x-is-msdate` (a calendar date) | `date32`: the date at the value's own `+hhmm` offset |
| `x-is-money` | `decimal128(28, 10)` |
| other numbers | `float64` |
| integers | `int64` |
| strings, uuids, enums (inline or `$ref` to an enum schema) | `string` |
| a `$ref` to an object schema | `struct`, down to `MAX_DEPTH` levels |
| arrays | `list` of the item type |

Deeper objects, and a schema nested in itself (`Invoice.Payments[].Invoice`), become JSON
text, so a table keeps a bounded number of leaf columns. A value that does not convert
(a malformed date, text in a number) becomes null in its column and its raw JSON is kept
in the row's `_unparsed` map, keyed by its path (`LineItems[2].UnitAmount`); so does a key
inside an object that the spec does not name. Nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from oauth_etl.tables import spec
from oauth_etl.xero.dates import parse_xero_datetime

MONEY_PRECISION = 28
MONEY_SCALE = 10
MONEY = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")
MAX_DEPTH = 1  # record -> struct; objects inside a struct are JSON text

Where = Callable[[int], tuple[int, str]]  # value index -> (row, path) for `_unparsed`
ColumnConvert = Callable[[list[Any], Where, "Sinks"], pa.Array]

_DOTNET = re.compile(r"^/Date\((-?\d{1,15})(?:([+-])(\d\d)(\d\d))?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def parse_money(value: Any) -> Decimal:
    """The exact decimal a JSON number was written as (ValueError when it doesn't fit)."""
    if type(value) is float:
        # repr is the shortest text that round-trips: 1234.56, not 1234.5599999999999
        amount = Decimal(repr(value))
    elif type(value) is int or type(value) is str:
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
    else:
        raise ValueError(f"not a number: {value!r}")
    if not amount.is_finite() or abs(amount) >= _MONEY_LIMIT:
        raise ValueError(f"{value!r} does not fit decimal({MONEY_PRECISION},{MONEY_SCALE})")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MONEY_SCALE:
        raise ValueError(f"{value!r} has more than {MONEY_SCALE} decimal places")
    return amount


def parse_instant_us(text: str) -> int:
    """Microseconds since the epoch (UTC) of a Xero date-time string."""
    match = _DOTNET.match(text)
    if match is not None:
        return int(match.group(1)) * 1000  # the offset only says how it was displayed
    moment = parse_xero_datetime(text)  # ISO 8601 forms, naive meaning UTC
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def parse_date_days(text: str) -> int:
    """Days since 1970-01-01 of a Xero date: the calendar date at the value's own offset.

    Xero writes dates as midnight instants, e.g. `/Date(1419937200000+1300)/` is midnight
    of 31 December 2014 in +13:00 (`/Date(ms+hhmm)/`:
    developer.xero.com/documentation/api/accounting/requests-and-responses); without an
    offset, UTC.
    """
    match = _DOTNET.match(text)
    if match is not None:
        ms = int(match.group(1))
        if match.group(2) is not None:
            offset = (int(match.group(3)) * 60 + int(match.group(4))) * 60_000
            ms += offset if match.group(2) == "+" else -offset
        return ms // _DAY_MS
    if text.startswith("/Date("):
        parse_xero_datetime(text)  # raises its own explanation
    try:
        # ISO 8601: the date as written (an offset, if any, is the date's own zone).
        written = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"not a Xero date: {text[:60]!r}") from None
    return written.date().toordinal() - _EPOCH.date().toordinal()


class Sinks:
    """Per row, the raw JSON of the values that no typed column could hold."""

    def __init__(self, rows: int) -> None:
        self.rows: list[dict[str, str] | None] = [None] * rows
        self.values = 0

    def keep(self, where: Where, index: int, value: Any) -> None:
        row, path = where(index)
        held = self.rows[row]
        if held is None:
            held = self.rows[row] = {}
        held[path] = json_text(value)
        self.values += 1


def _all_null(values: list[Any]) -> bool:
    return all(v is None for v in values)


def _per_value(arrow: pa.DataType, parse: Callable[[Any], Any]) -> ColumnConvert:
    def convert(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
        if _all_null(values):
            return pa.nulls(len(values), arrow)
        out: list[Any] = []
        for index, value in enumerate(values):
            if value is None:
                out.append(None)
                continue
            try:
                out.append(parse(value))
            except (ValueError, TypeError, OverflowError):
                sinks.keep(where, index, value)
                out.append(None)
        return pa.array(out, type=arrow)

    return convert


def _string(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
    # A non-string where the spec says string is kept losslessly as its JSON text.
    return pa.array(
        [v if v is None or type(v) is str else json_text(v) for v in values], type=pa.string()
    )


def _typed(
    arrow: pa.DataType, kinds: tuple[type, ...], parse: Callable[[Any], Any]
) -> ColumnConvert:
    """Values already of the column's Python type go to Arrow in one call; else per value."""
    slow = _per_value(arrow, parse)

    def convert(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
        if all(v is None or type(v) in kinds for v in values):
            return pa.array(values, type=arrow)
        return slow(values, where, sinks)

    return convert


def _exact(kind: type) -> Callable[[Any], Any]:
    def parse(value: Any) -> Any:
        if type(value) is kind:
            return value
        if kind is int and type(value) is float and value.is_integer():
            return int(value)
        if kind is float and type(value) is int:
            return float(value)
        raise ValueError(f"not a {kind.__name__}")

    return parse


def _money(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
    if all(v is None or type(v) is float or (type(v) is int and abs(v) < 2**53) for v in values):
        # Vectorized: Arrow prints a double as its shortest round-trip text (what the JSON
        # said), and the text-to-decimal cast refuses any loss; then per value instead.
        try:
            text = pc.cast(pa.array(values, type=pa.float64()), pa.string())
            return pc.cast(text, MONEY)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return _per_value(MONEY, parse_money)(values, where, sinks)


def _dated(arrow: pa.DataType, parse: Callable[[str], int]) -> ColumnConvert:
    def from_text(value: Any) -> int:
        if type(value) is not str:
            raise ValueError("not a date string")
        return parse(value)

    return _per_value(arrow, from_text)


def _json(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
    return pa.array([None if v is None else json_text(v) for v in values], type=pa.string())


_PRIMITIVES: dict[str, tuple[pa.DataType, ColumnConvert]] = {
    "string": (pa.string(), _string),
    "uuid": (pa.string(), _string),
    "enum": (pa.string(), _string),
    "boolean": (pa.bool_(), _typed(pa.bool_(), (bool,), _exact(bool))),
    "integer": (pa.int64(), _typed(pa.int64(), (int,), _exact(int))),
    "number": (pa.float64(), _typed(pa.float64(), (float, int), _exact(float))),
    "money": (MONEY, _money),
    "date": (pa.date32(), _dated(pa.date32(), parse_date_days)),
    "datetime": (TIMESTAMP, _dated(TIMESTAMP, parse_instant_us)),
}


def field_type(word: spec.TypeWord, depth: int = 1, stack: tuple[str, ...] = ()) -> pa.DataType:
    """The Arrow type of a property at `depth` (1 = a column of a record)."""
    return compile_word(word, depth, stack)[0]


def compile_word(
    word: spec.TypeWord, depth: int, stack: tuple[str, ...]
) -> tuple[pa.DataType, ColumnConvert]:
    """Arrow type and column converter for a type word; `stack`: the schemas being expanded."""
    if isinstance(word, list):
        item_type, item_convert = compile_word(word[0], depth, stack)
        return pa.list_(item_type), _list(item_type, item_convert)
    if word in _PRIMITIVES:
        return _PRIMITIVES[word]
    body = spec.schemas()[word]
    if not isinstance(body, dict):
        return _PRIMITIVES[body]  # an enum schema: CurrencyCode, TaxType ...
    if depth > MAX_DEPTH or word in stack:
        return pa.string(), _json
    fields, converters = compile_properties(body, depth + 1, (*stack, word))
    return pa.struct(fields), _struct(fields, converters)


def compile_properties(
    body: dict[str, spec.TypeWord], depth: int, stack: tuple[str, ...]
) -> tuple[list[pa.Field], dict[str, ColumnConvert]]:
    fields: list[pa.Field] = []
    converters: dict[str, ColumnConvert] = {}
    for name, word in body.items():
        arrow, convert = compile_word(word, depth, stack)
        fields.append(pa.field(name, arrow))
        converters[name] = convert
    return fields, converters


def _list(item_type: pa.DataType, item: ColumnConvert) -> ColumnConvert:
    def convert(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
        if _all_null(values):
            return pa.nulls(len(values), pa.list_(item_type))
        offsets = [0]
        flat: list[Any] = []
        owners: list[int] = []  # the row of each flattened element
        missing: list[bool] = []
        for index, value in enumerate(values):
            if type(value) is list:
                flat.extend(value)
                owners.extend([index] * len(value))
                missing.append(False)
            else:
                if value is not None:
                    sinks.keep(where, index, value)
                missing.append(True)
            offsets.append(len(flat))

        def element(k: int) -> tuple[int, str]:
            owner = owners[k]
            row, path = where(owner)
            return row, f"{path}[{k - offsets[owner]}]"

        items = item(flat, element, sinks)
        return pa.ListArray.from_arrays(
            pa.array(offsets, type=pa.int32()), items, mask=pa.array(missing, type=pa.bool_())
        )

    return convert


def _struct(fields: list[pa.Field], converters: dict[str, ColumnConvert]) -> ColumnConvert:
    items = tuple(converters.items())
    arrow = pa.struct(fields)

    def convert(values: list[Any], where: Where, sinks: Sinks) -> pa.Array:
        if _all_null(values):
            return pa.nulls(len(values), arrow)
        objects: list[dict[str, Any] | None] = []
        for index, value in enumerate(values):
            if type(value) is dict:
                objects.append(value)
                for key, extra in value.items():
                    if key not in converters:  # not in the spec: kept raw, never dropped
                        sinks.keep(_nested(where, key), index, extra)
            else:
                if value is not None:
                    sinks.keep(where, index, value)
                objects.append(None)
        children = [
            fn(
                [None if o is None else o.get(name) for o in objects],
                _nested(where, name),
                sinks,
            )
            for name, fn in items
        ]
        mask = pa.array([o is None for o in objects], type=pa.bool_())
        return pa.StructArray.from_arrays(children, fields=fields, mask=mask)

    return convert


def _nested(where: Where, name: str) -> Where:
    def inner(index: int) -> tuple[int, str]:
        row, path = where(index)
        return row, f"{path}.{name}"

    return inner


def top_level(name: str) -> Where:
    """Where a value of a record's own property sits: its row, and the property's name."""

    def where(index: int) -> tuple[int, str]:
        return index, name

    return where

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

from oauth_etl.tables import spec
from oauth_etl.xero.dates import parse_xero_datetime

MONEY_PRECISION = 28
MONEY_SCALE = 10
MONEY = pa.decimal128(MONEY_PRECISION, MONEY_SCALE)
TIMESTAMP = pa.timestamp("us", tz="UTC")
MAX_DEPTH = 1  # record -> struct; objects inside a struct are JSON text

Unparsed = dict[str, str]  # path -> raw JSON text of the value that did not convert
Convert = Callable[[Any, str, Unparsed], Any]

_DOTNET = re.compile(r"^/Date\((-?\d{1,15})(?:([+-])(\d\d)(\d\d))?\)/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DAY_MS = 86_400_000
_MONEY_LIMIT = Decimal(10) ** (MONEY_PRECISION - MONEY_SCALE)
_FAILED = object()


def json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _keep(value: Any, path: str, unparsed: Unparsed) -> None:
    unparsed[path] = json_text(value)


def _string(value: Any, path: str, unparsed: Unparsed) -> Any:
    # A non-string where the spec says string is kept losslessly as its JSON text.
    return value if value is None or type(value) is str else json_text(value)


def _boolean(value: Any, path: str, unparsed: Unparsed) -> Any:
    if value is None or type(value) is bool:
        return value
    return _keep(value, path, unparsed)


def _integer(value: Any, path: str, unparsed: Unparsed) -> Any:
    if value is None or type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return _keep(value, path, unparsed)


def _number(value: Any, path: str, unparsed: Unparsed) -> Any:
    if value is None or type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    return _keep(value, path, unparsed)


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


def _money(value: Any, path: str, unparsed: Unparsed) -> Any:
    if value is None:
        return None
    try:
        return parse_money(value)
    except ValueError:
        return _keep(value, path, unparsed)


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
    of 31 December 2014 in +13:00 (XERO.md: `/Date(ms+hhmm)/`); without an offset, UTC.
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


def _dated(parse: Callable[[str], int]) -> Convert:
    def convert(value: Any, path: str, unparsed: Unparsed) -> Any:
        if value is None:
            return None
        if type(value) is str:
            try:
                return parse(value)
            except (ValueError, OverflowError):
                pass
        return _keep(value, path, unparsed)

    return convert


def _json(value: Any, path: str, unparsed: Unparsed) -> Any:
    return None if value is None else json_text(value)


_PRIMITIVES: dict[str, tuple[pa.DataType, Convert]] = {
    "string": (pa.string(), _string),
    "uuid": (pa.string(), _string),
    "enum": (pa.string(), _string),
    "boolean": (pa.bool_(), _boolean),
    "integer": (pa.int64(), _integer),
    "number": (pa.float64(), _number),
    "money": (MONEY, _money),
    "date": (pa.date32(), _dated(parse_date_days)),
    "datetime": (TIMESTAMP, _dated(parse_instant_us)),
}


def field_type(word: spec.TypeWord, depth: int = 1, stack: tuple[str, ...] = ()) -> pa.DataType:
    """The Arrow type of a property at `depth` (1 = a column of a record)."""
    return compile_word(word, depth, stack)[0]


def compile_word(
    word: spec.TypeWord, depth: int, stack: tuple[str, ...]
) -> tuple[pa.DataType, Convert]:
    """Arrow type and converter for a type word; `stack` holds the schemas being expanded."""
    if isinstance(word, list):
        item_type, item_convert = compile_word(word[0], depth, stack)
        return pa.list_(item_type), _list(item_convert)
    if word in _PRIMITIVES:
        return _PRIMITIVES[word]
    body = spec.schemas()[word]
    if not isinstance(body, dict):
        return _PRIMITIVES[body]  # an enum schema: CurrencyCode, TaxType ...
    if depth > MAX_DEPTH or word in stack:
        return pa.string(), _json
    fields, converters = compile_properties(body, depth + 1, (*stack, word))
    return pa.struct(fields), _struct(converters)


def compile_properties(
    body: dict[str, spec.TypeWord], depth: int, stack: tuple[str, ...]
) -> tuple[list[pa.Field], dict[str, Convert]]:
    fields: list[pa.Field] = []
    converters: dict[str, Convert] = {}
    for name, word in body.items():
        arrow, convert = compile_word(word, depth, stack)
        fields.append(pa.field(name, arrow))
        converters[name] = convert
    return fields, converters


def _list(item: Convert) -> Convert:
    def convert(value: Any, path: str, unparsed: Unparsed) -> Any:
        if value is None:
            return None
        if type(value) is not list:
            return _keep(value, path, unparsed)
        return [item(element, f"{path}[{i}]", unparsed) for i, element in enumerate(value)]

    return convert


def _struct(converters: dict[str, Convert]) -> Convert:
    items = tuple(converters.items())

    def convert(value: Any, path: str, unparsed: Unparsed) -> Any:
        if value is None:
            return None
        if type(value) is not dict:
            return _keep(value, path, unparsed)
        out = {name: fn(value.get(name), f"{path}.{name}", unparsed) for name, fn in items}
        if len(value) > len(out) or any(key not in converters for key in value):
            for key, extra in value.items():
                if key not in converters:
                    unparsed[f"{path}.{key}"] = json_text(extra)  # not in the spec
        return out

    return convert

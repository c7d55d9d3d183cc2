"""The accounting API's query language, the useful part: where, order, If-Modified-Since.

`where`: clauses joined by `AND`/`&&` (no OR, no parentheses), each
`Path OP Value` with OP one of == != > >= < <=, Path a field or dotted path
(`Contact.ContactID`), Value a "string", Guid("..."), number, true/false, or
DateTime(y,m,d[,h,m,s]). `order`: `Field [ASC|DESC][, ...]`.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from oauth_etl_dev.sandbox.data import Record, parse_net_date


class QueryError(ValueError):
    """A query parameter the sandbox (and Xero) cannot understand: a 400."""


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CLAUSE = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$")
_SPLIT = re.compile(r"\s+AND\s+|\s*&&\s*", re.IGNORECASE)


def parse_if_modified_since(value: str) -> int:
    """Milliseconds since the epoch of an HTTP-date or an ISO 8601 timestamp (UTC if naive)."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError) as exc:
            raise QueryError(
                f"If-Modified-Since is not an HTTP-date or ISO timestamp: {value!r}"
            ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    guid = re.fullmatch(r'Guid\(\s*"([^"]*)"\s*\)', text, re.IGNORECASE)
    if guid:
        return guid.group(1).lower()
    stamp = re.fullmatch(r"DateTime\(\s*([\d\s,]+)\)", text, re.IGNORECASE)
    if stamp:
        parts = [int(p) for p in stamp.group(1).split(",") if p.strip()]
        if not 3 <= len(parts) <= 6:
            raise QueryError(f"DateTime needs 3 to 6 numbers: {text}")
        y, mo, d, h, mi, s = (*parts, 0, 0, 0)[:6]
        try:
            return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp() * 1000)
        except ValueError as exc:
            raise QueryError(f"bad DateTime in where: {text}") from exc
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError as exc:
        raise QueryError(f"cannot read value {text!r} in where: quote strings") from exc


def _lookup(record: Record, path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _comparable(value: Any, literal: Any) -> Any:
    if isinstance(value, str):
        ms = parse_net_date(value)
        if ms is not None and isinstance(literal, int):
            return ms
        if isinstance(literal, str) and re.fullmatch(r"[0-9a-fA-F-]{36}", value):
            return value.lower()  # GUIDs compare case-insensitively
    return value


Predicate = Callable[[Record], bool]


def parse_where(text: str) -> Predicate:
    clauses: list[tuple[str, Callable[[Any, Any], bool], Any]] = []
    for raw in _SPLIT.split(text.strip()):
        match = _CLAUSE.match(raw)
        if not match:
            raise QueryError(f'cannot parse where clause {raw!r}: use Field=="value" joined by AND')
        path, op, value = match.groups()
        clauses.append((path, _OPS[op], _literal(value)))

    def predicate(record: Record) -> bool:
        for path, op, literal in clauses:
            value = _comparable(_lookup(record, path), literal)
            try:
                if not op(value, literal):
                    return False
            except TypeError:
                return False
        return True

    return predicate


def parse_order(text: str) -> list[tuple[str, bool]]:
    """[(path, descending)] for `Field [ASC|DESC], ...`."""
    keys: list[tuple[str, bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or not re.fullmatch(r"[A-Za-z_][\w.]*", words[0]):
            raise QueryError(f"cannot parse order {text!r}: use `Field ASC` or `Field DESC`")
        direction = words[1].upper() if len(words) == 2 else "ASC"
        if direction not in ("ASC", "DESC"):
            raise QueryError(f"order direction must be ASC or DESC, not {words[1]!r}")
        keys.append((words[0], direction == "DESC"))
    return keys


def sort_key(record: Record, path: str) -> tuple[int, Any]:
    value = _lookup(record, path)
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        ms = parse_net_date(value)
        if ms is not None:
            return (1, ms)
        return (2, value.lower())
    if isinstance(value, bool | int | float):
        return (1, value)
    return (3, str(value))

"""Response helpers shared by the sandbox's routers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.responses import Response

JSON = "application/json; charset=utf-8"


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(orjson.dumps(payload), status, headers=headers, media_type=JSON)


def problem(status: int, title: str, detail: str, correlation: str) -> dict[str, Any]:
    """Xero's problem body for 401/403 (as seen from the live API and reported in
    Xero's SDK issues; the spec does not describe these bodies)."""
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": correlation,
        "Extensions": {},
    }


def http_date(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

"""The landed record of one report call, and the reading it becomes again.

A record holds Xero's answer as it came (`answer`), the request it answered and the
organisation facts it was flattened with (base currency, account codes, financial year,
lock dates): a table rebuilt from the landed batches gets the same cells, whenever it is
rebuilt.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from oauth_etl.xero.reports.catalog import report
from oauth_etl.xero.reports.model import Basis, Period, Reading, ReportRequest
from oauth_etl.xero.reports.org import Organisation
from oauth_etl.xero.reports.parse import cells
from oauth_etl.xero.reports.read import ReportReading


def _day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_day(value: object) -> dt.date | None:
    return dt.date.fromisoformat(value) if isinstance(value, str) and value else None


def organisation_record(org: Organisation) -> dict[str, Any]:
    return {
        "tenant_id": org.tenant_id,
        "base_currency": org.base_currency,
        "country": org.country,
        "financial_year_end_day": org.financial_year_end_day,
        "financial_year_end_month": org.financial_year_end_month,
        "period_lock_date": _day(org.period_lock_date),
        "end_of_year_lock_date": _day(org.end_of_year_lock_date),
        "created": _day(org.created),
        "account_codes": dict(org.account_codes),
    }


def organisation_of(record: Mapping[str, Any]) -> Organisation:
    return Organisation(
        tenant_id=str(record["tenant_id"]),
        base_currency=record.get("base_currency"),
        country=record.get("country"),
        financial_year_end_day=int(record.get("financial_year_end_day") or 31),
        financial_year_end_month=int(record.get("financial_year_end_month") or 12),
        period_lock_date=_parse_day(record.get("period_lock_date")),
        end_of_year_lock_date=_parse_day(record.get("end_of_year_lock_date")),
        created=_parse_day(record.get("created")),
        account_codes=dict(record.get("account_codes") or {}),
    )


def request_record(request: ReportRequest) -> dict[str, Any]:
    return {
        "report": request.report,
        "request_key": request.key,
        "params": [list(pair) for pair in request.params],
        "periods": [[p.start.isoformat(), p.end.isoformat()] for p in request.periods],
        "basis": request.basis.value,
        "tracking_category_id": request.tracking_category_id,
    }


def request_of(record: Mapping[str, Any]) -> ReportRequest:
    return ReportRequest(
        report=str(record["report"]),
        params=tuple((str(k), str(v)) for k, v in record["params"]),
        periods=tuple(
            Period(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in record["periods"]
        ),
        basis=Basis(record["basis"]),
        tracking_category_id=record.get("tracking_category_id"),
    )


def answer_record(reading: ReportReading, org: Organisation) -> dict[str, Any]:
    """What lands for one call."""
    return {
        "tenant_id": reading.tenant_id,
        **request_record(reading.request),
        "as_read_at": reading.as_read_at.isoformat(),
        "calls": reading.calls,
        "correlation_id": reading.correlation_id,
        "organisation": organisation_record(org),
        "answer": reading.document,
    }


def reading_of(record: Mapping[str, Any]) -> Reading:
    """A landed record flattened again, with the facts it was read with."""
    request = request_of(record)
    org = organisation_of(record["organisation"])
    moment = dt.datetime.fromisoformat(str(record["as_read_at"]))
    found = cells(record["answer"], report(request.report), request, org, moment)
    return Reading(request, tuple(found))


def readings_of(records: Iterable[Mapping[str, Any]]) -> Iterator[Reading]:
    for record in records:
        yield reading_of(record)

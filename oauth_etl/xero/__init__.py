"""Xero specifics: endpoint catalog, API client, rate budget, dates. No Dagster here."""

from oauth_etl.xero.catalog import CATALOG, Endpoint, Paging, endpoint
from oauth_etl.xero.client import (
    Connection,
    Extraction,
    ExtractionStats,
    Progress,
    XeroClient,
)
from oauth_etl.xero.dates import (
    format_http_date,
    from_cursor,
    if_modified_since_header,
    parse_xero_datetime,
    to_cursor,
)
from oauth_etl.xero.envelope import Page, Pagination
from oauth_etl.xero.errors import (
    DayLimitReached,
    MalformedResponse,
    NotEntitled,
    PagingIgnored,
    RateLimited,
    TenantDisconnected,
    XeroApiError,
    XeroError,
    XeroUnavailable,
)
from oauth_etl.xero.rate import RateBudget

__all__ = [
    "CATALOG",
    "Connection",
    "DayLimitReached",
    "Endpoint",
    "Extraction",
    "ExtractionStats",
    "MalformedResponse",
    "NotEntitled",
    "Page",
    "Pagination",
    "Paging",
    "PagingIgnored",
    "Progress",
    "RateBudget",
    "RateLimited",
    "TenantDisconnected",
    "XeroApiError",
    "XeroClient",
    "XeroError",
    "XeroUnavailable",
    "endpoint",
    "format_http_date",
    "from_cursor",
    "if_modified_since_header",
    "parse_xero_datetime",
    "to_cursor",
]

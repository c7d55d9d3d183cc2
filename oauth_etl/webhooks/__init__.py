"""Xero's webhooks: a small receiver service that verifies each delivery and keeps it in an
Azure Storage queue, which the code location's sensor (oauth_etl/defs/webhooks/) drains
into per-tenant incremental runs. A webhook decides when a tenant is read, never what: the
run reads from its cursor with If-Modified-Since, as the daily run does.

Plain Python: no Dagster here. starlette and uvicorn come with the `webhooks` extra and are
imported by `receiver` only.
"""

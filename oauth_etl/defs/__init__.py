"""The Dagster layer: every Dagster object of the code location, loaded by `dg` from here.

`oauth_etl.definitions` loads this package with Dagster's defs-folder autoloading, so a
module added under `defs/` (by hand or `dg scaffold defs`) is picked up without a registry.
Plain code (OAuth, the Xero client, the landing writer and reader) lives outside `defs/`.
"""

"""The plain-Python wiring the command line and the Dagster layer share.

The environment contract (`contract`), the token sets it names (`sets`, `token_sets`),
and the Xero connection built from them (`connection`: token manager, lock, API client;
`landing`: the Azure parts it needs). No Dagster here.
"""

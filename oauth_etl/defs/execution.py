"""The code location's default executor."""

import dagster as dg


@dg.definitions
def execution() -> dg.Definitions:
    # "Materialize all" in the UI runs in process: see IN_PROCESS in xero/jobs.py for why.
    return dg.Definitions(executor=dg.in_process_executor)

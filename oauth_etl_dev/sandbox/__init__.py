"""A local Xero-compatible server (identity + accounting API) for the demo, tests and benchmarks.

Standalone: imports nothing from the rest of oauth_etl. Run it with
`python -m oauth_etl_dev.sandbox --client-id ID` or in-process with
`SandboxServer(SandboxConfig(client_id=...)).start()`.
"""

from oauth_etl_dev.sandbox.catalog import ENDPOINTS, SCOPES_BY_ENDPOINT, Endpoint, Paging
from oauth_etl_dev.sandbox.config import SandboxConfig
from oauth_etl_dev.sandbox.server import SandboxServer, SandboxStartError

__all__ = [
    "ENDPOINTS",
    "SCOPES_BY_ENDPOINT",
    "Endpoint",
    "Paging",
    "SandboxConfig",
    "SandboxServer",
    "SandboxStartError",
]

"""Development tools, not part of the oauth-etl package: the demo, `oauth-etl ui` and the
local stand-ins for the cloud (Azurite and the Xero sandbox as child processes).

Importable in the development install (`uv sync` in a clone: the editable install puts the
repository root on the path); the runtime wheel ships `oauth_etl` only.
"""

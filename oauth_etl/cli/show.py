"""How every command names a token set and a moment: one short id, dates not epochs."""

from __future__ import annotations

from datetime import UTC, datetime

from oauth_etl.oauth.errors import clip
from oauth_etl.oauth.tokens import TokenSet

__all__ = ["clip", "token_line", "when"]


def when(epoch: float) -> str:
    """`2026-12-07 01:23:45 UTC`."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def token_line(tokens: TokenSet) -> str:
    """`token set 1a2b3c4d5e6f, access token expires 2026-12-07 01:53:45 UTC`: the id
    `doctor` and `token status` show too (`TokenSet.fingerprint`)."""
    return f"token set {tokens.fingerprint()}, access token expires {when(tokens.expires_at)}"

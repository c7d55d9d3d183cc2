"""Xero's webhook signature: `x-xero-signature` is the base64 HMAC-SHA256 of the raw body,
keyed with the app's webhook key (developer.xero.com/documentation/webhooks/configuring-your-server,
"Intent to receive"). Verified over the bytes as received: parsing and re-serialising JSON
would change them."""

from __future__ import annotations

import base64
import hashlib
import hmac

HEADER = "x-xero-signature"


def sign(body: bytes, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(body: bytes, signature: str | None, key: str) -> bool:
    """True when `signature` signs `body` with `key` (constant-time comparison)."""
    if not signature:
        return False
    return hmac.compare_digest(
        sign(body, key).encode("ascii"), signature.strip().encode("ascii", "replace")
    )

"""OAuth 2.0 token lifecycle with no Dagster and no import from xero/: scopes, URLs and
client settings come as parameters, and what its messages and defaults say about the
provider (the names of its settings, the refresh token's lifetime, the lock's name, its
advice) comes as one `Provider` value (`oauth_etl.app.provider` builds Xero's).
`oauth_etl_tests/oauth/test_neutral.py` fails on a message or default naming Xero."""

from oauth_etl.oauth.auth import BearerAuth, is_expired_token_response
from oauth_etl.oauth.authorize import (
    DEFAULT_REDIRECT_URI,
    AuthorizationResult,
    authorize,
    build_authorize_url,
    code_challenge_s256,
    complete_authorization,
    generate_code_verifier,
    run_local_authorization,
)
from oauth_etl.oauth.endpoint import TokenEndpoint
from oauth_etl.oauth.errors import (
    AuthorizationFailed,
    AuthorizationRequired,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    LockTimeout,
    OAuthError,
    TokenEndpointError,
    TokenEndpointUnreachable,
    TokenRequestRejected,
    TokenSaveFailed,
    TokenStoreError,
)
from oauth_etl.oauth.locks import (
    CrossProcessLock,
    FileLock,
    LockLocation,
    keyvault_lock_location,
    secret_identity,
)
from oauth_etl.oauth.manager import TokenManager, TokenStatus
from oauth_etl.oauth.provider import NEUTRAL, Provider
from oauth_etl.oauth.rescue import (
    BlobRescueSink,
    FileRescueSink,
    RescueLocation,
    RescueSink,
    parse_rescue_location,
)
from oauth_etl.oauth.stores import (
    FileTokenStore,
    KeyVaultAccessError,
    KeyVaultTokenStore,
    StoreLocation,
    TokenStore,
    make_secret_client,
    open_store,
    parse_store_uri,
    read_secret,
)
from oauth_etl.oauth.tokens import TokenSet, fingerprint_of

__all__ = [
    "DEFAULT_REDIRECT_URI",
    "NEUTRAL",
    "AuthorizationFailed",
    "AuthorizationRequired",
    "AuthorizationResult",
    "BearerAuth",
    "BlobRescueSink",
    "CrossProcessLock",
    "FileLock",
    "FileRescueSink",
    "FileTokenStore",
    "InvalidClient",
    "InvalidGrant",
    "InvalidScope",
    "KeyVaultAccessError",
    "KeyVaultTokenStore",
    "LockLocation",
    "LockTimeout",
    "OAuthError",
    "Provider",
    "RescueLocation",
    "RescueSink",
    "StoreLocation",
    "TokenEndpoint",
    "TokenEndpointError",
    "TokenEndpointUnreachable",
    "TokenManager",
    "TokenRequestRejected",
    "TokenSaveFailed",
    "TokenSet",
    "TokenStatus",
    "TokenStore",
    "TokenStoreError",
    "authorize",
    "build_authorize_url",
    "code_challenge_s256",
    "complete_authorization",
    "fingerprint_of",
    "generate_code_verifier",
    "is_expired_token_response",
    "keyvault_lock_location",
    "make_secret_client",
    "open_store",
    "parse_rescue_location",
    "parse_store_uri",
    "read_secret",
    "run_local_authorization",
    "secret_identity",
]

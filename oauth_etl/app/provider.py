"""Xero as the provider-neutral token layer (`oauth_etl.oauth`) needs to describe it: the
variables a person fixes (from the environment contract) and Xero's facts."""

from __future__ import annotations

from oauth_etl.app import contract
from oauth_etl.oauth.provider import Provider


def _variable(field: str) -> str:
    return contract.variable_for("oauth", field).name


XERO = Provider(
    client_id_setting=_variable("client_id"),
    client_secret_setting=_variable("client_secret"),
    identity_url_setting=_variable("identity_url"),
    # Unused refresh tokens expire after 60 days
    # (developer.xero.com/documentation/guides/oauth2/auth-flow/, "Refreshing access tokens").
    refresh_token_lifetime_seconds=60 * 24 * 3600,
    # The lease blob every process of a deployment takes: the name it always had.
    lock_prefix="xero-token",
    # Xero support asks for it (as the API client's errors say: oauth_etl/xero/errors.py).
    correlation_header="xero-correlation-id",
    scope_advice=(
        "ask only for scopes enabled for the app (apps created from March 2026 need "
        "granular scopes such as accounting.invoices.read)"
    ),
    app_settings="developer.xero.com, My Apps → Configuration → Redirect URIs",
    opt_in_advice=(
        "apps created from March 2026 get no accounting.journals.read or "
        "accounting.classicexpenses.read; ask without --with-journals, or enable the scope "
        "on the app"
    ),
)

"""The webhook settings of the environment contract, and the signing key they name."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from oauth_etl.app import contract
from oauth_etl.app.contract import ConfigError, OAuthSettings, WebhookSettings


def webhook_settings(environ: Mapping[str, str] | None = None) -> WebhookSettings:
    return contract.settings(WebhookSettings, environ)


def webhook_key(
    settings: WebhookSettings,
    environ: Mapping[str, str] | None = None,
    read_secret: Callable[[str, str], str] | None = None,
) -> str:
    """XERO_WEBHOOK_KEY, else XERO_WEBHOOK_KEY_SECRET_NAME in XERO_CREDENTIALS_VAULT_URL
    (the vault that holds the app's other credentials). `read_secret(vault_url, name)`:
    oauth_etl.oauth.stores.read_secret unless given."""
    if settings.key:
        return settings.key
    if settings.key_secret_name:
        vault_url = contract.settings(OAuthSettings, environ).credentials_vault_url
        if not vault_url:
            raise ConfigError(
                "XERO_WEBHOOK_KEY_SECRET_NAME needs XERO_CREDENTIALS_VAULT_URL: the vault "
                "that holds it"
            )
        from oauth_etl.oauth.stores import read_secret as from_vault

        return (read_secret or from_vault)(vault_url, settings.key_secret_name)
    raise ConfigError(
        "no webhook key: set XERO_WEBHOOK_KEY (the app's Webhooks tab shows it) or "
        "XERO_WEBHOOK_KEY_SECRET_NAME"
    )

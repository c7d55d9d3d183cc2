"""The receiver's key from the environment contract: XERO_WEBHOOK_KEY, or Key Vault."""

from __future__ import annotations

import pytest

from oauth_etl.app.contract import ConfigError, WebhookSettings
from oauth_etl.webhooks.config import webhook_key, webhook_settings
from oauth_etl.webhooks.queue import open_queue


def test_the_key_comes_from_the_variable_first() -> None:
    env = {"XERO_WEBHOOK_KEY": "from-env", "XERO_WEBHOOK_KEY_SECRET_NAME": "hook"}
    assert webhook_key(webhook_settings(env), env, lambda *_: "from-vault") == "from-env"


def test_the_key_comes_from_the_credentials_vault() -> None:
    env = {
        "XERO_WEBHOOK_KEY_SECRET_NAME": "xero-webhook-key",
        "XERO_CREDENTIALS_VAULT_URL": "https://vault.example.vault.azure.net",
    }
    asked: list[tuple[str, str]] = []

    def read(vault: str, name: str) -> str:
        asked.append((vault, name))
        return "from-vault"

    assert webhook_key(webhook_settings(env), env, read) == "from-vault"
    assert asked == [("https://vault.example.vault.azure.net", "xero-webhook-key")]


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "no webhook key: set XERO_WEBHOOK_KEY"),
        ({"XERO_WEBHOOK_KEY_SECRET_NAME": "k"}, "needs XERO_CREDENTIALS_VAULT_URL"),
        ({"XERO_WEBHOOK_KEY": "   "}, "no webhook key"),  # blank is unset
    ],
)
def test_a_missing_key_says_what_to_set(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        webhook_key(webhook_settings(env), env)


def test_a_malformed_body_limit_names_its_variable() -> None:
    with pytest.raises(ConfigError, match="OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES"):
        webhook_settings({"OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES": "a lot"})


@pytest.mark.parametrize("limit", ["-5", "0", "1023"])
def test_a_body_limit_below_an_intent_to_receive_body_is_refused(limit: str) -> None:
    # Under 1 KiB every delivery, the intent-to-receive probe included, would get 413.
    with pytest.raises(ConfigError, match=r"OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES is .*at least 1024"):
        webhook_settings({"OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES": limit})


def test_a_body_limit_of_1024_is_accepted() -> None:
    found = webhook_settings({"OAUTH_ETL_WEBHOOK_MAX_BODY_BYTES": "1024"})
    assert found.max_body_bytes == 1024


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        ({"queue_connection_string": "a=b;c=d"}, "CONNECTION_STRING has an unknown key"),
        ({"queue_account_url": "https://"}, "ACCOUNT_URL is not a URL"),
    ],
)
def test_a_malformed_queue_account_names_its_variable(settings: dict[str, str], says: str) -> None:
    # Refused when the settings are built, before the storage SDK sees it.
    with pytest.raises(ConfigError, match=f"OAUTH_ETL_WEBHOOK_QUEUE_{says}"):
        open_queue(WebhookSettings(**settings))

"""`oauth-etl webhooks status` over Azurite's queue service: each way the queue cannot be
read is one line naming the queue, the account or the variable, with the fix for that
cause; `--json` prints the counts under documented keys, and never the account key."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from oauth_etl.webhooks.events import Event
from oauth_etl.webhooks.queue import WebhookQueue
from oauth_etl_dev.local_services import AZURITE_ACCOUNT, AZURITE_KEY, AzuriteQueue
from oauth_etl_tests.cli.conftest import cli

URL_VAR = "OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL"
CONNECTION_VAR = "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING"


def _one_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: ") and " — " in line, line
    assert AZURITE_KEY not in line
    return line


def test_a_missing_queue_names_it_and_says_serve_creates_it(azurite_queue: AzuriteQueue) -> None:
    name = f"absent-{uuid.uuid4().hex[:12]}"
    env = {CONNECTION_VAR: azurite_queue.connection_string, "OAUTH_ETL_WEBHOOK_QUEUE": name}
    line = _one_line(cli(env, "webhooks", "status"))
    assert f"webhook queue {name!r} on http://127.0.0.1:{azurite_queue.port}/" in line, line
    assert "does not exist" in line and "`oauth-etl webhooks serve` creates it" in line
    assert "ResourceNotFoundError" not in line


def test_an_http_account_url_says_use_https_or_a_connection_string(
    azurite_queue: AzuriteQueue,
) -> None:
    url = f"http://127.0.0.1:{azurite_queue.port}/{AZURITE_ACCOUNT}"
    line = _one_line(cli({URL_VAR: url}, "webhooks", "status"))
    assert line.startswith(f"error: {URL_VAR} is http://127.0.0.1:{azurite_queue.port}: ")
    assert "https://ACCOUNT.queue.core.windows.net" in line and CONNECTION_VAR in line
    assert "Token credential" not in line


@pytest.mark.parametrize("value", ["not-a-url", "https://", "x" * 10_000])
def test_a_value_that_is_not_a_url_is_refused_before_any_credential(value: str) -> None:
    line = _one_line(cli({URL_VAR: value}, "webhooks", "status", timeout=60))
    # Refused where the settings are built (app/syntax.py), before any credential.
    assert line.startswith(f"error: {URL_VAR} is not a URL")
    assert "https://ACCOUNT.queue.core.windows.net" in line
    assert "DefaultAzureCredential" not in line and "x" * 250 not in line


def test_status_counts_and_says_why_in_text_and_json_and_no_key(
    queue: WebhookQueue, azurite_queue: AzuriteQueue
) -> None:
    event = Event(str(uuid.uuid4()), "INVOICE", "UPDATE", str(uuid.uuid4()), "2026-12-07")
    queue.put([event])
    why = "tenant is not registered (materialize xero/tenants)"
    queue.set_aside([(event, why), (event, why)])
    queue.set_aside_text("not json", "not a delivery")
    env = {CONNECTION_VAR: azurite_queue.connection_string, "OAUTH_ETL_WEBHOOK_QUEUE": queue.name}
    text = cli(env, "webhooks", "status")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == [
        f"queue {queue.name}: 1 message(s) waiting, 3 event(s) set aside",
        f"set aside in {queue.name}-unactionable:",
        f"  2: {why}",
        "  1: not a delivery",
    ]
    done = cli(env, "webhooks", "status", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "queue": queue.name,
        "account": f"http://127.0.0.1:{azurite_queue.port}/{AZURITE_ACCOUNT}",
        "waiting": 1,
        "unactionable_queue": f"{queue.name}-unactionable",
        "set_aside": 3,
        "set_aside_reasons": {why: 2, "not a delivery": 1},
    }
    assert AZURITE_KEY not in done.stdout + done.stderr


@pytest.mark.parametrize("name", ["Bad_Name", "a", "-lead", "two--hyphens", "q" * 10_000])
def test_a_queue_name_azure_refuses_is_told_before_any_call(
    azurite_queue: AzuriteQueue, name: str
) -> None:
    env = {CONNECTION_VAR: azurite_queue.connection_string, "OAUTH_ETL_WEBHOOK_QUEUE": name}
    line = _one_line(cli(env, "webhooks", "status"))
    assert line.startswith("error: OAUTH_ETL_WEBHOOK_QUEUE ") and "is not a queue name" in line
    assert "lowercase letters" in line and len(line) < 400

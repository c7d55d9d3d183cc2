"""`oauth-etl doctor`'s webhook checks: the signing key and the queue (oauth_etl.webhooks).

Both ✔ "not configured" when no webhook variable is set: the daily schedule alone keeps the
data fresh then. Details name variables, queues and an exception's type, never a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from oauth_etl.app.contract import ConfigError, WebhookSettings
from oauth_etl.doctor import CheckResult, Step
from oauth_etl.doctor.causes import PROBE_TIMEOUT, Service, explain
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.storage.connection_string import account_endpoint, credential_kind
from oauth_etl.webhooks.config import webhook_key, webhook_settings
from oauth_etl.webhooks.queue import ACCOUNT_URL, CONNECTION_STRING, QueueUnavailable, open_queue

KEY = "webhook key"
QUEUE = "webhook queue"
NOT_CONFIGURED = "webhooks not configured: freshness is the daily run's"


def _cause(exc: BaseException) -> str:
    """The type and status of what the queue answered, not its text."""
    cause = exc.__context__ or exc
    status = getattr(cause, "status_code", None)
    code = getattr(cause, "error_code", None)
    extra = ", ".join(str(x) for x in (status, code) if x)
    return type(cause).__name__ + (f" ({extra})" if extra else "")


def check_key(settings: WebhookSettings, environ: Mapping[str, str]) -> CheckResult:
    try:
        key = webhook_key(settings, environ)
    except ConfigError as exc:
        return CheckResult(KEY, "fail", str(exc), "copy it from the app's Webhooks tab")
    except OAuthError as exc:  # Key Vault refused or has no such secret: our message
        return CheckResult(KEY, "fail", str(exc), "fix XERO_WEBHOOK_KEY_SECRET_NAME or access")
    source = "XERO_WEBHOOK_KEY" if settings.key else f"Key Vault {settings.key_secret_name}"
    if len(key) < 32:  # Xero's keys are long random strings: this one is not
        return CheckResult(KEY, "warn", f"key from {source} is short", "paste the whole key")
    return CheckResult(KEY, "ok", f"key from {source}")


def check_queue(settings: WebhookSettings) -> CheckResult:
    try:
        queue = open_queue(settings, timeout=PROBE_TIMEOUT)
    except ConfigError as exc:  # none named, or the one named is malformed: the detail says
        fix = "fix the variable named" if settings.configured() else "name its storage account"
        return CheckResult(QUEUE, "fail", str(exc), fix)
    try:
        waiting, aside = queue.depth()
    except QueueUnavailable as exc:
        if (cause := explain(exc, _queue_service(settings))) is not None:
            return CheckResult(QUEUE, "fail", cause.detail, cause.fix, cause.key)
        detail = f"queue {settings.queue!r} cannot be read: {_cause(exc)}"
        fix = "start `oauth-etl webhooks serve` once (it creates the queue) or fix the account"
        return CheckResult(QUEUE, "fail", detail, fix)
    finally:
        queue.close()
    detail = f"queue {settings.queue!r}: {waiting} message(s) waiting, {aside} set aside"
    if aside:
        fix = "events for unregistered tenants or unknown categories: `oauth-etl webhooks status`"
        return CheckResult(QUEUE, "warn", detail, fix)
    return CheckResult(QUEUE, "ok", detail)


def _queue_service(settings: WebhookSettings) -> Service:
    """The queue's account, named by its URL and the variable that sets it."""
    if settings.queue_connection_string:
        url = account_endpoint(settings.queue_connection_string, "queue")
        credential: Literal["key", "sas", "identity"] = credential_kind(
            settings.queue_connection_string
        )
        setting = CONNECTION_STRING
    else:
        url, credential, setting = settings.queue_account_url or "", "identity", ACCOUNT_URL
    role = "'Storage Queue Data Contributor' on the queue"
    return Service("the webhook queue's account", url, setting, role, credential, PROBE_TIMEOUT)


def _configured(environ: Mapping[str, str]) -> WebhookSettings | CheckResult | None:
    """The settings; None when no webhook variable is set; a skip when malformed."""
    try:
        settings = webhook_settings(environ)
    except ConfigError:  # the settings check names the variable and the fix, once
        return CheckResult(KEY, "skip", "skipped: a webhook setting is malformed (see settings)")
    if not (settings.key or settings.key_secret_name or settings.configured()):
        return None
    return settings


def check_webhook_key(environ: Mapping[str, str]) -> CheckResult:
    found = _configured(environ)
    if found is None:
        return CheckResult(KEY, "ok", NOT_CONFIGURED)
    return found if isinstance(found, CheckResult) else check_key(found, environ)


def check_webhook_queue(environ: Mapping[str, str]) -> CheckResult:
    found = _configured(environ)
    if found is None:
        return CheckResult(QUEUE, "ok", NOT_CONFIGURED)
    if isinstance(found, CheckResult):
        return CheckResult(QUEUE, "skip", found.detail)
    return check_queue(found)


def webhook_steps(environ: Mapping[str, str]) -> list[Step]:
    """The webhook checks as doctor steps (the queue check needs the key's)."""
    return [
        Step(KEY, lambda: check_webhook_key(environ)),
        Step(QUEUE, lambda: check_webhook_queue(environ), (KEY,)),
    ]

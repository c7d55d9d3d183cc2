"""The Azure Storage queue a delivery waits in until the sensor has asked for its runs.

One message holds the events of one delivery, or a share of them: a queue message is at
most 64 KiB (learn.microsoft.com/rest/api/storageservices/put-message), so a large delivery
is split. Messages never expire (time to live -1): events wait as long as Dagster is away.
Events the sensor cannot act on (an unregistered tenant, a category no endpoint reads) are
moved to the `<queue>-unactionable` queue with the reason, for a person to look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from oauth_etl.app.contract import ConfigError, WebhookSettings
from oauth_etl.app.settings import UNACTIONABLE_SUFFIX
from oauth_etl.webhooks.events import DeliveryError, Event, decode_events, encode_events

if TYPE_CHECKING:
    from azure.storage.queue import QueueClient

MAX_MESSAGE_BYTES = 48 * 1024  # under the 64 KiB limit, with room for the XML envelope
NEVER_EXPIRES = -1
CONNECTION_STRING = "OAUTH_ETL_WEBHOOK_QUEUE_CONNECTION_STRING"
ACCOUNT_URL = "OAUTH_ETL_WEBHOOK_QUEUE_ACCOUNT_URL"
QUEUE_VAR = "OAUTH_ETL_WEBHOOK_QUEUE"
# The most one Peek Messages returns (learn.microsoft.com/rest/api/storageservices/peek-messages).
PEEK_LIMIT = 32


class QueueUnavailable(RuntimeError):
    """The queue could not be reached or refused the call; the message says why."""


@dataclass(frozen=True)
class Received:
    """One message taken from the queue (invisible to others until its visibility ends)."""

    id: str
    pop_receipt: str
    events: tuple[Event, ...]
    content: str = ""
    problem: str | None = None  # not a message this code wrote


def chunks(events: list[Event], limit: int = MAX_MESSAGE_BYTES) -> Iterator[bytes]:
    """The events as messages of at most `limit` bytes each."""
    start = 0
    while start < len(events):
        end = len(events)
        text = encode_events(events[start:end])
        while len(text) > limit and end - start > 1:
            end = start + max(1, (end - start) // 2)
            text = encode_events(events[start:end])
        yield text
        start = end


class WebhookQueue:
    """The deliveries queue and its unactionable twin, on one storage account."""

    def __init__(
        self, main: QueueClient, unactionable: QueueClient, setting: str = CONNECTION_STRING
    ) -> None:
        self.main = main
        self.unactionable = unactionable
        self.setting = setting  # the variable that names the account, for the fixes

    @property
    def name(self) -> str:
        return str(self.main.queue_name)

    @property
    def account(self) -> str:
        """The account's queue endpoint, never its query (a SAS)."""
        return f"{self.main.scheme}://{self.main.primary_hostname}"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from azure.core.exceptions import AzureError

        try:
            return fn(*args, **kwargs)
        except AzureError as exc:
            raise QueueUnavailable(self._explain(what, exc)) from None

    def _explain(self, what: str, exc: BaseException) -> str:
        """`<what failed> — <the fix for that cause>`, from the error's type and status; the
        SDK's text only as a last resort (its first line: no credential is ever in it)."""
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
        )

        where = f"webhook queue {self.name!r} on {self.account}"
        if isinstance(exc, ResourceNotFoundError):
            return (
                f"{where} does not exist — `oauth-etl webhooks serve` creates it (and "
                f"{self.unactionable.queue_name!r}) when it starts; or set {QUEUE_VAR} to the "
                "queue the receiver uses"
            )
        if isinstance(exc, ClientAuthenticationError):
            return (
                f"{where}: {what} was refused: the credential was not accepted or none was "
                f"found — check the account key in {CONNECTION_STRING}, or the Azure identity "
                "(`az login`, a managed identity) and its 'Storage Queue Data Contributor' role"
            )
        if isinstance(exc, HttpResponseError) and exc.status_code == 403:
            return (
                f"{where}: {what} is forbidden (403) — give the identity the 'Storage Queue "
                "Data Contributor' role on the account"
            )
        if isinstance(exc, ServiceRequestError):
            return (
                f"{where}: {what} failed: the account cannot be reached — check {self.setting} "
                "(the account's queue endpoint) and the network"
            )
        from oauth_etl.storage.account import redact  # a transport error may quote a SAS

        detail = redact((str(exc).splitlines() or [""])[0])[:200]
        reason = f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
        return f"{where}: {what} failed: {reason} — check {self.setting} and the account"

    def ensure(self) -> None:
        """Create both queues if missing."""
        from azure.core.exceptions import ResourceExistsError

        for client in (self.main, self.unactionable):
            try:
                self._call("create", client.create_queue)
            except QueueUnavailable as exc:
                if not isinstance(exc.__context__, ResourceExistsError):
                    raise

    def put(self, events: Iterable[Event]) -> int:
        """Persist the events; the number of messages written."""
        written = 0
        for text in chunks(list(events)):
            self._call("put", self.main.send_message, text.decode(), time_to_live=NEVER_EXPIRES)
            written += 1
        return written

    def receive(self, limit: int, visibility_timeout: int) -> list[Received]:
        """Up to `limit` messages, each hidden from other readers for `visibility_timeout` s."""
        found: list[Received] = []
        pages = self._call(
            "receive",
            self.main.receive_messages,
            messages_per_page=min(32, limit),
            visibility_timeout=visibility_timeout,
            max_messages=limit,
        )
        for message in self._call("receive", list, pages):
            try:
                events, problem = tuple(decode_events(message.content)), None
            except DeliveryError as exc:
                events, problem = (), str(exc)
            found.append(
                Received(message.id, message.pop_receipt, events, str(message.content), problem)
            )
        return found

    def delete(self, message_id: str, pop_receipt: str) -> bool:
        """Delete a received message; False when it is gone or was received again since
        (its pop receipt no longer matches: the newer reader deletes it)."""
        from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

        try:
            self._call("delete", self.main.delete_message, message_id, pop_receipt)
        except QueueUnavailable as exc:
            cause = exc.__context__
            if isinstance(cause, ResourceNotFoundError) or (
                isinstance(cause, HttpResponseError) and cause.status_code in (400, 404)
            ):
                return False
            raise
        return True

    def set_aside(self, items: list[tuple[Event, str]]) -> None:
        """Keep events nothing can act on, each with its reason, in the unactionable queue."""
        for event, reason in items:
            text = orjson.dumps({"reason": reason, "event": event.as_json()}).decode()
            self._call(
                "set aside", self.unactionable.send_message, text, time_to_live=NEVER_EXPIRES
            )

    def set_aside_text(self, content: str, reason: str) -> None:
        """Keep a message that holds no events this code can read, with the reason."""
        # Cut to fit a message: the reason is what a person needs, the start shows the rest.
        text = orjson.dumps({"reason": reason, "message": content[:32_000]}).decode()
        self._call("set aside", self.unactionable.send_message, text, time_to_live=NEVER_EXPIRES)

    def depth(self) -> tuple[int, int]:
        """Approximate message counts: (waiting, set aside)."""
        counts = []
        for client in (self.main, self.unactionable):
            props = self._call("read properties", client.get_queue_properties)
            counts.append(int(props.approximate_message_count or 0))
        return counts[0], counts[1]

    def aside_reasons(self) -> dict[str, int]:
        """Why the first PEEK_LIMIT set-aside messages were set aside, counted (a peek:
        the messages stay). A message this code did not write counts as "unreadable"."""
        peeked = self._call("peek", self.unactionable.peek_messages, max_messages=PEEK_LIMIT)
        reasons: dict[str, int] = {}
        for message in peeked:
            try:
                reason = str(orjson.loads(message.content)["reason"])[:300]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                reason = "unreadable (not written by the sensor)"
            reasons[reason] = reasons.get(reason, 0) + 1
        return reasons

    def close(self) -> None:
        self.main.close()
        self.unactionable.close()


def open_queue(settings: WebhookSettings, *, timeout: float = 10.0) -> WebhookQueue:
    """The queue the settings name. `timeout` bounds each call (connect and read, one
    retry), so the receiver can answer within Xero's 5 s even when the queue hangs."""
    from azure.storage.queue import LinearRetry, QueueClient

    options: dict[str, Any] = {
        "connection_timeout": timeout,
        "read_timeout": timeout,
        # The storage SDK's default retry waits 15 s first: far past Xero's 5 s.
        "retry_policy": LinearRetry(backoff=0.2, random_jitter_range=0, retry_total=1),  # type: ignore[arg-type]
    }
    names = (settings.queue, settings.queue + UNACTIONABLE_SUFFIX)
    if settings.queue_connection_string:
        conn = settings.queue_connection_string
        try:
            clients = [QueueClient.from_connection_string(conn, name, **options) for name in names]
        except ValueError as exc:  # the SDK's message names no variable
            raise ConfigError(_malformed(CONNECTION_STRING, exc, conn)) from None
    elif settings.queue_account_url:
        url = settings.queue_account_url
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
        try:
            clients = [QueueClient(url, name, credential=credential, **options) for name in names]
        except ValueError as exc:
            raise ConfigError(_malformed(ACCOUNT_URL, exc, url)) from None
        return WebhookQueue(clients[0], clients[1], ACCOUNT_URL)
    else:
        raise ConfigError(f"no webhook queue: set {CONNECTION_STRING} or {ACCOUNT_URL}")
    return WebhookQueue(clients[0], clients[1])


def _malformed(variable: str, exc: ValueError, value: str) -> str:
    """What is wrong with `variable` and what to set; never its value (a connection string
    holds the account key)."""
    from oauth_etl.storage.account import redact  # the SDK may quote its parts (a sig=)

    text = redact(str(exc))
    why = text.splitlines()[0][:200] if text and value not in text else "malformed"
    if variable == CONNECTION_STRING:
        fix = (
            "set it to the storage account's connection string (Azure portal, the account's "
            '"Access keys": DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;'
            f"EndpointSuffix=core.windows.net), or unset it and set {ACCOUNT_URL}"
        )
    else:
        fix = "set it to https://ACCOUNT.queue.core.windows.net"
    return f"{variable} is not usable ({why}): {fix}"

"""`oauth-etl webhooks`: run the receiver (`serve`) and look at the queue (`status`).

Registered by the command line as a deferred group, so `oauth-etl --help` imports none of
this; `serve` needs the `webhooks` extra (starlette, uvicorn).
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import NoReturn

import click
import orjson

from oauth_etl.app.contract import ConfigError
from oauth_etl.oauth.errors import OAuthError
from oauth_etl.webhooks.queue import PEEK_LIMIT, QueueUnavailable

DEFAULT_PORT = 8787


def _fail(message: object) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def listen(
    host: str,
    port: int,
    fix: str = "choose another port with --port (or the interface with --host)",
) -> socket.socket:
    """The bound, listening socket a server serves on: bound first so that a port taken or
    a host unknown is a one-line error before "listening" is said (uvicorn would exit 3;
    `oauth-etl ui` checks its port with it too)."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        why = exc.strerror or str(exc)
        _fail(f"cannot listen on {host}:{port}: {why} — {fix}")


@click.group("webhooks", help="Xero's webhooks: the receiver and its queue.")
def webhooks() -> None:
    pass


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(0, 65535))
def serve(host: str, port: int) -> None:
    """Receive Xero's deliveries on POST /webhooks/xero (GET /healthz: alive)."""
    try:
        import uvicorn

        from oauth_etl.webhooks.receiver import PATH, build_app
    except ImportError:
        _fail("the receiver needs the `webhooks` extra: pip install 'oauth-etl[webhooks]'")
    from oauth_etl.webhooks.config import webhook_key, webhook_settings
    from oauth_etl.webhooks.queue import open_queue

    try:
        settings = webhook_settings()
        key = webhook_key(settings)
        queue = open_queue(settings, timeout=2.0)
        queue.ensure()
    except (ConfigError, OAuthError, QueueUnavailable, ValueError) as exc:
        _fail(exc)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app = build_app(key, queue, max_body_bytes=settings.max_body_bytes)
    try:
        listening = listen(host, port)
        port = int(listening.getsockname()[1])  # --port 0: the one the system chose
        click.echo(f"listening on http://{host}:{port}{PATH} (queue {queue.name})", err=True)
        # No access log: it would print nothing secret, but nothing useful either.
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        queue.close()


@webhooks.command("status")
# The webhooks layer sits below oauth_etl.cli, so the option is spelled here, as there.
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts).")
def status(as_json: bool) -> None:
    """How many events wait in the queue, and how many were set aside."""
    from oauth_etl.webhooks.config import webhook_settings
    from oauth_etl.webhooks.queue import open_queue

    try:
        settings = webhook_settings()
        queue = open_queue(settings)
        try:
            waiting, aside = queue.depth()
            reasons = queue.aside_reasons() if aside else {}
            names, account = (queue.name, queue.unactionable.queue_name), queue.account
        finally:
            queue.close()
    except (ConfigError, QueueUnavailable, ValueError) as exc:
        _fail(exc)
    if as_json:
        # Keys documented in the README (Webhooks): no credential, the account without query.
        payload = {
            "queue": names[0],
            "account": account,
            "waiting": waiting,
            "unactionable_queue": names[1],
            "set_aside": aside,
            "set_aside_reasons": reasons,  # of the first PEEK_LIMIT set aside
        }
        click.echo(orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"queue {settings.queue}: {waiting} message(s) waiting, {aside} event(s) set aside")
    if reasons:
        first = f" (the first {PEEK_LIMIT})" if aside > PEEK_LIMIT else ""
        click.echo(f"set aside in {names[1]}{first}:")
        for reason, count in sorted(reasons.items(), key=lambda item: -item[1]):
            click.echo(f"  {count}: {reason}")

"""Run the sandbox with uvicorn: in this thread (CLI) or in a background thread (tests)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable

import uvicorn

try:
    import uvloop

    _new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
    _new_loop = asyncio.new_event_loop

from oauth_etl_dev.sandbox.app import SandboxApp
from oauth_etl_dev.sandbox.config import SandboxConfig


class SandboxStartError(RuntimeError):
    """The sandbox server did not come up."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 picks a free one (the real port is then known at once)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SandboxStartError(f"cannot listen on {host}:{port}: {exc}") from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def _uvicorn_config(app: SandboxApp, config: SandboxConfig) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=config.access_log,
        lifespan="off",
        timeout_keep_alive=30,
        # Bounded stop even while a `delay` fault holds a request open.
        timeout_graceful_shutdown=2,
        backlog=2048,
    )


def _run_in_thread(server: uvicorn.Server, sock: socket.socket) -> None:
    # uvloop as in the CLI: with the stdlib loop in a thread, keep-alive requests were
    # answered ~40 ms late.
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        runner.run(server.serve(sockets=[sock]))


class SandboxServer:
    """A sandbox in a background thread: `url = server.start()`, then `server.stop()`."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.app = SandboxApp(config)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> str:
        sock = bind_socket(self.config.host, self.config.port)
        host, port = sock.getsockname()[:2]
        self.url = f"http://{host}:{port}"
        server = uvicorn.Server(_uvicorn_config(self.app, self.config))
        self._server = server
        # uvicorn installs no signal handlers off the main thread.
        self._thread = threading.Thread(
            target=_run_in_thread,
            args=(server, sock),
            name="xero-sandbox",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                raise SandboxStartError(f"sandbox did not start within {timeout:.0f} s")
            time.sleep(0.01)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(config: SandboxConfig, announce: Callable[[str], None]) -> None:
    """Serve in this thread until SIGINT/SIGTERM; `announce` gets the URL once bound."""
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    announce(f"http://{host}:{port}")
    server = uvicorn.Server(_uvicorn_config(SandboxApp(config), config))
    server.run(sockets=[sock])

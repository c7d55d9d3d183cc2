"""Local stand-ins for the cloud: Azurite and the Xero sandbox as child processes.

The demo, the test suite, the benchmarks and `make ui` all start their services
here, so there is one way to find a free loopback port, wait for readiness and
stop a service (also on failure or Ctrl-C).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class LocalServiceError(RuntimeError):
    """A local service could not be started."""


# "LOW-HIGH": the ports this process (and its children) may hand out. Parallel test
# workers each get their own block (oauth_etl_tests/conftest.py), so two of them never
# probe the same free port and then race to bind it.
PORT_RANGE_VAR = "OAUTH_ETL_PORT_RANGE"
_port_cursor = [random.randrange(1 << 16)]  # a child process starts elsewhere in the block
_port_lock = threading.Lock()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now (in $OAUTH_ETL_PORT_RANGE, if set)."""
    span = os.environ.get(PORT_RANGE_VAR)
    if not span:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            return int(sock.getsockname()[1])
    low, high = (int(bound) for bound in span.split("-", 1))
    with _port_lock:
        for _ in range(high - low + 1):
            _port_cursor[0] += 1
            port = low + _port_cursor[0] % (high - low + 1)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((LOOPBACK, port))
                except OSError:
                    continue
            return port
    raise LocalServiceError(f"no free port in {PORT_RANGE_VAR}={span}")


def wait_for_port(port: int, timeout: float, process: subprocess.Popen[bytes] | None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LocalServiceError(f"process exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), 0.2):
            return
        time.sleep(0.05)
    raise LocalServiceError(f"nothing listened on {LOOPBACK}:{port} within {timeout:.0f} s")


@dataclass
class ServiceProcess:
    """A child process we started and must stop."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path | None = None
    _stopped: bool = field(default=False, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout)

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def spawn_service(
    name: str,
    argv: Sequence[str],
    url: str,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> ServiceProcess:
    """Start a service with its output in `log_path`; stop it with `.stop()`."""
    log = log_path.open("wb")
    try:
        # Own process group: stop() takes down the service and any children it forks.
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=None if env is None else dict(env),
            cwd=cwd,
        )
    except FileNotFoundError as exc:
        raise LocalServiceError(f"cannot start {name}: {exc}") from exc
    finally:
        log.close()
    service = ServiceProcess(name, process, url, log_path)
    atexit.register(service.stop)
    return service


def azurite_executable(name: str = "azurite-blob") -> str:
    local = PROJECT_ROOT / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise LocalServiceError(
            f"{name} not found: run `npm ci` in the project root (or `make deps`)"
        )
    return found


def azurite_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
    )


@dataclass
class Azurite:
    service: ServiceProcess
    port: int

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.port)

    def stop(self) -> None:
        self.service.stop()


def start_azurite(
    port: int | None = None, extent_memory_limit_mb: int = 512, timeout: float = 30.0
) -> Azurite:
    """Start an in-memory Azurite blob service on a free loopback port."""
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="oauth-etl-azurite-"))
    argv = [
        azurite_executable(),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
        "--blobHost",
        LOOPBACK,
        "--blobPort",
        str(port),
        "--extentMemoryLimit",
        str(extent_memory_limit_mb),
    ]
    service = spawn_service("azurite", argv, f"http://{LOOPBACK}:{port}", workdir / "azurite.log")
    try:
        wait_for_port(port, timeout, service.process)
    except LocalServiceError as exc:
        service.stop()
        raise LocalServiceError(f"Azurite did not start: {exc}\n{service.log_tail()}") from exc
    return Azurite(service, port)


def azurite_queue_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"QueueEndpoint=http://{LOOPBACK}:{port}/{AZURITE_ACCOUNT};"
    )


@dataclass
class AzuriteQueue:
    """Azurite's queue service (the webhook queue), in memory."""

    service: ServiceProcess
    port: int

    @property
    def connection_string(self) -> str:
        return azurite_queue_connection_string(self.port)

    def stop(self) -> None:
        self.service.stop()


def start_azurite_queue(port: int | None = None, timeout: float = 30.0) -> AzuriteQueue:
    """Start an in-memory Azurite queue service on a free loopback port."""
    port = port or free_port()
    workdir = Path(tempfile.mkdtemp(prefix="oauth-etl-azurite-queue-"))
    argv = [
        azurite_executable("azurite-queue"),
        "--inMemoryPersistence",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--silent",
        "--queueHost",
        LOOPBACK,
        "--queuePort",
        str(port),
    ]
    log_path = workdir / "azurite-queue.log"
    service = spawn_service("azurite-queue", argv, f"http://{LOOPBACK}:{port}", log_path)
    try:
        wait_for_port(port, timeout, service.process)
    except LocalServiceError as exc:
        service.stop()
        raise LocalServiceError(
            f"Azurite queue did not start: {exc}\n{service.log_tail()}"
        ) from exc
    return AzuriteQueue(service, port)


@dataclass
class Sandbox:
    service: ServiceProcess
    client_id: str
    client_secret: str | None

    @property
    def url(self) -> str:
        return self.service.url

    def stop(self) -> None:
        self.service.stop()


def start_sandbox(
    *,
    client_id: str,
    client_secret: str | None,
    extra_args: Sequence[str] = (),
    timeout: float = 30.0,
) -> Sandbox:
    """Start `oauth-etl sandbox` on a free loopback port and wait for its first line."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "oauth_etl_dev.sandbox",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--client-id",
        client_id,
        *extra_args,
    ]
    # The secret in the environment, not on the command line (which `ps` shows).
    env = {k: v for k, v in os.environ.items() if k != "SANDBOX_CLIENT_SECRET"}
    if client_secret:
        env["SANDBOX_CLIENT_SECRET"] = client_secret
    log_path = Path(tempfile.mkdtemp(prefix="oauth-etl-sandbox-")) / "sandbox.log"
    service = spawn_service("sandbox", argv, f"http://{LOOPBACK}:{port}", log_path, env=env)
    try:
        wait_for_port(port, timeout, service.process)
    except LocalServiceError as exc:
        service.stop()
        raise LocalServiceError(f"sandbox did not start: {exc}\n{service.log_tail()}") from exc
    return Sandbox(service, client_id, client_secret)


@contextlib.contextmanager
def running(*services: Azurite | AzuriteQueue | Sandbox) -> Iterator[None]:
    """Stop the given services on exit, including on Ctrl-C and SIGTERM."""

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        for service in services:
            service.stop()
        signal.signal(signal.SIGTERM, previous)

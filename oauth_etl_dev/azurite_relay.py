"""A loopback relay that gives Azurite 3.35 the `startFrom` listing delta-rs relies on.

delta-rs (object_store 0.13) lists `_delta_log/` with `List Blobs ... &startFrom=<name>` to
find the commits after a version. Azure honours it (service version 2026-02-06); Azurite
accepts it but ignored it until 3.37.0 (its ChangeLog: "Previously the parameter was accepted
but ignored"), and 3.37 needs Node 22 while the project's Azurite (3.35.0) runs on Node 20.
Without it, the third commit to a table fails with "Invalid table version: 1".

The relay forwards every request unchanged (the SharedKey signature covers the query, so
nothing may be rewritten) and, on a listing that asked for `startFrom`, drops the `<Blob>`
entries that sort before it, which is what Azure returns. Used only in front of the local
emulator (tests, bench, demo); never for a real storage account.
"""

from __future__ import annotations

import http.client
import re
import sys
import tempfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

from oauth_etl_dev.local_services import (
    LOOPBACK,
    LocalServiceError,
    ServiceProcess,
    free_port,
    spawn_service,
    wait_for_port,
)

UPSTREAM_TIMEOUT = 60.0
_BLOB = re.compile(rb"<Blob>.*?</Blob>", re.DOTALL)
_NAME = re.compile(rb"<Name>(.*?)</Name>", re.DOTALL)
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def filter_listing(body: bytes, start_from: str) -> bytes:
    """A List Blobs XML body without the blobs whose name sorts before `start_from`."""
    start = start_from.encode()

    def keep(match: re.Match[bytes]) -> bytes:
        name = _NAME.search(match.group(0))
        if name is None or _unescape(name.group(1)) >= start:
            return match.group(0)
        return b""

    return _BLOB.sub(keep, body)


def _unescape(raw: bytes) -> bytes:
    return (
        raw.replace(b"&lt;", b"<")
        .replace(b"&gt;", b">")
        .replace(b"&quot;", b'"')
        .replace(b"&apos;", b"'")
        .replace(b"&amp;", b"&")
    )


class _Relay(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: with Nagle on, the body waits for the
    # client's delayed ACK (~40 ms on Linux loopback) on every answer.
    disable_nagle_algorithm = True
    upstream_port: int = 0
    _connection: http.client.HTTPConnection | None = None

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet: requests carry signatures, and tests read stderr

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        for attempt in (1, 2):  # a pooled connection Azurite closed: reconnect once
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    LOOPBACK, self.upstream_port, timeout=UPSTREAM_TIMEOUT
                )
            try:
                self._connection.request(self.command, self.path, body=body, headers=headers)
                response = self._connection.getresponse()
                data = response.read()
                break
            except (ConnectionError, http.client.HTTPException):
                self._connection.close()
                self._connection = None
                if attempt == 2:
                    raise
        query = parse_qs(urlsplit(self.path).query)
        if response.status == 200 and "startFrom" in query and query.get("comp") == ["list"]:
            data = filter_listing(data, query["startFrom"][0])
        self.send_response(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in _HOP:
                self.send_header(key, value)
        # A HEAD answer keeps the blob's own length (readers size blobs by it).
        size = response.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", size or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward


def serve(upstream_port: int, port: int) -> None:
    """Relay 127.0.0.1:`port` to Azurite on 127.0.0.1:`upstream_port` until killed."""
    handler = type("Relay", (_Relay,), {"upstream_port": upstream_port})
    server = ThreadingHTTPServer((LOOPBACK, port), handler)
    server.daemon_threads = True
    server.serve_forever()


class StartFromRelay:
    """The relay as a child process (delta-rs holds the GIL in some calls, so a relay thread
    in the same interpreter could deadlock). `with StartFromRelay(azurite_port) as relay:`,
    then point delta-rs at `relay.port`."""

    def __init__(self, upstream_port: int, timeout: float = 30.0) -> None:
        self.upstream_port = upstream_port
        self.timeout = timeout
        self.port = 0
        self._service: ServiceProcess | None = None

    def start(self) -> StartFromRelay:
        self.port = free_port()
        log = Path(tempfile.mkdtemp(prefix="oauth-etl-relay-")) / "relay.log"
        argv = [sys.executable, "-m", __name__, str(self.upstream_port), str(self.port)]
        self._service = spawn_service("azurite-relay", argv, f"http://{LOOPBACK}:{self.port}", log)
        try:
            wait_for_port(self.port, self.timeout, self._service.process)
        except LocalServiceError:
            self._service.stop()
            raise
        return self

    def stop(self) -> None:
        if self._service is not None:
            self._service.stop()

    def __enter__(self) -> StartFromRelay:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))

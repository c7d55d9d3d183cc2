"""A throwaway PostgreSQL server on 127.0.0.1 for the production-instance tests.

Uses the distribution's server binaries (Debian: /usr/lib/postgresql/*/bin; CI installs
them with deploy/ensure-postgres.sh). initdb refuses to run as root, so as root the
cluster runs as the `postgres` system user (or `nobody`) in a temp dir that user owns.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

USER = "dagster"
DATABASE = "dagster"
START_ATTEMPTS = 3  # a free port can be taken between probing and binding
COMMAND_TIMEOUT_SECONDS = 60


class PostgresUnavailable(RuntimeError):
    """PostgreSQL server binaries are missing or the server would not start."""


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str
    database: str
    password: str = field(repr=False)

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables deploy/dagster.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_USERNAME": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
            "DAGSTER_PG_DB": self.database,
        }


def _version_key(path: Path) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in path.parent.name.split("."))
    except ValueError:
        return (0,)


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl, newest version first."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for tool in ("pg_ctl", "initdb"):
        found = shutil.which(tool)
        if found:
            candidates.append(Path(os.path.realpath(found)).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    return None


def _server_user() -> str | None:
    """The user to run the server as: None for the current user unless it is root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise PostgresUnavailable("running as root and neither `postgres` nor `nobody` exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(cmd: Sequence[str], run_as: str | None) -> subprocess.CompletedProcess[str]:
    full = ["runuser", "-u", run_as, "--", *cmd] if run_as else list(cmd)
    return subprocess.run(
        full,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        check=False,
        env={**os.environ, "LC_ALL": "C"},
    )


def _chown(path: Path, run_as: str | None) -> None:
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(path, entry.pw_uid, entry.pw_gid)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """Start a fresh cluster with password auth on 127.0.0.1 and remove it afterwards."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: run deploy/ensure-postgres.sh"
        )
    run_as = _server_user()
    base = Path(tempfile.mkdtemp(prefix="oauth-etl-pg-"))
    data = base / "data"
    started = False
    try:
        _chown(base, run_as)
        password = secrets.token_urlsafe(18)
        pwfile = base / "pwfile"
        pwfile.write_text(password)
        pwfile.chmod(0o600)
        _chown(pwfile, run_as)
        init = _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--locale=C",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            run_as,
        )
        pwfile.unlink()
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-2000:]}")
        port = 0
        last_error = ""
        for _ in range(START_ATTEMPTS):
            port = _free_port()
            options = f"-h 127.0.0.1 -p {port} -k {base} -c fsync=off -c full_page_writes=off"
            start = _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(base / "server.log"),
                    "-w",
                    "-t",
                    "30",
                    "-o",
                    options,
                    "start",
                ],
                run_as,
            )
            if start.returncode == 0:
                started = True
                break
            log = base / "server.log"
            last_error = log.read_text()[-2000:] if log.exists() else start.stderr
        if not started:
            raise PostgresUnavailable(f"pg_ctl start failed: {last_error.strip()}")
        server = PostgresServer("127.0.0.1", port, USER, DATABASE, password)
        _create_database(server)
        yield server
    finally:
        if started:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], run_as)
        shutil.rmtree(base, ignore_errors=True)


def _create_database(server: PostgresServer) -> None:
    import psycopg2  # from dagster-postgres

    conn = psycopg2.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        connect_timeout=10,
    )
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{server.database}"')
    finally:
        conn.close()

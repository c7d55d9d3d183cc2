"""`oauth-etl ui`: `dagster dev` on the local stack (sandbox, Azurite, a file token store)
until Ctrl-C.

The port is bound first, so a taken one is a one-line error before anything starts (as
`webhooks serve`); the UI's address is said once the webserver answers; and `dagster dev`
ending on its own (its webserver or daemon died: it logs why, then exits 0) ends the
command with exit status 1, since only Ctrl-C is meant to stop it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import click

from oauth_etl.webhooks.cli import listen
from oauth_etl_dev.demo import LOCAL_HOME, Echo, local_stack
from oauth_etl_dev.local_services import LOOPBACK, PROJECT_ROOT, LocalServiceError, wait_for_port

# The webserver loads the code location before it listens: a minute on a busy machine.
START_SECONDS = 300.0
STOP_SECONDS = 30.0


class UiStopped(click.ClickException):
    """`dagster dev` ended without Ctrl-C, or never served: exit status 1, one line."""

    def show(self, file: object = None) -> None:
        click.echo(f"error: {self.message}", err=True)


def run_ui(*, port: int, echo: Echo) -> int:
    """`dagster dev` against the local stack until Ctrl-C (0), or until it fails (1)."""
    listen(LOOPBACK, port, "choose another port with --port").close()
    home = LOCAL_HOME / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster.yaml", home / "dagster.yaml")
    sandbox_args = ["--tenants", "2", "--records", "2500", "--scopes", "new-app"]
    with local_stack(LOCAL_HOME / "ui", sandbox_args, echo) as stack:
        command = [
            sys.executable, "-m", "dagster", "dev",
            "-w", str(PROJECT_ROOT / "workspace.yaml"),
            "-h", LOOPBACK, "-p", str(port),
        ]  # fmt: skip
        # cwd: the project's own dagster.yaml is copied into DAGSTER_HOME, not read from here.
        env = {**os.environ, **stack.environment, "DAGSTER_HOME": str(home)}
        child = subprocess.Popen(command, env=env, cwd=home)
        try:
            try:
                wait_for_port(port, START_SECONDS, child)
            except LocalServiceError as exc:
                raise UiStopped(
                    f"`dagster dev` did not serve on {LOOPBACK}:{port} ({exc}) — see its log "
                    "above; another --port if it says the address is in use"
                ) from None
            echo(
                f"Dagster UI on http://{LOOPBACK}:{port}: materialize xero/tenants, then "
                "xero_extract"
            )
            status = child.wait()
        except KeyboardInterrupt:  # the terminal sent it to `dagster dev` too: it stops
            return 0
        finally:
            _stop(child)
        raise UiStopped(
            f"`dagster dev` stopped by itself (exit status {status}): its webserver or daemon "
            "shut down — its log above says why; fix that and run `oauth-etl ui` again"
        )


def _stop(child: subprocess.Popen[bytes]) -> None:
    """Wait for `dagster dev` to end; bounded: interrupt, then kill."""
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGINT)  # dagster dev stops its webserver and daemon itself
    try:
        child.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(timeout=STOP_SECONDS)


@click.command("ui")
@click.option("--port", type=click.IntRange(1, 65535), default=3000, show_default=True)
def ui_command(port: int) -> None:
    """`dagster dev` wired to the local defaults (sandbox, Azurite, file store)."""
    sys.exit(run_ui(port=port, echo=click.echo))

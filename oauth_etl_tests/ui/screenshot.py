"""`make screenshot`: the Dagster UI over the local stack, captured with headless Chromium.

Starts a sandbox Xero and Azurite, authorizes without a browser, starts
`dagster-webserver` on the project's workspace, materializes xero/tenants and one
tenant's whole `xero` group through GraphQL, then saves
docs/images/asset-graph.png and docs/images/materialization.png.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from oauth_etl_dev.demo import Echo, local_stack
from oauth_etl_dev.local_services import PROJECT_ROOT
from oauth_etl_tests.ui.webserver import (
    ASSET_NODES_QUERY,
    Repository,
    Webserver,
    WebserverError,
    launch_assets,
    partition_keys,
    repository,
    run_to_success,
    running_webserver,
    write_dagster_home,
)

IMAGES = PROJECT_ROOT / "docs" / "images"
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
SANDBOX_ARGS = ["--tenants", "2", "--records", "250", "--no-limits"]
WINDOW = "1600,1000"
# Virtual time lets the UI's GraphQL fetches and graph layout settle before the capture.
VIRTUAL_TIME_MS = 15_000
CHROMIUM_TIMEOUT_SECONDS = 90.0
GROUP_RUN_TIMEOUT_SECONDS = 300.0
# A page still on its loading spinner compresses to a few KB; a rendered one to 100+ KB.
MIN_RENDERED_BYTES = 30_000


class ScreenshotError(RuntimeError):
    """A prerequisite is missing or a capture failed."""


def find_chromium() -> str:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ScreenshotError(
        "Chromium not found: install it (Debian/Ubuntu: `sudo apt-get install -y chromium`) "
        "and run `make screenshot` again"
    )


def capture(chromium: str, url: str, output: Path, profile: Path) -> None:
    """One headless Chromium screenshot of `url` into `output` (PNG)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.unlink(missing_ok=True)
    argv = [
        chromium,
        "--headless",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WINDOW}",
        f"--screenshot={output}",
        f"--virtual-time-budget={VIRTUAL_TIME_MS}",
        url,
    ]
    try:
        result = subprocess.run(
            argv,
            capture_output=True,
            timeout=CHROMIUM_TIMEOUT_SECONDS,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ScreenshotError(
            f"Chromium took over {CHROMIUM_TIMEOUT_SECONDS:.0f} s: {url}"
        ) from exc
    if not output.exists() or output.stat().st_size == 0:
        tail = result.stderr.decode(errors="replace")[-1500:]
        raise ScreenshotError(
            f"Chromium wrote no screenshot of {url} (exit {result.returncode}):\n{tail}"
        )
    if output.stat().st_size < MIN_RENDERED_BYTES:
        raise ScreenshotError(
            f"{output} looks blank ({output.stat().st_size} bytes): the page had not rendered "
            f"within {VIRTUAL_TIME_MS} ms of virtual time; raise VIRTUAL_TIME_MS"
        )


def materialize(server: Webserver, repo: Repository, echo: Echo) -> str:
    """xero/tenants, then every asset (and check) of the `xero` group for one tenant."""
    started = time.monotonic()
    run_to_success(server, launch_assets(server, repo, [("xero", "tenants")]))
    tenant = partition_keys(server, ("xero", "invoices"))[0]
    group = [
        tuple(n["assetKey"]["path"])
        for n in server.graphql(ASSET_NODES_QUERY)["assetNodes"]
        if n["groupName"] == "xero"
    ]
    echo(f"materializing {len(group)} xero assets for tenant {tenant} ...")
    run_id = launch_assets(server, repo, group, partition=tenant)
    run_to_success(server, run_id, timeout=GROUP_RUN_TIMEOUT_SECONDS)
    echo(f"materialized in {time.monotonic() - started:.1f} s")
    return tenant


def main() -> int:
    echo = print
    try:
        chromium = find_chromium()
    except ScreenshotError as exc:
        echo(str(exc))
        return 2
    with tempfile.TemporaryDirectory(prefix="oauth-etl-screenshot-") as scratch:
        root = Path(scratch)
        try:
            with (
                local_stack(root / "stack", SANDBOX_ARGS, echo) as stack,
                running_webserver(stack.environment, write_dagster_home(root / "home")) as server,
            ):
                echo(f"dagster-webserver at {server.url}")
                repo = repository(server)
                tenant = materialize(server, repo, echo)
                # The group's own page lays out its graph expanded; /asset-groups shows
                # only collapsed group boxes.
                group_page = f"/locations/{repo.name}@{repo.location}/asset-groups/xero"
                shots = {
                    IMAGES / "asset-graph.png": f"{server.url}{group_page}",
                    IMAGES / "materialization.png": (
                        f"{server.url}/assets/xero/invoices?view=events&partition={quote(tenant)}"
                    ),
                }
                for index, (output, url) in enumerate(shots.items()):
                    capture(chromium, url, output, root / f"chromium-{index}")
                    echo(f"wrote {output.relative_to(PROJECT_ROOT)} ({url})")
        except (ScreenshotError, WebserverError) as exc:
            echo(f"screenshot failed: {exc}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Figure 5: the cost of a cached access token, and refreshes when 8 steps start at once.

Cached cost: `timeit` of `TokenManager.access_token()` with a valid token in memory.
Stampede: the stored access token is made expired, then a Dagster job of 8 steps runs
on the multiprocess executor (8 processes, each building its own `XeroOAuthResource`)
against a `--strict` sandbox (any refresh-token reuse is `invalid_grant`); the sandbox
counts the refresh grants. The same is done with 8 threads of one process.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
import time
import timeit
from typing import Any

import dagster as dg

from bench import token_job
from bench.common import BenchResult, Figure, stack
from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl_dev.local_services import PROJECT_ROOT

TARGET_US = 10.0
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _grants(stats: dict[str, Any]) -> tuple[int, int]:
    return int(stats["grants"].get("refresh_token", 0)), int(stats.get("invalid_grant", 0))


def _expire(store: FileTokenStore) -> None:
    tokens = store.load()
    assert tokens is not None
    store.save(dataclasses.replace(tokens, expires_at=time.time() - 60))


def run(quick: bool) -> BenchResult:
    result = BenchResult("token")
    with stack(["--strict", "--no-limits", "--records", "10"], label="token") as s:
        manager = s.oauth.token_manager()
        manager.access_token()
        number = 100_000 if quick else 500_000
        per_call = min(timeit.repeat(manager.access_token, number=number, repeat=5)) / number
        result.figures.append(
            Figure(
                "token",
                "cached TokenManager.access_token()",
                round(per_call * 1e6, 3),
                None,
                "µs/call",
                target=f"<= {TARGET_US:g} µs",
                met=per_call * 1e6 <= TARGET_US,
            )
        )

        store = FileTokenStore(s.workdir / "xero-token.json")
        # 8 threads of one process, one manager, expired token.
        _expire(store)
        manager.forget()
        before = _grants(s.stats())
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def call() -> None:
            barrier.wait()
            try:
                manager.access_token()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        after = _grants(s.stats())
        result.figures.append(
            Figure(
                "token",
                "refreshes, 8 threads on an expired token",
                after[0] - before[0],
                None,
                "grants",
                target="1",
                met=after[0] - before[0] == 1 and not errors and after[1] == before[1],
                note=f"invalid_grant {after[1] - before[1]}, errors {len(errors)}",
            )
        )

        # 8 Dagster step processes, expired token in the shared file store.
        _expire(store)
        env = {
            "XERO_CLIENT_ID": s.oauth.client_id or "",
            "XERO_CLIENT_SECRET": s.oauth.client_secret or "",
            "XERO_LOGIN_URL": s.url,
            "XERO_IDENTITY_URL": s.url,
            "XERO_API_URL": s.url,
            "OAUTH_ETL_TOKEN_STORE": f"file:{store.path}",
            "AZURE_STORAGE_CONNECTION_STRING": s.azurite.connection_string,
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
        }
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        before = _grants(s.stats())
        started = time.perf_counter()
        try:
            with tempfile.TemporaryDirectory(prefix="oauth-etl-bench-dg-") as home:
                instance = dg.DagsterInstance.local_temp(home)
                try:
                    with dg.execute_job(
                        dg.reconstructable(token_job.define_token_job),
                        instance=instance,
                        raise_on_error=False,
                        run_config=QUIET,
                    ) as run_result:
                        success = run_result.success
                        fingerprints = (
                            {
                                run_result.output_for_node(f"needs_token_{i}")
                                for i in range(token_job.STEPS)
                            }
                            if success
                            else set()
                        )
                finally:
                    instance.dispose()
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        seconds = time.perf_counter() - started
        after = _grants(s.stats())
        refreshes = after[0] - before[0]
        result.figures.append(
            Figure(
                "token",
                f"refreshes, {token_job.STEPS} Dagster step processes on an expired token",
                refreshes,
                None,
                "grants",
                target="1",
                met=success and refreshes == 1 and after[1] == before[1],
                note=(
                    f"run {'succeeded' if success else 'FAILED'} in {seconds:.1f} s, "
                    f"invalid_grant {after[1] - before[1]}, "
                    f"{len(fingerprints)} distinct access token(s) used"
                ),
            )
        )
    return result

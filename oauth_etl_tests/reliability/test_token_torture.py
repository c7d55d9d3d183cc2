"""Token torture: many OS processes share one token set through many expiry windows.

The sandbox runs `--strict` (any refresh-token reuse is `invalid_grant`) with a 3 s
access token; every process loops API calls through `BearerAuth` on the file store
+ FileLock. Some processes hold their cached token past its expiry (negative skew)
so the API answers 401 TokenExpired and the forced-refresh path runs.

The invariant, with R = refresh_token grants counted by the sandbox:
- every grant is one answer some worker received (R == refresh events logged by the
  workers' hooks), and every worker call succeeded;
- the access tokens that got a 200 are exactly the seed token plus one per refresh
  (distinct tokens used == R + 1): no rotation was wasted or lost;
- consecutive refreshes are at least (ttl - skew) apart: never two refreshes in one
  window; and the chain moved on through the run (at least one refresh in every two
  windows; how many exactly depends on the scheduler of a loaded machine);
- 0 `invalid_grant`, the chain is live (`chains.live == 1`) and the store's refresh
  token still works (one more refresh succeeds).
"""

from __future__ import annotations

import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import orjson
import pytest

from oauth_etl.oauth.stores import FileTokenStore
from oauth_etl.oauth.tokens import fingerprint_of
from oauth_etl_tests.conftest import SandboxFactory
from oauth_etl_tests.oauth.test_sandbox_integration import PROJECT_ROOT, authorized, manager_for
from oauth_etl_tests.reliability.faults_log import record

ACCESS_TTL = 3  # seconds, the sandbox's --access-ttl
SKEW = 1.0  # the normal workers refresh when less than this is left
LATE = -1.0  # skew of the "late" workers: they keep a token 1 s past its expiry


def torture_argv(sandbox: Any, store: Path, skew: float, seconds: float) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "oauth_etl_tests.reliability.token_torture_worker",
        "--url",
        sandbox.url,
        "--client-id",
        sandbox.client_id,
        "--store",
        str(store),
        "--skew",
        str(skew),
        "--seconds",
        str(seconds),
    ]
    if sandbox.client_secret:
        argv += ["--client-secret", sandbox.client_secret]
    return argv


def run_together(
    argvs: list[list[str]], tmp_path: Path, timeout: float
) -> list[tuple[int, dict[str, Any]]]:
    """Start all, release them together, collect each one's JSON line.

    Like `test_sandbox_integration.run_at_once`, but with a timeout that fits a
    minutes-long soak (that helper waits at most 60 s per process).
    """
    go = tmp_path / "go"
    procs: list[tuple[Path, subprocess.Popen[bytes]]] = []
    try:
        for i, argv in enumerate(argvs):
            ready = tmp_path / f"ready-{i}"
            proc = subprocess.Popen(
                [*argv, "--ready", str(ready), "--go", str(go)],
                cwd=PROJECT_ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            procs.append((ready, proc))
        deadline = time.monotonic() + 60
        while not all(ready.exists() for ready, _ in procs):
            assert time.monotonic() < deadline, "workers did not get ready"
            assert all(p.poll() is None for _, p in procs), [p.communicate() for _, p in procs]
            time.sleep(0.02)
        go.touch()
        end = time.monotonic() + timeout
        results = []
        for _, proc in procs:
            out, err = proc.communicate(timeout=max(1.0, end - time.monotonic()))
            line = out.decode().strip().splitlines()[-1] if out.strip() else "{}"
            results.append((proc.returncode, orjson.loads(line) | {"stderr": err.decode()[-800:]}))
        return results
    finally:
        for _, proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def torture(
    sandbox_factory: SandboxFactory,
    tmp_path: Path,
    *,
    processes: int,
    late: int,
    windows: int,
    label: str,
) -> None:
    sandbox = sandbox_factory("--strict", "--access-ttl", str(ACCESS_TTL), "--no-limits")
    path = tmp_path / "token.json"
    authorized(sandbox, path)
    seed = FileTokenStore(path).load()
    assert seed is not None and seed.access_token is not None
    seed_fp = fingerprint_of(seed.access_token)
    seconds = windows * (ACCESS_TTL - SKEW)  # one refresh window lasts ttl - skew
    argvs = [
        torture_argv(sandbox, path, LATE if i < late else SKEW, seconds) for i in range(processes)
    ]
    results = run_together(argvs, tmp_path, timeout=seconds + 60)

    # every process succeeded, every call got a 200
    assert [code for code, _ in results] == [0] * processes, results
    outs = [r for _, r in results]
    calls = sum(r["calls"] for r in outs)
    stats: dict[str, Any] = sandbox.stats()
    assert stats["invalid_grant"] == 0, stats
    assert stats["grace_reuses"] == 0
    assert stats["token_errors"] == {}, stats["token_errors"]
    # the 401 path ran, and every 401 was answered by one refresh-and-retry that succeeded
    late_401 = sum(r["unauthorized"] for r in outs[:late])
    assert late_401 >= 1, "no late worker met 401 TokenExpired: the 401 path was not exercised"
    assert stats["responses"].get("401", 0) == sum(r["unauthorized"] for r in outs)

    # one refresh per window, no rotation lost or wasted
    refreshes = sorted((t, fp) for r in outs for t, fp in r["refreshes"])
    grants = stats["grants"]["refresh_token"]
    assert grants == len(refreshes), (grants, refreshes)
    # 200s: the API calls plus the token answers (the authorization code and each refresh)
    code_grants = stats["grants"]["authorization_code"]
    assert stats["responses"].get("200", 0) == calls + grants + code_grants
    used = {fp for r in outs for fp in r["used"]}
    assert used | {seed_fp} == {seed_fp} | {fp for _, fp in refreshes}
    assert len(used | {seed_fp}) == grants + 1
    started = min(r["started"] for r in outs)
    ended = max(r["ended"] for r in outs)
    times = [t for t, _ in refreshes]
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g > ACCESS_TTL - SKEW - 0.05 for g in gaps), gaps  # at most one per window
    # ...and the chain kept moving. Not "one in every window": a stalled machine (CI on
    # 2 busy cores) pauses every worker, and nobody refreshes a token nobody asks for.
    assert grants >= windows // 2, (grants, windows, gaps)

    # the chain is intact: one live chain whose newest token is in the store and works
    stored = FileTokenStore(path).load()
    assert stored is not None
    assert fingerprint_of(stored.access_token) == refreshes[-1][1]
    chains = stats["chains"]
    assert chains["total"] == 1 and chains["live"] == 1 and chains["revoked"] == 0, chains
    assert chains["rotations"] == {"1": grants}
    again = manager_for(sandbox, path, skew_seconds=SKEW).refresh(force=True)
    assert again.refresh_token != stored.refresh_token
    after: dict[str, Any] = sandbox.stats()
    assert after["grants"]["refresh_token"] == grants + 1 and after["invalid_grant"] == 0

    record(
        f"{label}: {processes} processes ({late} holding tokens past expiry → 401) share one "
        f"token set, strict rotation, {ACCESS_TTL} s access tokens, "
        f"{ended - started:.0f} s",
        trials=processes * grants,  # every process crossed every window
        outcome=(
            f"all {calls} API calls succeeded ({late_401} answered 401 then retried once); "
            f"{grants} refreshes, {min(gaps):.2f}-{max(gaps):.2f} s apart (one per window), "
            f"{len(used | {seed_fp})} distinct token sets used, 0 invalid_grant, chain live"
        ),
        lost="nothing",
    )


def test_token_torture_eight_processes(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    torture(sandbox_factory, tmp_path, processes=8, late=2, windows=8, label="token torture")


@pytest.mark.soak
def test_token_torture_soak(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    torture(sandbox_factory, tmp_path, processes=16, late=4, windows=90, label="token soak")

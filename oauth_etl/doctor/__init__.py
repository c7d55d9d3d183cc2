"""`oauth-etl doctor`: every link from the settings to a landed blob, one check each.

`checks.py` has one function per check; this module runs them in order (a check whose
prerequisite failed is reported, not run), renders one line per check (✔ ok, ! warn,
✘ fail with the fix under it) or JSON, and gives the exit code. No Dagster here.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING

import orjson

from oauth_etl.doctor.causes import Service, explain, mentions
from oauth_etl.doctor.checks import (
    ConnectionLike,
    ProbeContainer,
    check_credential_secrets,
    check_landing,
    check_lock,
    check_rescue,
    check_tenants,
    check_token_set,
    check_token_store,
)
from oauth_etl.doctor.result import CheckResult, Status
from oauth_etl.doctor.scopes import check_scopes
from oauth_etl.doctor.settings import (
    REDIRECT_URI_VAR,
    RESCUE_LOCATION_VAR,
    TOKEN_LOCK_VAR,
    check_settings,
)

if TYPE_CHECKING:
    from oauth_etl.oauth.manager import TokenManager
    from oauth_etl.xero.catalog import Endpoint

__all__ = [
    "MARKS",
    "REDIRECT_URI_VAR",
    "RESCUE_LOCATION_VAR",
    "SETTINGS",
    "TOKEN_LOCK_VAR",
    "CheckResult",
    "Services",
    "Status",
    "Step",
    "after_settings",
    "check_credential_secrets",
    "check_landing",
    "check_lock",
    "check_rescue",
    "check_scopes",
    "check_settings",
    "check_tenants",
    "check_token_set",
    "check_token_store",
    "exit_code",
    "iter_checks",
    "render_json",
    "render_line",
    "render_text",
    "run_checks",
    "standard_steps",
    "token_set_steps",
]

MARKS: dict[str, str] = {"ok": "✔", "warn": "!", "fail": "✘", "skip": "-"}
SETTINGS = "settings"


# -- running and rendering ------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], CheckResult]
    needs: tuple[str, ...] = ()
    # What building the check's objects may talk to (the vaults, the storage account): a
    # factory that raises reaching one is a failure of that service, reported once.
    services: tuple[Service, ...] = ()
    # Steps of one lane run in order; lanes run side by side (see iter_checks).
    lane: str = ""


@dataclass(frozen=True)
class Services:
    """What the network checks probe, named for their failures (URL and setting)."""

    identity: Service | None = None
    api: Service | None = None
    storage: Service | None = None
    vault: Service | None = None  # the credentials' vault (XERO_CREDENTIALS_VAULT_URL)
    token_vault: Service | None = None  # a Key Vault token store's vault

    def all(self) -> tuple[Service, ...]:
        # Building a token manager reads the credentials first, then opens the store.
        found = (self.vault, self.token_vault, self.storage, self.identity, self.api)
        return tuple(s for s in found if s is not None)


def _unexpected(name: str, exc: Exception, settings_failed: bool) -> CheckResult:
    """A check that raised: its own message when it is one of ours, never a foreign one."""
    from oauth_etl.app.contract import ConfigError
    from oauth_etl.oauth.errors import OAuthError
    from oauth_etl.storage.errors import StorageError
    from oauth_etl.xero.errors import XeroError

    if settings_failed:  # what the check needed could not be built from the settings
        return CheckResult(name, "skip", f"skipped: fix the {SETTINGS} above first")
    if isinstance(exc, ConfigError | OAuthError | XeroError | StorageError):
        return CheckResult(
            name, "fail", str(exc), "fix what the message names, then run `oauth-etl doctor` again"
        )
    return CheckResult(
        name,
        "fail",
        "the check could not run",
        "run `oauth-etl --debug doctor` for the traceback, and report it",
    )


def _run(step: Step, blocked: list[str], settings_failed: bool) -> CheckResult:
    """One step's own result: skipped when a step it needs failed, else what it returns
    (a step that raises: the service it reached, or our message, or a bug)."""
    if blocked:
        return CheckResult(step.name, "skip", f"skipped: needs {', '.join(blocked)}")
    try:
        return step.run()
    except Exception as exc:
        concerned = [s for s in step.services if mentions(exc, s)]
        cause = explain(exc, concerned[0]) if concerned else None
        if cause is not None:
            return CheckResult(step.name, "fail", cause.detail, cause.fix, cause.key)
        return _unexpected(step.name, exc, settings_failed)


def iter_checks(steps: Sequence[Step]) -> Iterator[CheckResult]:
    """Every step's result, in order, each as soon as it and those before it are known.

    Steps of one `lane` run one after the other; lanes run side by side (a probe that
    waits on a silent host holds up only its own lane). A step waits for the earlier steps
    it needs and is skipped when one failed; a failure with the root cause of an earlier
    one is skipped too (the cause was reported once, by the first check that met it)."""
    done = [threading.Event() for _ in steps]
    found: list[CheckResult | None] = [None] * len(steps)
    index: dict[str, int] = {}
    needed: list[list[int]] = []
    for i, step in enumerate(steps):  # a need names an earlier step (the last of that name)
        needed.append([index[n] for n in step.needs if n in index])
        index[step.name] = i
    lanes: dict[str, list[int]] = {}
    for i, step in enumerate(steps):
        lanes.setdefault(step.lane, []).append(i)

    def run_lane(members: list[int]) -> None:
        for i in members:
            try:
                for j in needed[i]:
                    done[j].wait()
                failed = {steps[j].name for j in needed[i] if _stops(found[j])}
                blocked = [n for n in steps[i].needs if n in failed]
                settings_failed = SETTINGS in index and _stops(found[index[SETTINGS]])
                found[i] = _run(steps[i], blocked, settings_failed and index[SETTINGS] < i)
            except BaseException:  # never leave a waiting lane hanging
                found[i] = _unexpected(steps[i].name, RuntimeError(), False)
                raise
            finally:
                done[i].set()

    causes: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(lanes)), thread_name_prefix="doctor") as pool:
        for members in lanes.values():
            pool.submit(run_lane, members)
        for i, step in enumerate(steps):
            done[i].wait()
            result = found[i]
            assert result is not None
            if result.status == "fail" and result.cause in causes:
                result = CheckResult(
                    step.name, "skip", f"skipped: the same cause as {causes[result.cause]} above"
                )
            elif result.status == "fail" and result.cause:
                causes[result.cause] = step.name
            yield result


def _stops(result: CheckResult | None) -> bool:
    """Does this result stop the steps that need it (a failure, or itself skipped)?"""
    return result is None or result.status in ("fail", "skip")


def run_checks(steps: Sequence[Step]) -> list[CheckResult]:
    return list(iter_checks(steps))


def render_line(result: CheckResult) -> str:
    line = f"{MARKS[result.status]} {result.name}: {result.detail}"
    if result.status in ("fail", "warn") and result.fix:
        line += f"\n    fix: {result.fix}"
    return line


def render_text(results: Iterable[CheckResult]) -> str:
    return "\n".join(render_line(result) for result in results)


def render_json(results: Sequence[CheckResult], now: float | None = None) -> str:
    payload = {
        "ok": exit_code(results) == 0,
        "checked_at": time.time() if now is None else now,
        "checks": [asdict(r) for r in results],
    }
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2).decode()


def exit_code(results: Sequence[CheckResult]) -> int:
    """0 only when no check failed (warnings and skips alone do not fail)."""
    return 1 if any(r.status == "fail" for r in results) else 0


def standard_steps(
    *,
    environ: Mapping[str, str],
    manager: Callable[[], TokenManager],
    connections: Callable[[], Sequence[ConnectionLike]],
    landing: Callable[[], ProbeContainer],
    prefix: str = "",
    endpoints: Iterable[Endpoint] | None = None,
    read_secret: Callable[[str], str] | None = None,
    secret_names: Sequence[str] = (),
    services: Services = Services(),
    extra: Sequence[Step] = (),
) -> list[Step]:
    """The doctor's checks in order, from factories (a factory that raises is a ✘ too);
    `extra` checks (`oauth_etl.doctor.run.EXTRA_CHECKS`) run after the default set's."""
    from oauth_etl.doctor.settings import CLIENT_ID_SECRET_NAME_VAR, CLIENT_ID_VAR

    client_id_set = any(
        environ.get(v, "").strip() for v in (CLIENT_ID_VAR, CLIENT_ID_SECRET_NAME_VAR)
    )
    steps = token_set_steps(manager, connections, endpoints, services=services)
    return [
        Step(SETTINGS, lambda: check_settings(environ)),
        *after_settings(
            [
                *steps[:-1],
                Step(
                    "landing container",
                    lambda: check_landing(landing(), prefix, services.storage),
                    services=(services.storage,) if services.storage else (),
                    lane="landing",
                ),
                Step(
                    "credential secrets",
                    lambda: check_credential_secrets(
                        read_secret, secret_names, services.vault, client_id_set=client_id_set
                    ),
                    services=(services.vault,) if services.vault else (),
                    lane="credential secrets",
                ),
                steps[-1],
                *extra,
            ]
        ),
    ]


def after_settings(steps: Sequence[Step]) -> list[Step]:
    """`steps`, each needing the settings check: a malformed setting is reported once,
    there, and nothing is probed with what a run would refuse."""
    return [replace(step, needs=(SETTINGS, *step.needs)) for step in steps]


# `oauth-etl authorize`, `oauth-etl token refresh` ... in a named set's fixes.
_COMMAND = re.compile(r"`(oauth-etl (?:authorize|token [a-z-]+))([^`]*)`")


def token_set_steps(
    manager: Callable[[], TokenManager],
    connections: Callable[[], Sequence[ConnectionLike]],
    endpoints: Iterable[Endpoint] | None = None,
    token_set: str | None = None,
    *,
    services: Services = Services(),
) -> list[Step]:
    """The checks of one token set (rescue location last); those of a named further set
    (OAUTH_ETL_CONNECTIONS) are called `<check> [NAME]`, their commands `--connection NAME`."""

    def granted() -> CheckResult:
        tokens = manager().current()
        return check_scopes(tokens.scope if tokens else "", endpoints)

    def named(check: str) -> str:
        return f"{check} [{token_set}]" if token_set else check

    def of_set(run: Callable[[], CheckResult]) -> Callable[[], CheckResult]:
        if not token_set:
            return run

        def renamed() -> CheckResult:
            result = run()
            command = rf"`\1 --connection {token_set}\2`"
            return replace(
                result,
                name=named(result.name),
                detail=_COMMAND.sub(command, result.detail),
                fix=_COMMAND.sub(command, result.fix),
            )

        return renamed

    def step(check: str, run: Callable[[], CheckResult], *needs: str) -> Step:
        # One lane per token set: its checks share its store, lock and manager.
        return Step(
            named(check), of_set(run), tuple(named(n) for n in needs), services.all(), named("set")
        )

    return [
        step(
            "token store",
            lambda: check_token_store(manager().store, manager().lock, rescue=manager().rescue),
        ),
        step("lock", lambda: check_lock(manager().lock, services.storage)),
        step(
            "token set",
            lambda: check_token_set(manager(), identity=services.identity),
            "token store",
            "lock",
        ),
        step("scopes", granted, "token set"),
        step("tenants", lambda: check_tenants(connections, services.api), "token set"),
        step("rescue location", lambda: check_rescue(manager().store, manager().rescue)),
    ]

"""CLI flags of the sandbox's changing data (issue #12), kept apart for a clean merge.

`--edits-per-call`, `--edit-kind`, `--edit-endpoint`, `--edit-target`: the edit mode
(sandbox/edits.py). `--shared-stamps N`: runs of N generated records share one stamp.
`--page-ignored ENDPOINT` (`--page-ignored-without-pagination`): that endpoint serves
every record on every page, as Xero once did for ManualJournals with `order`
(singer-io/tap-xero CHANGELOG 2.2.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from oauth_etl_dev.sandbox.catalog import ENDPOINTS_BY_LOWER
from oauth_etl_dev.sandbox.store import CHANGE_KINDS

F = TypeVar("F", bound=Callable[..., Any])


def options(command: F) -> F:
    """Adds the flags to a click command (its function takes them as **kwargs)."""
    decorators = [
        click.option(
            "--edits-per-call",
            default=0.0,
            show_default=True,
            type=click.FloatRange(0),
            help="Changes made after each accounting call (users working while we read).",
        ),
        click.option(
            "--edit-kind",
            "edit_kinds",
            multiple=True,
            type=click.Choice(sorted(CHANGE_KINDS)),
            help="Kinds of change (repeatable) [default: all].",
        ),
        click.option(
            "--edit-endpoint",
            "edit_endpoints",
            multiple=True,
            help="Endpoints that change (repeatable) [default: every one read].",
        ),
        click.option(
            "--edit-target",
            default="any",
            show_default=True,
            type=click.Choice(["any", "served"]),
            help="served: change records of the page just served.",
        ),
        click.option(
            "--shared-stamps",
            default=1,
            show_default=True,
            type=click.IntRange(1),
            help="Runs of N generated records share one UpdatedDateUTC.",
        ),
        click.option(
            "--page-ignored",
            multiple=True,
            help="Endpoint that serves every record on every page (repeatable).",
        ),
        click.option(
            "--page-ignored-without-pagination",
            is_flag=True,
            help="... and without a pagination object.",
        ),
    ]
    decorators += [
        click.option(
            "--period-lock-date",
            default=None,
            help="YYYY-MM-DD: every organisation's PeriodLockDate (changes on/before refused).",
        ),
        click.option(
            "--end-of-year-lock-date",
            default=None,
            help="YYYY-MM-DD: every organisation's EndOfYearLockDate.",
        ),
    ]
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


def _endpoint_names(names: tuple[str, ...], flag: str) -> frozenset[str]:
    found = set()
    for name in names:
        endpoint = ENDPOINTS_BY_LOWER.get(name.lower())
        if endpoint is None:
            raise click.BadParameter(f"unknown endpoint {name!r}", param_hint=flag)
        found.add(endpoint.name)
    return frozenset(found)


def settings(flags: dict[str, Any]) -> dict[str, Any]:
    """SandboxConfig fields from the flags."""
    return {
        "edits_per_call": flags["edits_per_call"],
        "edit_kinds": frozenset(flags["edit_kinds"] or CHANGE_KINDS),
        "edit_endpoints": _endpoint_names(flags["edit_endpoints"], "--edit-endpoint"),
        "edit_target": flags["edit_target"],
        "shared_stamps": flags["shared_stamps"],
        "page_ignored": _endpoint_names(flags["page_ignored"], "--page-ignored"),
        "page_ignored_pagination": not flags["page_ignored_without_pagination"],
        "period_lock_date": flags["period_lock_date"],
        "end_of_year_lock_date": flags["end_of_year_lock_date"],
    }

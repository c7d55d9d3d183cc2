"""The endpoints and tenants a command was given: checked against the catalog and the
registered tenants, a typo answered with the close names."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from oauth_etl.cli.base import fail
from oauth_etl.cli.show import clip

if TYPE_CHECKING:
    from oauth_etl.xero.catalog import Endpoint

SELECT_HELP = (
    "Endpoints, comma separated or repeated: `invoices` or the asset key `xero/invoices` "
    "(default: what the daily job reads, the opt-in ones left out)."
)


def select_option(command: Callable[..., None]) -> Callable[..., None]:
    return click.option("--select", "select", multiple=True, metavar="NAMES", help=SELECT_HELP)(
        command
    )


def endpoints(select: Sequence[str], *, default_all: bool = False) -> tuple[Endpoint, ...]:
    """The endpoints named (`xero/` prefix optional); none named: the daily selection
    (or every endpoint with `default_all`)."""
    from oauth_etl.xero.catalog import CATALOG
    from oauth_etl.xero.scopes import selection

    names = [n.strip() for item in select for n in item.split(",") if n.strip()]
    if select and not names:  # `--select ''` (an unset variable in a script) is no choice
        fail(
            "--select names no endpoint",
            "give endpoints (`oauth-etl list endpoints` lists them), or leave --select out for "
            + ("every endpoint" if default_all else "the daily job's endpoints"),
        )
    if not names:
        return CATALOG if default_all else selection()
    by_name = {e.name: e for e in CATALOG}
    chosen: list[Endpoint] = []
    for name in names:
        short = name.removeprefix("xero/")
        if short not in by_name:
            close = difflib.get_close_matches(short, list(by_name), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            fail(
                f"no endpoint {clip(name)!r} in the catalog",
                f"{hint}`oauth-etl list endpoints` lists them all",
            )
        if by_name[short] not in chosen:
            chosen.append(by_name[short])
    return tuple(chosen)


def tenants(
    given: Sequence[str],
    known: Sequence[str],
    where: str,
    fix: str = "run `oauth-etl authorize` and check `oauth-etl list tenants`",
) -> list[str]:
    """The tenants given (each must be known), or every known one."""
    if not known:
        fail(f"no tenant is known {where}", fix)
    if not given:
        return list(known)
    unknown = [t for t in given if t not in known]
    if unknown:
        fail(
            f"tenant {', '.join(repr(clip(t)) for t in unknown)} is not known {where}",
            f"give one of {', '.join(known)} (`oauth-etl list tenants`)",
        )
    return list(dict.fromkeys(given))

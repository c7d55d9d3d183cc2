"""`oauth-etl doctor`: every link from the settings to a landed blob, a line each as it ends."""

from __future__ import annotations

import sys

import click


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON document (for automation).")
@click.option("--with-journals", is_flag=True, help="Check the scope Journals needs too.")
@click.option(
    "--with-classic-expenses",
    is_flag=True,
    help="Check the scope ExpenseClaims and Receipts need too.",
)
def doctor_command(as_json: bool, with_journals: bool, with_classic_expenses: bool) -> None:
    """Check every link from the settings to a landed blob; no secret is printed.

    One line per check as it finishes (✔ ok, ! warning, ✘ failed with its fix, - skipped
    because a check it needs failed); exit status 0 only when nothing failed.
    """
    from oauth_etl.doctor import exit_code, render_json, render_line
    from oauth_etl.doctor.run import stream_environment

    results = []
    for result in stream_environment(
        with_journals=with_journals, with_classic_expenses=with_classic_expenses
    ):
        results.append(result)
        if not as_json:
            click.echo(render_line(result))  # click flushes: each line shows as it ends
    if as_json:
        click.echo(render_json(results))
    sys.exit(exit_code(results))

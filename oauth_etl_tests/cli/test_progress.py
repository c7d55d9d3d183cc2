"""`oauth-etl run`'s progress: redrawn in place on a terminal, plain lines (each change
once, no escape codes) otherwise; a landed endpoint shows the calls left in the budget."""

from __future__ import annotations

from oauth_etl.cli.run import Live, describe
from oauth_etl.defs.commands import EndpointProgress, RunProgress


def progress() -> RunProgress:
    run = RunProgress("run-1", "tenant-abcdef12")
    run.endpoints = {
        "invoices": EndpointProgress("invoices", "tenant-abcdef12"),
        "contacts": EndpointProgress("contacts", "tenant-abcdef12"),
    }
    return run


def test_plain_lines_when_not_a_terminal(capsys: object) -> None:
    live = Live(terminal=False)
    run = progress()
    invoices = run.endpoints["invoices"]
    invoices.state, invoices.message = "running", "xero/invoices: [####......] page 2 of 5"
    live(run)
    live(run)  # unchanged: not said again
    invoices.state, invoices.records, invoices.pages, invoices.api_calls = "landed", 5000, 5, 6
    invoices.minute_left, invoices.day_left = 54, 4994
    live(run)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "\x1b[" not in out
    assert out.splitlines() == [
        "… tenant-a xero/invoices: [####......] page 2 of 5",
        "✔ tenant-a xero/invoices: 5000 records, 5 pages, 6 calls; calls left: 54 this minute, "
        "4994 today",
    ]


def test_redrawn_in_place_on_a_terminal(capsys: object) -> None:
    live = Live(terminal=True)
    run = progress()
    live(run)
    run.endpoints["contacts"].state = "failed"
    run.endpoints["contacts"].message = "contacts needs the scope accounting.contacts.read"
    live(run)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    first, second = out.split("\x1b[2F")  # the second drawing moves up over the first
    assert first.count("\x1b[2K") == 2 and second.count("\x1b[2K") == 2
    assert "✘ tenant-a xero/contacts: failed: contacts needs the scope" in second
    assert describe(run.endpoints["invoices"]) == "  tenant-a xero/invoices: queued"

"""`oauth-etl run`'s progress: redrawn in place on a terminal, plain lines (each change
once, no escape codes) otherwise; a landed endpoint shows the calls left in the budget."""

from __future__ import annotations

from dataclasses import dataclass

from oauth_etl.cli.run import Live, describe
from oauth_etl.defs.commands import EndpointProgress, RunProgress, TableProgress
from oauth_etl.defs.run_events import _error_line


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


def test_a_merge_says_one_line_per_table_merged(capsys: object) -> None:
    live = Live(terminal=False)
    run = RunProgress("run-2", "tenant-abcdef12")
    run.tables = {"invoices": TableProgress("invoices", "tenant-abcdef12")}
    live(run)  # queued: nothing to say
    run.tables["invoices"].state = "running"
    live(run)  # merging: said by the line that follows
    invoices = run.tables["invoices"]
    invoices.state, invoices.rows, invoices.version, invoices.batches = "merged", 12, 3, 2
    lines = TableProgress("invoice_line_items", "tenant-abcdef12", "merged", rows=30, version=3)
    run.tables["invoice_line_items"] = lines
    live(run)
    live(run)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines() == [
        "✔ tenant-a xero_tables/invoices: 12 rows, version 3, 2 batch(es) merged",
        "✔ tenant-a xero_tables/invoice_line_items: 30 rows, version 3",
    ]


@dataclass
class Error:
    """What a failed step's event carries (Dagster's SerializableErrorInfo, the fields read)."""

    message: str
    cls_name: str
    cause: Error | None = None


def test_a_failed_merge_is_the_storage_answer_without_the_url_query() -> None:
    # delta-rs's chain of causes, colours and all (as raised for a missing container).
    said = (
        "Kernel error -> Generic MicrosoftAzure error\n \x1b[31m↳\x1b[0m Error performing GET "
        "https://acct.blob.core.windows.net/tables?restype=container&sig=SECRETSIG in 3ms\n"
        " \x1b[31m↳\x1b[0m 403 Forbidden\n \x1b[31m↳\x1b[0m <Error><Code>AuthenticationFailed"
        "</Code><Message>Server failed to authenticate the request.\nRequestId:1</Message>"
        "</Error>"
    )
    error = Error(said, "OSError")
    wrapped = Error("step failed", "DagsterExecutionStepExecutionError", error)
    line = _error_line(wrapped)
    assert line == (
        "403 Forbidden, AuthenticationFailed: Server failed to authenticate the request. "
        "(Kernel error -> Generic MicrosoftAzure error)"
    )
    plain = Error("Error performing GET https://acct.blob.core.windows.net/t?sig=X in 3ms", "E")
    assert "sig=" not in _error_line(plain) and "\x1b" not in _error_line(error)


def test_a_table_whose_check_fails_says_so_on_its_line(capsys: object) -> None:
    live = Live(terminal=False)
    run = RunProgress("run-3", "tenant-abcdef12")
    shown = TableProgress("contacts", "tenant-abcdef12", "failed", rows=11, version=2)
    shown.message, shown.ids_match_landed = "check ids_match_landed failed: 12 ids landed", False
    run.tables = {"contacts": shown}
    live(run)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines() == [
        "✘ tenant-a xero_tables/contacts: 11 rows, version 2; check ids_match_landed failed: "
        "12 ids landed"
    ]

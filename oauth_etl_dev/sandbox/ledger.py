"""The tenant's books: a function of its current records, and the journal log Xero keeps.

`Ledger.entries()` derives one `Entry` per posting document (sandbox/postings.py),
re-derived per source table when that table (or one it reads) changes, so an edit or
a back-dated insert changes the books consistently: the ledger is never a second
source of truth. `Ledger.journals()` is the `/Journals` table: append-only, numbered
in posting order. Journals are immutable (the spec has getJournals and getJournal,
no update operation for them), so when a document's posting changes a
journal reversing the old one and a new journal are appended (how an immutable
journal log must record a change; no Xero source found for the exact pair), and the
sum of a document's journals is always its current posting. The reversal keeps the
old journal's date: the books of that day change, as Xero's reports do after an edit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from oauth_etl_dev.sandbox.catalog import ENDPOINTS
from oauth_etl_dev.sandbox.data import ACCOUNTS, Record, net_date, stable_uuid
from oauth_etl_dev.sandbox.postings import POSTERS, ZERO, Entry, Line, check_balanced

if TYPE_CHECKING:
    from oauth_etl_dev.sandbox.store import Table, TenantStore

# Source endpoints in the order their first journals are numbered when stamps tie.
SOURCES = tuple(POSTERS)


@dataclass(frozen=True)
class Account:
    account_id: str
    code: str
    name: str
    type: str  # spec AccountType: BANK, CURRENT, REVENUE, ...
    klass: str  # spec Account.Class: ASSET, EQUITY, EXPENSE, LIABILITY, REVENUE
    system: str | None


@dataclass
class Posted:
    """The net of one document's journals so far: what a change must reverse."""

    date_ms: int
    source_type: str
    reference: str
    lines: tuple[Line, ...]


@dataclass
class JournalLog:
    table: Table
    cash: bool
    posted: dict[str, Posted] = field(default_factory=dict)
    synced: tuple[Any, ...] | None = None


@dataclass
class _Cache:
    key: tuple[Any, ...] = ()
    entries: dict[str, Entry] = field(default_factory=dict)


class Ledger:
    def __init__(self, store: TenantStore, journals: Table, cash_journals: Table) -> None:
        self.store = store
        # The journal logs, append-only: accrual (/Journals) and cash (paymentsOnly=true;
        # numbered on their own: our assumption).
        self._logs = {False: JournalLog(journals, False), True: JournalLog(cash_journals, True)}
        self._caches: dict[str, _Cache] = {name: _Cache() for name in SOURCES}
        self._index: dict[str, dict[str, Record]] = {}
        self._index_key: dict[str, tuple[Any, ...]] = {}
        self._chart_cache: dict[str, Account] = {}
        self._chart_key: tuple[Any, ...] = ()

    # -- the chart of accounts ----------------------------------------------------------
    def accounts(self) -> dict[str, Account]:
        """Accounts by code, from the Accounts records (their Type/Class/SystemAccount)."""
        out: dict[str, Account] = {}
        for r in self.store.table("Accounts").records:
            code = str(r.get("Code", ""))
            out[code] = Account(
                str(r["AccountID"]),
                code,
                str(r.get("Name", "")),
                str(r.get("Type", "")),
                str(r.get("Class", "")),
                r.get("SystemAccount"),
            )
        for i, (code, name, kind, klass, _, system) in enumerate(ACCOUNTS):
            if code not in out:  # the chart the generators post to always exists
                out[code] = Account(
                    self.store.context.uid("Accounts", i), code, name, kind, klass, system
                )
        return out

    def _chart(self) -> dict[str, Account]:
        key = self._key("Accounts")
        if self._chart_key != key:
            self._chart_cache, self._chart_key = self.accounts(), key
        return self._chart_cache

    # -- derived entries ----------------------------------------------------------------
    def _key(self, name: str) -> tuple[Any, ...]:
        table = self.store.table(name)
        return (id(table), table.revisions, len(table.records))

    def lookup(self, endpoint: str, record_id: str) -> Record | None:
        key = self._key(endpoint)
        if self._index_key.get(endpoint) != key:
            id_field = ENDPOINTS[endpoint].id_field
            self._index[endpoint] = {
                str(r.get(id_field, "")).lower(): r for r in self.store.table(endpoint).records
            }
            self._index_key[endpoint] = key
        return self._index[endpoint].get(record_id)

    def entries(self) -> Iterator[Entry]:
        for name in SOURCES:
            yield from self._entries(name).values()

    def _entries(self, name: str) -> dict[str, Entry]:
        post, reads = POSTERS[name]
        key = tuple(self._key(n) for n in (name, *reads))
        cache = self._caches[name]
        if cache.key != key:
            entries: dict[str, Entry] = {}
            for record in self.store.table(name).records:
                entry = post(record, self.lookup)
                if entry is not None:
                    entries[f"{name}:{entry.source_id}"] = check_balanced(entry)
            cache.key, cache.entries = key, entries
        return cache.entries

    # -- the journal log ----------------------------------------------------------------
    def journals(self, cash: bool = False) -> Table:
        """The Journals table (`cash`: the cash-basis log, `paymentsOnly=true` in the
        spec's getJournals), brought up to date with the records."""
        log = self._logs[cash]
        key = tuple(self._key(n) for n in {*SOURCES, "Invoices", "Accounts"})
        if key == log.synced:
            return log.table
        log.synced = key
        current: dict[str, tuple[Entry, tuple[Line, ...]]] = {}
        for name in SOURCES:
            for k, derived in self._entries(name).items():
                posting = derived.cash if cash else derived.lines
                if posting:
                    current[k] = (derived, posting)
        keys = sorted(set(current) | set(log.posted))
        if not log.posted and not log.table.records:  # the first posting: creation order
            order = {name: n for n, name in enumerate(SOURCES)}
            keys = sorted(current, key=lambda k: (current[k][0].stamp_ms, order[k.split(":")[0]]))
        for k in keys:
            found = current.get(k)
            entry: Entry | None = found[0] if found is not None else None
            lines: tuple[Line, ...] = found[1] if found is not None else ()
            old = log.posted.get(k)
            if (
                old is not None
                and entry is not None
                and (old.date_ms, old.lines)
                == (
                    entry.date_ms,
                    lines,
                )
            ):
                continue
            source_id = k.split(":", 1)[1]
            stamp = entry.stamp_ms if entry is not None else 0
            if old is not None:  # reverse what was posted, on its own date
                reversed_ = tuple(_negate(line) for line in old.lines)
                self._append(
                    log, old.source_type, source_id, old.date_ms, stamp, old.reference, reversed_
                )
                del log.posted[k]
            if entry is not None:
                self._append(
                    log, entry.source_type, source_id, entry.date_ms, stamp, entry.reference, lines
                )
                log.posted[k] = Posted(entry.date_ms, entry.source_type, entry.reference, lines)
        return log.table

    def _append(
        self,
        log: JournalLog,
        source_type: str,
        source_id: str,
        date_ms: int,
        stamp_ms: int,
        reference: str,
        lines: Iterable[Line],
    ) -> None:
        table = log.table
        number = len(table.records) + 1
        last = table.stamps[-1] if table.stamps else 0
        created = max(stamp_ms, last + 1)  # CreatedDateUTC increases with JournalNumber
        c = self.store.context
        jid = stable_uuid(c.seed, c.tenant_id, "cash-journal" if log.cash else "journal", number)
        accounts = self._chart()
        record = {
            "JournalID": jid,
            "JournalDate": net_date(date_ms),
            "JournalNumber": number,
            "CreatedDateUTC": net_date(created),
            "Reference": reference,
            "SourceID": source_id,
            "SourceType": source_type,
            "JournalLines": [
                _journal_line(stable_uuid(jid, n), line, accounts) for n, line in enumerate(lines)
            ],
        }
        table.append(record)
        table.revisions += 1

    # -- balances -----------------------------------------------------------------------
    def lines(self, cash: bool = False) -> Iterator[tuple[int, Line]]:
        """(JournalDate, line) of every posting line, accrual or cash basis."""
        for entry in self.entries():
            for line in entry.cash if cash else entry.lines:
                yield entry.date_ms, line

    def balances(
        self,
        to_ms: int,
        from_ms: int | None = None,
        cash: bool = False,
        options: tuple[tuple[str, str], ...] = (),
    ) -> dict[str, Decimal]:
        """Net debit per account code of lines dated in [from_ms, to_ms] (None: ever).

        `options`: lines with each (TrackingCategoryID, TrackingOptionID) only; option ""
        means lines without an option of that category ("Unassigned").
        """
        out: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
        for date, line in self.lines(cash):
            if date > to_ms or (from_ms is not None and date < from_ms):
                continue
            if options and any(_option(line, cat) != opt for cat, opt in options):
                continue
            out[line.code] += line.net
        return dict(out)

    def summary_json(self, to_ms: int, cash: bool = False) -> list[dict[str, Any]]:
        accounts = self.accounts()
        balances = self.balances(to_ms, cash=cash)
        return [
            {
                "AccountID": accounts[code].account_id if code in accounts else None,
                "Code": code,
                "Name": accounts[code].name if code in accounts else code,
                "Type": accounts[code].type if code in accounts else None,
                "Balance": str(balances[code]),
            }
            for code in sorted(balances)
        ]


def _option(line: Line, category: str) -> str:
    for cat, opt in line.tracking:
        if cat == category:
            return opt
    return ""


def _negate(line: Line) -> Line:
    return Line(
        line.code, -line.net, -line.tax, line.tax_type, line.tracking, line.doc, line.contact
    )


def _journal_line(line_id: str, line: Line, accounts: dict[str, Account]) -> Record:
    account = accounts.get(line.code)
    net, tax = line.net, line.tax
    return {
        "JournalLineID": line_id,
        "AccountID": account.account_id if account else "",
        "AccountCode": line.code,
        "AccountType": account.type if account else "",
        "AccountName": account.name if account else line.code,
        "Description": "",
        "NetAmount": float(net),
        "GrossAmount": float(net + tax),
        "TaxAmount": float(tax),
        "TaxType": line.tax_type,
        "TaxName": "No Tax" if line.tax_type == "NONE" else "Tax",
        "TrackingCategories": [
            {"TrackingCategoryID": cat, "TrackingOptionID": opt} for cat, opt in line.tracking
        ],
    }

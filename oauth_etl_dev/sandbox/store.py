"""The sandbox's records: one table per tenant and endpoint, built on first use."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from oauth_etl_dev.sandbox.catalog import ENDPOINTS, Endpoint
from oauth_etl_dev.sandbox.data import (
    DAY_MS,
    HISTORY_DAYS,
    TRADES,
    Record,
    TenantContext,
    net_date,
    parse_net_date,
    stable_uuid,
)
from oauth_etl_dev.sandbox.gen_settings import GENERATORS
from oauth_etl_dev.sandbox.ledger import Ledger
from oauth_etl_dev.sandbox.links import link_generated, link_inserted, unpay
from oauth_etl_dev.sandbox.locks import LockDates, backdate
from oauth_etl_dev.sandbox.skews import Skew

CHANGE_KINDS = frozenset({"edit", "insert", "archive", "delete"})

# Fields a mutation edits (the first one a record has), so a change is visible.
_EDITABLE = ("Reference", "Narration", "Name", "Description", "Summary", "EmailAddress")


# (tenant id, endpoint name, change kind, record id, stamp ms, the record as changed)
ChangeListener = Callable[[str, str, str, str, int, Record], None]


@dataclass
class Table:
    """The records of one tenant and endpoint, in serving order, with their bytes."""

    endpoint: Endpoint
    records: list[Record] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    stamps: list[int] = field(default_factory=list)  # ms of endpoint.date_field, or 0
    revisions: int = 0
    # Filtered/sorted index lists by (revision, query): paging re-asks the same query
    # once per page, and re-sorting a big table every time made the sandbox the bottleneck.
    selections: dict[tuple[object, ...], list[int] | None] = field(
        default_factory=dict, repr=False, compare=False
    )

    def append(self, record: Record) -> None:
        self.records.append(record)
        self.blobs.append(orjson.dumps(record))
        self.stamps.append(self._stamp(record))

    def replace(self, pos: int, record: Record, changed_ms: int | None = None) -> None:
        """`changed_ms`: when If-Modified-Since should see the change, if the record's
        own date field does not move (BankTransfers carry only CreatedDateUTC)."""
        self.records[pos] = record
        self.blobs[pos] = orjson.dumps(record)
        stamp = self._stamp(record)
        self.stamps[pos] = max(stamp, changed_ms) if changed_ms is not None else stamp

    def _stamp(self, record: Record) -> int:
        field_name = self.endpoint.date_field
        if field_name is None or field_name not in record:
            return 0
        return parse_net_date(record[field_name]) or 0


class TenantStore:
    """All tables of one tenant, each built on first use."""

    def __init__(
        self,
        context: TenantContext,
        locks: LockDates | None = None,
        listeners: list[ChangeListener] | None = None,
    ) -> None:
        self.context = context
        # Told of every change (ChangeListener): the webhooks (webhooks.py).
        self.listeners = listeners if listeners is not None else []
        self._tables: dict[str, Table] = {}
        # The books (sandbox/ledger.py): Journals are derived from the documents.
        self.books = Ledger(self, Table(ENDPOINTS["Journals"]), Table(ENDPOINTS["Journals"]))
        self.locks = locks or LockDates()
        self.skews: list[Skew] = []  # report figures served wrong on purpose (skews.py)

    def table(self, name: str) -> Table:
        if name == "Journals":
            return self.books.journals()
        table = self._tables.get(name)
        if table is None:
            table = self._build(ENDPOINTS[name])
            self._tables[name] = table
            if name == "Organisation":
                self.locks.stamp(table)
        return table

    def built(self) -> Iterable[tuple[str, Table]]:
        return self._tables.items()

    def count(self, name: str) -> int:
        endpoint = ENDPOINTS[name]
        if name == "Journals":
            return len(self.table(name).records)
        if name in self._tables:
            return len(self._tables[name].records)
        return self.context.records if endpoint.sized else endpoint.fixed_count

    def _build(self, endpoint: Endpoint) -> Table:
        c = self.context
        n = c.records if endpoint.sized else endpoint.fixed_count
        rng = random.Random(f"{c.seed}:{c.tenant_id}:{endpoint.name}")
        gen = GENERATORS[endpoint.name]
        table = Table(endpoint)
        span = c.history_days * DAY_MS
        start = c.anchor_ms - span
        stamp = start
        for i in range(n):
            # Increasing stamps: serving order is also UpdatedDateUTC order at first.
            own = start + (span * (i + 1)) // (n + 1) - rng.randint(0, 999)
            # --shared-stamps N: each run of N records carries its first one's stamp.
            stamp = own if i % c.shared_stamps == 0 else stamp
            record = gen(c, rng, i, stamp)
            if endpoint.name == "Payments":  # each pays its invoice (sandbox/links.py)
                record = link_generated(self, record, i)
            table.append(record)
        return table

    def mutate(
        self, name: str, modify: int, add: int, now_ms: int, date_ms: int | None = None
    ) -> tuple[list[str], list[str]]:
        """Edit `modify` records and add `add` new ones, all stamped `now_ms` (and dated
        `date_ms`, a back-dated change, if given)."""
        endpoint = ENDPOINTS[name]
        table = self.table(name)
        if modify and endpoint.name == "Journals":
            raise ValueError("journals are immutable: use `add` for Journals")
        rng = self._rng(name, table)
        modified: list[str] = []
        if modify:
            size = len(table.records)
            for pos in sorted(rng.sample(range(size), min(modify, size))):
                modified.append(self.change(name, "edit", pos, now_ms, rng, date_ms))
        added = [self.change(name, "insert", None, now_ms, rng, date_ms) for _ in range(add)]
        return modified, added

    def _rng(self, name: str, table: Table) -> random.Random:
        return random.Random(
            f"{self.context.seed}:{self.context.tenant_id}:{name}:{table.revisions}"
        )

    def change(
        self,
        name: str,
        kind: str,
        pos: int | None,
        now_ms: int,
        rng: random.Random | None = None,
        date_ms: int | None = None,
    ) -> str:
        """One change (see `_change`), told to the listeners once made."""
        changed = self._change(name, kind, pos, now_ms, rng, date_ms)
        if self.listeners:
            # As `_change` leaves it: an insert appended, anything else replaced in place.
            record = self.table(name).records[-1 if kind == "insert" or pos is None else pos]
            for listener in self.listeners:
                listener(self.context.tenant_id, name, kind, changed, now_ms, record)
        return changed

    def _change(
        self,
        name: str,
        kind: str,
        pos: int | None,
        now_ms: int,
        rng: random.Random | None = None,
        date_ms: int | None = None,
    ) -> str:
        """One change as a user makes it in Xero, stamped `now_ms`; returns the record's id.

        edit: a field changes. insert: a new record. archive: contacts ARCHIVED, documents
        VOIDED. delete: a soft delete, Status DELETED (spec v16: BankTransfers too, which
        keep only CreatedDateUTC: the change shows in If-Modified-Since, not in the record).
        The statuses are the spec's enums (Contact.ContactStatus, Invoice.Status, ...).
        `date_ms`: a back-dated change (sandbox/locks.py): the document's Date becomes
        that day, refused on or before the lock date; an insert is then approved.
        Journals: an insert is a posted manual journal (journals come from documents).
        """
        endpoint = ENDPOINTS[name]
        if kind not in CHANGE_KINDS:
            raise ValueError(f"unknown change {kind!r}; one of {sorted(CHANGE_KINDS)}")
        if endpoint.name == "Journals":
            if kind != "insert":
                raise ValueError("journals are immutable: only inserts")
            day = date_ms if date_ms is not None else now_ms // DAY_MS * DAY_MS
            self.change("ManualJournals", "insert", None, now_ms, rng, day)
            return str(self.table("Journals").records[-1]["JournalID"])
        table = self.table(name)
        rng = rng or self._rng(name, table)
        if kind == "insert" or pos is None:
            record = GENERATORS[name](self.context, rng, len(table.records), now_ms)
            if endpoint.date_field and endpoint.date_field in record:
                record[endpoint.date_field] = net_date(now_ms)
            if date_ms is not None:
                record = backdate(record, date_ms, self.locks, now_ms, approve=True)
            if name == "Payments":
                day = date_ms if date_ms is not None else now_ms
                record = link_inserted(self, record, day, now_ms)
            table.revisions += 1  # invalidates the cached selections of this table
            table.append(record)
            return str(record[endpoint.id_field])
        record = dict(table.records[pos])
        self.locks.check(record, None)  # a locked document cannot change
        if date_ms is not None:
            record = backdate(record, date_ms, self.locks, now_ms)
        table.revisions += 1  # invalidates the cached selections of this table
        if kind == "edit":
            for key in _EDITABLE:
                if isinstance(record.get(key), str):
                    record[key] = f"{record[key]} (rev {table.revisions})"
                    break
        elif kind == "archive":
            if "ContactStatus" in record:
                record["ContactStatus"] = "ARCHIVED"
            else:
                record["Status"] = "VOIDED"
        else:
            record["Status"] = "DELETED"
        if endpoint.date_field == "UpdatedDateUTC" and endpoint.date_field in record:
            record[endpoint.date_field] = net_date(now_ms)
        was = table.records[pos]
        table.replace(pos, record, changed_ms=now_ms)
        if name == "Payments" and was.get("Status") == "AUTHORISED" != record.get("Status"):
            unpay(self, record, now_ms)  # the invoice owes that amount again
        return str(record[endpoint.id_field])


@dataclass(frozen=True)
class Tenant:
    index: int
    tenant_id: str
    connection_id: str
    name: str


def make_tenants(seed: int, count: int) -> list[Tenant]:
    return [
        Tenant(
            index=t,
            tenant_id=stable_uuid(seed, "tenant", t),
            connection_id=stable_uuid(seed, "connection", t),
            name=f"Sandbox Company {t + 1} ({TRADES[t % len(TRADES)]})",
        )
        for t in range(count)
    ]


class DataStore:
    """Every tenant's records; `reset()` returns to the generated state."""

    def __init__(
        self,
        seed: int,
        tenants: list[Tenant],
        records: int,
        anchor_ms: int,
        shared_stamps: int = 1,
        locks: tuple[int | None, int | None] = (None, None),
        history_days: int = HISTORY_DAYS,
    ) -> None:
        self.seed = seed
        self.tenants = tenants
        self.records = records
        self.anchor_ms = anchor_ms
        self.shared_stamps = max(1, shared_stamps)
        self.locks = locks  # (PeriodLockDate, EndOfYearLockDate) of every tenant at start
        self.history_days = history_days
        self.listeners: list[ChangeListener] = []  # kept across resets
        self.by_id: dict[str, TenantStore] = {}
        self.reset()

    def reset(self) -> None:
        self.by_id = {
            t.tenant_id: TenantStore(
                TenantContext(
                    self.seed,
                    t.index,
                    t.tenant_id,
                    t.name,
                    self.anchor_ms,
                    self.records,
                    self.shared_stamps,
                    self.history_days,
                ),
                LockDates(*self.locks),
                self.listeners,
            )
            for t in self.tenants
        }

    def tenant(self, tenant_id: str) -> TenantStore | None:
        return self.by_id.get(tenant_id.lower())

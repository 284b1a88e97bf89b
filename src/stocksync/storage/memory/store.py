"""MemoryStore: the whole storage as plain dicts, with transactions.

Why copy-on-write: a unit of work must commit atomically or leave nothing behind, and a
reader must never see half of a commit. Each transaction reads the committed tables it
started from and copies a table the first time it changes one; commit publishes the new
set of tables in one assignment, rollback simply drops the copies. Committed tables are
never mutated in place (rows are frozen dataclasses, replaced on change), so a reader
needs no lock at all.

Writers take one lock for their whole transaction, like SQLite's BEGIN IMMEDIATE: two
units of work on the same SKU run one after the other, and the second sees the first's
commit, so every guard re-checked at write time holds exactly as it does in SQL.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

TABLES = (
    "tenants",  # tenant id -> TenantEntry
    "api_keys",  # key hash -> KeyEntry
    "alert_settings",  # tenant id -> StoredDestinations
    "heads",  # tenant id -> newest log position
    "levels",  # (tenant, sku, location) -> Level
    "outbox",  # id -> StagedEvent (committed, not yet sequenced)
    "events",  # tenant id -> tuple[LoggedEvent, ...] in log order
    "reservations",  # (tenant, id) -> ReservationRecord
    "items",  # (tenant, sku) -> Item
    "barcodes",  # (tenant, barcode) -> sku
    "locations",  # (tenant, code) -> Location
    "idempotency",  # (tenant, key) -> KeptAnswer
    "channels",  # (tenant, code) -> ChannelRow
    "channel_skus",  # (tenant, code, sku) -> SkuRow
    "inbox",  # id -> Delivery (with its schedule in InboxEntry)
    "reports",  # report id -> stored reconciliation report
)
WRITE_WAIT_SECONDS = 30.0  # as long as SQLite's busy timeout: then the writer gives up


class ReadOnly(RuntimeError):
    """A change attempted through a read-only unit of work."""


class Tx:
    """One transaction's view: the committed tables it began from, plus its own copies."""

    def __init__(self, store: MemoryStore, writable: bool) -> None:
        self.store = store
        self.base = store.tables
        self.writable = writable
        self.own: dict[str, dict[Any, Any]] = {}

    def read(self, name: str) -> Mapping[Any, Any]:
        own = self.own.get(name)
        return self.base[name] if own is None else own

    def write(self, name: str) -> dict[Any, Any]:
        if not self.writable:
            raise ReadOnly(f"a read-only unit of work cannot change {name}")
        own = self.own.get(name)
        if own is None:
            own = self.own[name] = dict(self.base[name])
        return own

    @property
    def changed(self) -> bool:
        return bool(self.own)

    def publish(self) -> None:
        """Make this transaction's changes the committed state (the caller holds the
        writer lock, so nothing was published since it began)."""
        assert self.store.tables is self.base, "published over a commit it did not see"
        if self.own:
            self.store.tables = {**self.base, **self.own}
            self.base, self.own = self.store.tables, {}


class MemoryStore:
    """The committed tables, the writer lock and the id counters of one memory store."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[Any, Any]] = {name: {} for name in TABLES}
        self._writer = threading.Lock()
        self._owner: int | None = None
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()

    def next_id(self) -> int:
        """Like a database sequence: drawn ids are never given twice, even on rollback."""
        with self._id_lock:
            return next(self._ids)

    def begin_write(self) -> Tx:
        me = threading.get_ident()
        if self._owner == me:
            # SQLite would wait for itself until its busy timeout: say so at once instead.
            raise RuntimeError("this thread already has a write transaction open")
        if not self._writer.acquire(timeout=WRITE_WAIT_SECONDS):
            raise TimeoutError("the memory store stayed locked by another writer")
        self._owner = me
        return Tx(self, writable=True)

    def end_write(self) -> None:
        self._owner = None
        self._writer.release()

    def begin_read(self) -> Tx:
        return Tx(self, writable=False)

    @contextmanager
    def writing(self) -> Iterator[Tx]:
        """A short write transaction, committed when the block ends without an error."""
        tx = self.begin_write()
        try:
            yield tx
            tx.publish()
        finally:
            self.end_write()

    @contextmanager
    def reading(self) -> Iterator[Tx]:
        yield self.begin_read()


class Bound:
    """A repository bound to one transaction and one tenant."""

    def __init__(self, tx: Tx, tenant_id: str) -> None:
        self.tx = tx
        self.tenant_id = tenant_id

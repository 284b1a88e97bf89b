"""MemoryUnitOfWork: one transaction of the memory store with every repository bound to
one tenant, and the factory the service opens them with."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from stocksync.storage.memory.catalog import MemoryCatalog
from stocksync.storage.memory.channels import MemoryChannels
from stocksync.storage.memory.holds import MemoryIdempotency, MemoryReservations
from stocksync.storage.memory.ledger import MemoryLedger
from stocksync.storage.memory.log import MemoryEventLog
from stocksync.storage.memory.store import MemoryStore, Tx


class MemoryUnitOfWork:
    ledger: MemoryLedger
    reservations: MemoryReservations
    catalog: MemoryCatalog
    idempotency: MemoryIdempotency
    log: MemoryEventLog
    channels: MemoryChannels

    def __init__(self, store: MemoryStore, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.write = write
        self.on_commit = on_commit
        self._tx: Tx | None = None
        self._deferred: list[Callable[[], None]] = []

    def __enter__(self) -> MemoryUnitOfWork:
        # Writers wait for each other here (for the whole transaction); readers never wait
        # and see the state committed when they began.
        tx = self._tx = self.store.begin_write() if self.write else self.store.begin_read()
        t = self.tenant_id
        self.ledger = MemoryLedger(tx, t)
        self.reservations = MemoryReservations(tx, t)
        self.catalog = MemoryCatalog(tx, t)
        self.idempotency = MemoryIdempotency(tx, t)
        self.log = MemoryEventLog(tx, t)
        self.channels = MemoryChannels(tx, t)
        return self

    def log_head(self) -> int:
        assert self._tx is not None
        head: int = self._tx.read("heads").get(self.tenant_id, 0)
        return head

    def defer(self, work: Callable[[], None]) -> None:
        """Run `work` just before the commit publishes (it may raise to abort it)."""
        self._deferred.append(work)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """The tables this transaction changed so far are copied, and put back when the
        block raises (a twin: a copy per savepoint is fine at its sizes)."""
        tx = self._tx
        assert tx is not None and self.write, "a savepoint needs a write transaction"
        kept = {name: dict(table) for name, table in tx.own.items()}
        deferred = len(self._deferred)
        try:
            yield
        except BaseException:
            tx.own.clear()
            tx.own.update(kept)
            del self._deferred[deferred:]
            raise

    def commit(self) -> None:
        tx = self._tx
        assert tx is not None, "commit outside the unit of work"
        deferred, self._deferred = self._deferred, []
        for work in deferred:
            work()
        tx.publish()  # a read-only one has nothing to publish (it cannot change anything)
        if self.on_commit is not None and self.ledger.appended:
            self.on_commit()

    def rollback(self) -> None:
        if self._tx is not None:
            self._tx.own.clear()  # its copies were all this transaction changed

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.rollback()
        finally:
            self._tx = None
            if self.write:
                self.store.end_write()


class MemoryUnitOfWorkFactory:
    """Opens MemoryUnitOfWorks on one store. A hold is taken through the general
    transactional path (there is no round trip to save)."""

    reserves_in_one_statement = False

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def __call__(self, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.store, tenant_id, write=write, on_commit=on_commit)

    def snapshot(self, tenant_id: str) -> MemoryUnitOfWork:
        """Every read of a memory reader already sees the state it began from."""
        return MemoryUnitOfWork(self.store, tenant_id, write=False)

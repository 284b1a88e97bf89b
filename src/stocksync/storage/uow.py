"""SqlUnitOfWork: one database transaction with every repository bound to one tenant,
and the factory the service opens them with (implements app.ports.UnitOfWorkFactory)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from sqlalchemy import Connection, Engine, RootTransaction

from stocksync.storage.catalog import SqlCatalog
from stocksync.storage.channels import SqlChannels
from stocksync.storage.engine import WRITE
from stocksync.storage.events import SqlEventLog
from stocksync.storage.idempotency import SqlIdempotency
from stocksync.storage.ledger import SqlLedger
from stocksync.storage.reservations import SqlReservations
from stocksync.storage.tenants import log_head


class SqlUnitOfWork:
    conn: Connection
    ledger: SqlLedger
    reservations: SqlReservations
    catalog: SqlCatalog
    idempotency: SqlIdempotency
    log: SqlEventLog
    channels: SqlChannels

    def __init__(self, engine: Engine, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None, snapshot: bool = False) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.write = write
        self.snapshot = snapshot
        self.on_commit = on_commit
        self._tx: RootTransaction | None = None
        self._deferred: list[Callable[[], None]] = []

    def __enter__(self) -> SqlUnitOfWork:
        conn = self.engine.connect()
        if self.write:
            conn = conn.execution_options(**WRITE)
        elif self.snapshot and conn.dialect.name == "postgresql":
            # Every read of the transaction sees the state at its first read (`verify`).
            # SQLite needs nothing: a read transaction already sees one state.
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        elif conn.dialect.name == "postgresql":
            # Reads need no transaction round trips (BEGIN/ROLLBACK) on the hot read path.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        self.conn = conn
        self._tx = conn.begin()
        t = self.tenant_id
        self.ledger = SqlLedger(conn, t)
        self.reservations = SqlReservations(conn, t)
        self.catalog = SqlCatalog(conn, t)
        self.idempotency = SqlIdempotency(conn, t)
        self.log = SqlEventLog(conn, t)
        self.channels = SqlChannels(conn, t)
        return self

    def log_head(self) -> int:
        return log_head(self.conn, self.tenant_id)

    def defer(self, work: Callable[[], None]) -> None:
        """Run `work` at commit, just before COMMIT (it may raise to abort). Hot-row
        updates go here so their row lock is held as briefly as possible."""
        self._deferred.append(work)

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """SAVEPOINT ... RELEASE, or ROLLBACK TO it when the block raises (SQLite too: the
        engine begins its transactions itself, see storage/engine.py)."""
        assert self.write and self._tx is not None, "a savepoint needs a write transaction"
        deferred = len(self._deferred)
        nested = self.conn.begin_nested()
        try:
            yield
        except BaseException:
            del self._deferred[deferred:]
            if nested.is_active:
                nested.rollback()
            raise
        nested.commit()

    def commit(self) -> None:
        assert self._tx is not None
        deferred, self._deferred = self._deferred, []
        for work in deferred:
            work()
        self._tx.commit()
        self._tx = None
        # Only a commit that staged events wakes the sequencer.
        if self.on_commit is not None and self.ledger.appended:
            self.on_commit()

    def rollback(self) -> None:
        if self._tx is not None and self._tx.is_active:
            self._tx.rollback()
        self._tx = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.rollback()
        finally:
            self.conn.close()


class SqlUnitOfWorkFactory:
    """Opens SqlUnitOfWorks on one engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Only PostgreSQL can take, keep and answer a hold in one statement (a data-
        # modifying CTE run in autocommit); SQLite takes the general transactional path.
        self.reserves_in_one_statement = engine.dialect.name == "postgresql"

    def __call__(self, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, write=write, on_commit=on_commit)

    def snapshot(self, tenant_id: str) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, tenant_id, write=False, snapshot=True)

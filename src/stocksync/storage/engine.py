"""Engines for SQLite (embedded default) and PostgreSQL (scale store)."""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlalchemy import Engine, create_engine, event

from stocksync.config import Settings

WRITE = {"stocksync_write": True}
SQLITE_BUSY_TIMEOUT_MS = 30_000
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        return _sqlite_engine(settings.database_url)
    return _postgres_engine(settings)


class FifoLock:
    """A ticket lock: writers get SQLite's write lock in the order they asked. SQLite's own
    busy handler sleeps and retries, so under load a few writers starve (seconds of tail
    latency) while others go round again; queueing here first keeps waits short and fair.
    The busy timeout still arbitrates between processes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._serving = 0
        self._held = threading.local()

    def acquire(self) -> None:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._serving:
                self._cond.wait()
        self._held.flag = True

    def release_if_held(self) -> None:
        if getattr(self._held, "flag", False):
            self._held.flag = False
            with self._cond:
                self._serving += 1
                self._cond.notify_all()


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=16,
        max_overflow=48,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" hook below decide how each transaction starts.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    writers = FifoLock()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes SQLite's write lock up front (BEGIN IMMEDIATE): a deferred
        # one that reads first and then writes can fail with SQLITE_BUSY instead of waiting.
        # Reads stay deferred so they never wait for writers (WAL snapshot).
        if conn.get_execution_options().get("stocksync_write"):
            writers.acquire()
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                writers.release_if_held()
                raise
        else:
            conn.exec_driver_sql("BEGIN")

    # The ticket is given back when the transaction ends, however it ends (a connection
    # returned to the pool is rolled back through do_rollback as well).
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    def commit(dbapi_conn: Any) -> None:
        try:
            do_commit(dbapi_conn)
        finally:
            writers.release_if_held()

    def rollback(dbapi_conn: Any) -> None:
        try:
            do_rollback(dbapi_conn)
        finally:
            writers.release_if_held()

    dialect.do_commit = commit  # type: ignore[method-assign]
    dialect.do_rollback = rollback  # type: ignore[method-assign]
    return engine


def _postgres_engine(settings: Settings) -> Engine:
    connect_args: dict[str, Any] = {}
    if settings.database_schema:
        if not _SCHEMA.match(settings.database_schema):
            raise ValueError(f"invalid schema name {settings.database_schema!r}")
        connect_args["options"] = f"-c search_path={settings.database_schema}"
    return create_engine(
        settings.database_url,
        connect_args=connect_args,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size * 2,
        # No pre-ping (a round trip per checkout on the hot path): recycle instead, and a
        # connection the server dropped invalidates the pool on first use.
        pool_recycle=1800,
    )

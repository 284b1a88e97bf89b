"""One publisher per stream across processes.

PostgreSQL: a session-level advisory lock held on a connection of its own. If the holding
process dies (even by SIGKILL) its connection closes and the server releases the lock, so
another process takes over within one retry interval: no lease to expire, no clock to trust.
SQLite is one machine: an exclusive `flock` on a file beside the database, which the kernel
releases when the holding process dies, the same guarantee as the advisory lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import time
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, func, select

CHECK_SECONDS = 2.0


class LostLock(RuntimeError):
    pass


def lock_key(schema: str | None, stream: str) -> int:
    """A signed 64-bit key per (database schema, stream): test schemas never collide."""
    digest = hashlib.blake2b(f"stocksync-stream:{schema or ''}:{stream}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PublisherLock:
    def __init__(self, engine: Engine, schema: str | None, stream: str) -> None:
        self.engine = engine
        self.key = lock_key(schema, stream)
        self.conn: Connection | None = None
        self.file: IO[str] | None = None
        self.checked = 0.0

    @property
    def shared(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _acquire_file(self) -> bool:
        if self.file is not None:
            return True
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True  # an in-memory database lives in this process only
        # Kept open while held: closing it (or the process dying) releases the lock.
        handle = Path(f"{database}.stream-{self.key & 0xFFFFFFFF:08x}.lock").open("a")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.file = handle
        return True

    def acquire(self) -> bool:
        if not self.shared:
            return self._acquire_file()
        if self.conn is not None:
            return True
        conn = self.engine.connect()
        try:
            got = bool(conn.execute(select(func.pg_try_advisory_lock(self.key))).scalar())
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self.conn = conn
        self.checked = time.monotonic()
        return True

    def check(self) -> None:
        """Raise LostLock if the connection that holds the lock is gone."""
        if self.conn is None or time.monotonic() - self.checked < CHECK_SECONDS:
            if self.shared and self.conn is None:
                raise LostLock("the publisher lock is not held")
            return
        try:
            self.conn.execute(select(1))
            self.conn.commit()
            self.checked = time.monotonic()
        except Exception as exc:
            self.release()
            raise LostLock(f"the publisher lock's connection failed: {exc}") from exc

    def release(self) -> None:
        if self.file is not None:
            self.file.close()  # closing the descriptor drops the flock
            self.file = None
        if self.conn is None:
            return
        # Unlock at once (a closed session releases it too, but only once the server has
        # noticed); invalidate() then closes the connection for real instead of handing
        # one that might still hold the lock back to the pool.
        try:
            with contextlib.suppress(Exception):
                self.conn.execute(select(func.pg_advisory_unlock(self.key)))
                self.conn.commit()
            self.conn.invalidate()
            self.conn.close()
        finally:
            self.conn = None

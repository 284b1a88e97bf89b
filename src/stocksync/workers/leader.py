"""Which process runs the singletons when several serve one PostgreSQL database
(`stocksync serve --workers N`, extra `stocksync worker` processes): the expirer, the purge,
the alert worker and the reconcile scheduler run only in the process that holds one
PostgreSQL session advisory lock.

The lock is stream/lock.py's PublisherLock (a session lock on a connection of its own),
reused rather than a second mechanism: when the holding process dies, even by SIGKILL, its
connection closes, the server releases the lock, and another process takes the role at its
next try (within RETRY_SECONDS). No lease to expire, no clock to trust.

What needs no leader: the sequencer (each step already runs under a cluster-wide advisory
transaction lock, storage/sequencer.py, so every process may sequence its own commits at
once and each outbox row is sequenced once), the ingest worker (deliveries are claimed)
and channel workers (one lease per channel, workers/channels.py). On SQLite there is one
serving process and it is always the leader.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable

import anyio
import structlog

from stocksync.app.service import Stocksync
from stocksync.stream.lock import LostLock, PublisherLock

log = structlog.get_logger()
RETRY_SECONDS = 1.0
ROLE = "singletons"


class Leadership:
    def __init__(self, svc: Stocksync, role: str = ROLE) -> None:
        self.lock = (PublisherLock(svc.engine, svc.settings.database_schema, f"role:{role}")
                     if svc.admin.kind == "postgresql" else None)
        self.role = role
        self._retry_at = 0.0
        self._guard = threading.Lock()  # threads of the loops and the event loop ask

    def held(self) -> bool:
        """True while this process holds the role (tries to take it at most once per
        RETRY_SECONDS; checks the holding connection every few seconds)."""
        if self.lock is None or not self.lock.shared:
            return True
        with self._guard:
            try:
                if self.lock.conn is not None:
                    self.lock.check()
                    return True
                if time.monotonic() < self._retry_at:
                    return False
                self._retry_at = time.monotonic() + RETRY_SECONDS
                if self.lock.acquire():
                    log.info("leader_elected", role=self.role)
                    return True
                return False
            except (LostLock, Exception) as exc:  # the database went away: not leading
                log.warning("leader_lost", role=self.role, error=str(exc))
                self.lock.release()
                return False

    # As a Running (start_workers' list): stopping gives the role back at once.
    name = "leader"
    alive = True

    def stop(self, timeout: float = 5.0) -> None:
        self.release()

    def release(self) -> None:
        with self._guard:
            if self.lock is not None:
                self.lock.release()

    def gate(self, step: Callable[[], bool]) -> Callable[[], bool]:
        """A Loop step that runs only while leading."""
        def leading_step() -> bool:
            return step() if self.held() else False
        return leading_step

    async def run_while_leading(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run `run()` while this process leads: started when the role is taken,
        cancelled when it is lost, started again when it is taken back."""
        while True:
            while not await anyio.to_thread.run_sync(self.held):
                await asyncio.sleep(RETRY_SECONDS)
            task = asyncio.create_task(run())
            try:
                while not task.done() and await anyio.to_thread.run_sync(self.held):
                    await asyncio.wait({task}, timeout=RETRY_SECONDS)
            finally:
                if not task.done():
                    task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    if not task.cancelled():
                        raise  # we are being cancelled ourselves
                except Exception:  # the singleton failed: log, start it again
                    log.exception("singleton_failed", role=self.role)
                    await asyncio.sleep(RETRY_SECONDS)


_LEADERS: weakref.WeakKeyDictionary[Stocksync, Leadership] = weakref.WeakKeyDictionary()


def leadership(svc: Stocksync) -> Leadership:
    """This process's one Leadership for `svc` (shared by its loops and its tasks)."""
    found = _LEADERS.get(svc)
    if found is None:
        found = _LEADERS[svc] = Leadership(svc)
    return found

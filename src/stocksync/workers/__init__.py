"""Workers that run beside the API (in `serve`) or alone (`stocksync worker`)."""

from __future__ import annotations

from typing import Protocol

from stocksync.app.service import EVENTS, OUTBOX, Stocksync
from stocksync.bus.pg_notify import PgNotifyListener
from stocksync.storage.sequencer import sequence_pending
from stocksync.workers.loops import Loop

PURGE_INTERVAL_SECONDS = 600.0


class Stoppable(Protocol):
    name: str

    @property
    def alive(self) -> bool: ...

    def stop(self, timeout: float = ...) -> None: ...


def start_workers(svc: Stocksync) -> list[Stoppable]:
    """The sequencer, the expirer, the idempotency purge and, on PostgreSQL, the listener
    that turns other processes' NOTIFYs into local rings."""
    settings = svc.settings

    def sequence() -> bool:
        done = sequence_pending(svc.engine)
        if done.count:
            svc.bus.ring(EVENTS)
        return done.count > 0

    def expire() -> bool:
        return svc.expire_due() > 0

    def purge() -> bool:
        svc.purge_idempotency_keys()
        svc.purge_inbox()
        return False

    started: list[Stoppable] = []
    if svc.engine.dialect.name == "postgresql":
        started.append(PgNotifyListener(svc.engine, svc.bus, EVENTS).start())
    return [
        *started,
        Loop("sequencer", sequence, settings.sequencer_sweep_seconds,
             svc.bus.subscribe(OUTBOX)).start(),
        Loop("expirer", expire, settings.expiry_interval_seconds).start(),
        Loop("purge", purge, PURGE_INTERVAL_SECONDS).start(),
    ]

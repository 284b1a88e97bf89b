"""Workers that run beside the API (in `serve`) or alone (`stocksync worker`)."""

from __future__ import annotations

from stocksync.app.ports import Running
from stocksync.app.service import EVENTS, OUTBOX, Stocksync
from stocksync.workers.loops import Loop

PURGE_INTERVAL_SECONDS = 600.0


def start_workers(svc: Stocksync) -> list[Running]:
    """The sequencer, the expirer, the idempotency purge and, on PostgreSQL, the listener
    that turns other processes' NOTIFYs into local rings."""
    settings = svc.settings

    def sequence() -> bool:
        count = svc.admin.sequence_pending()
        if count:
            svc.bus.ring(EVENTS)
        return count > 0

    def expire() -> bool:
        return svc.expire_due() > 0

    def purge() -> bool:
        svc.purge_idempotency_keys()
        svc.purge_inbox()
        return False

    listener = svc.admin.listen(svc.bus, EVENTS)
    started: list[Running] = [] if listener is None else [listener]
    return [
        *started,
        Loop("sequencer", sequence, settings.sequencer_sweep_seconds,
             svc.bus.subscribe(OUTBOX)).start(),
        Loop("expirer", expire, settings.expiry_interval_seconds).start(),
        Loop("purge", purge, PURGE_INTERVAL_SECONDS).start(),
    ]

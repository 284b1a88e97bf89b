"""Workers that run beside the API (in `serve`) or alone (`stocksync worker`)."""

from __future__ import annotations

from stocksync.app.ports import Running
from stocksync.app.service import EVENTS, OUTBOX, Stocksync
from stocksync.stream.running import start_publisher
from stocksync.workers.leader import leadership
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

    # With several processes on PostgreSQL the expirer and the purge run in one of them
    # (workers/leader.py); the sequencer's steps are serialised by their own lock.
    leader = leadership(svc)
    listener = svc.admin.listen(svc.bus, EVENTS)
    started: list[Running] = [] if listener is None else [listener]
    if (publisher := start_publisher(svc)) is not None:  # STOCKSYNC_NATS_URL set
        started.append(publisher)
    return [
        *started,
        Loop("sequencer", sequence, settings.sequencer_sweep_seconds,
             svc.bus.subscribe(OUTBOX)).start(),
        Loop("expirer", leader.gate(expire), settings.expiry_interval_seconds).start(),
        Loop("purge", leader.gate(purge), PURGE_INTERVAL_SECONDS).start(),
        leader,  # stopped last: gives the role back at once
    ]

"""Group commit for webhook acks: deliveries acknowledged at the same time are kept in the
inbox in one transaction.

Each ack must be durable before it is answered, so alone each costs a transaction (on
SQLite the single writer's lock and a WAL flush). Callers that arrive while a keep is in
flight queue up; when it ends, one of them (the next leader) keeps everything queued in the
next transaction and hands every caller its own answer: its delivery's inbox id, or None for
a redelivery. A transaction that fails is retried one delivery at a time, so one bad
delivery fails only its own ack. Callers are threads (the ack endpoint runs in the thread
pool); the group needs no thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Histogram

from stocksync.app.ports import NewDelivery

Keep = Callable[[Sequence[NewDelivery], datetime], list[int | None]]
MAX_GROUP = 200  # one transaction's worth; the rest goes in the next one
GROUP_SIZE = Histogram("stocksync_webhook_acks_per_commit", "webhook deliveries kept in "
                       "the inbox by one transaction (group commit of acks)",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))


@dataclass(slots=True)
class _Waiting:
    delivery: NewDelivery
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    lead: bool = False  # woken to keep the next group, not with an answer
    stored: int | None = None
    error: BaseException | None = None


class GroupKeep:
    def __init__(self, keep: Keep, clock: Callable[[], datetime]) -> None:
        self._keep = keep
        self._clock = clock
        self._lock = threading.Lock()
        self._queue: list[_Waiting] = []
        self._busy = False  # a leader is keeping a group

    def keep(self, delivery: NewDelivery) -> int | None:
        """Keep `delivery` durably (committed when this returns): its inbox id, or None when
        its channel already holds that delivery id. Raises what the store raised."""
        me = _Waiting(delivery)
        with self._lock:
            self._queue.append(me)
            lead = not self._busy
            self._busy = True
        if not lead:
            me.woken.wait()
        if not me.done:  # leading: keep what is queued (this caller's delivery among it)
            self._lead()
        if me.error is not None:
            raise me.error
        return me.stored

    def _lead(self) -> None:
        with self._lock:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
        self._keep_group(group)
        with self._lock:
            if self._queue:  # arrived meanwhile: the first of them leads the next group
                nxt = self._queue[0]
                nxt.lead = True
                nxt.woken.set()
            else:
                self._busy = False
        for w in group:
            w.done = True
            w.woken.set()

    def _keep_group(self, group: list[_Waiting]) -> None:
        GROUP_SIZE.observe(len(group))
        try:
            stored = self._keep([w.delivery for w in group], self._clock())
        except Exception as exc:
            if len(group) == 1:
                group[0].error = exc
                return
            for w in group:  # one at a time: only a bad delivery fails its own ack
                self._keep_alone(w)
            return
        for w, value in zip(group, stored, strict=True):
            w.stored = value

    def _keep_alone(self, w: _Waiting) -> None:
        try:
            w.stored = self._keep([w.delivery], self._clock())[0]
        except Exception as exc:
            w.error = exc

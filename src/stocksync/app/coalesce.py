"""Request coalescing: concurrent writes to one level decided together, each as if alone.

Writes to the same (tenant, SKU, location) that arrive while a transaction on that level is
in flight wait in its queue; when it ends, everything queued goes in the next transaction.
Inside it `plan` decides them one by one in arrival order against the level as the earlier
ones left it, with the same core functions a lone request uses, so every request keeps its
own outcome (201, or 409 with the `available` it would have seen), its own event and its
own Idempotency-Key answer. What is saved is one commit (one WAL flush, one SQLite write
lock) and one hot-row lock for the whole group instead of one per request.

Pure except for the `Coalescer`, which only schedules (asyncio, no I/O of its own).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from prometheus_client import Histogram

from stocksync.app.records import ReservationRecord, StoredResponse
from stocksync.core import commands as c
from stocksync.core import ledger as core
from stocksync.core import reservations as holds
from stocksync.core.errors import DomainError, ItemDeleted, UnknownLocation, UnknownSku
from stocksync.core.events import Event
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus

Rendered = tuple[int, object]
MAX_BATCH = 256  # one transaction's worth; the rest waits for the next one
BATCH_SIZE = Histogram("stocksync_coalesced_writes", "writes decided in one transaction "
                       "of the hot path (reservations and sales of one level)",
                       buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256))


@dataclass(slots=True)
class HotWrite:
    """One request for a level: a reservation or a sale, with what identifies it (the
    RequestMeta, kept opaque here) and how its answer is rendered."""

    op: Literal["reserve", "sale"]
    sku: str
    location: str
    quantity: int
    key: str | None
    fingerprint: str
    meta: Any  # app.service.RequestMeta
    render: Callable[[Any], Rendered]
    render_error: Callable[[DomainError], Rendered]
    ttl: timedelta | None = None
    kind: ReservationKind = ReservationKind.CART
    reference: str | None = None
    future: asyncio.Future[Any] | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class LevelState:
    """What a batch reads first, under the level's lock: the stored level (None: no row),
    the units held past their expiry (`due`, not yet expired by the expirer), whether the
    item exists (None) or is deleted, whether the location exists, and the answers already
    stored for the batch's Idempotency-Keys."""

    stored: Level | None
    due: int
    item_deleted: bool | None
    location_exists: bool
    taken: dict[str, StoredResponse]


@dataclass(slots=True)
class Planned:
    write: HotWrite
    replay: StoredResponse | None = None  # answered before: send this again
    same_as: int | None = None  # the same key earlier in this batch: its answer
    error: DomainError | None = None
    event: Event | None = None
    record: ReservationRecord | None = None
    level_after: Level | None = None  # the stored level after this write's event


def plan(state: LevelState, writes: list[HotWrite], tenant_id: str, now: datetime,
         default_ttl: Callable[[ReservationKind], timedelta]) -> list[Planned]:
    """Decide `writes` one after the other, in arrival order, each against the level the
    previous ones left. Checks run in the order a lone request runs them (item, location,
    then stock), so a refusal carries the same error and `available`."""
    first = writes[0]
    level = state.stored or Level(first.sku, first.location)
    out: list[Planned] = []
    seen: dict[str, int] = {}
    for w in writes:
        p = Planned(w)
        out.append(p)
        if w.key is not None:
            if w.key in state.taken:
                p.replay = state.taken[w.key]
                continue
            if w.key in seen:
                p.same_as = seen[w.key]
                continue
            seen[w.key] = len(out) - 1
        try:
            _require(state, w)
            if w.op == "reserve":
                ttl = w.ttl or default_ttl(w.kind)
                rid = str(uuid.uuid4())
                event = holds.reserve(level, c.Reserve(rid, w.quantity, ttl), now)[0]
                res = Reservation(rid, w.sku, w.location, w.quantity,
                                  ReservationStatus.ACTIVE, now + ttl)
                p.record = ReservationRecord(tenant_id, res, w.kind, w.reference, now, None)
            else:
                event = core.decide(level, c.Sell(w.quantity))[0]
        except DomainError as exc:
            p.error = exc
            continue
        level = core.apply(level, event)
        p.event, p.level_after = event, level
    return out


def _require(state: LevelState, w: HotWrite) -> None:
    if state.item_deleted is None:
        raise UnknownSku(f"no item with SKU {w.sku}", sku=w.sku)
    if state.item_deleted:
        raise ItemDeleted(f"item {w.sku} is deleted; restore it before selling it", sku=w.sku)
    if not state.location_exists:
        raise UnknownLocation(f"no location with code {w.location}", location=w.location,
                              field="location")


# ---- scheduling -----------------------------------------------------------------------------


class Coalescer:
    """Per key, at most one batch in flight; what arrives meanwhile forms the next one.
    The first request of an idle key starts at once (no added latency when there is no
    contention). `run` settles every write's future (result or exception)."""

    def __init__(self, run: Callable[[Hashable, list[HotWrite]], Awaitable[None]],
                 max_batch: int = MAX_BATCH) -> None:
        self.run = run
        self.max_batch = max_batch
        self.queues: dict[Hashable, list[HotWrite]] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def submit(self, key: Hashable, write: HotWrite) -> Any:
        write.future = asyncio.get_running_loop().create_future()
        queue = self.queues.get(key)
        if queue is not None:
            queue.append(write)  # a batch for this level is in flight: ride the next one
        else:
            self.queues[key] = [write]
            task = asyncio.create_task(self._drain(key))  # survives a cancelled caller
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return await write.future

    async def _drain(self, key: Hashable) -> None:
        queue = self.queues[key]
        try:
            while queue:
                batch, queue[:] = queue[:self.max_batch], queue[self.max_batch:]
                BATCH_SIZE.observe(len(batch))
                try:
                    await self.run(key, batch)
                except BaseException as exc:  # every caller hears of it, none hangs
                    for w in batch:
                        if w.future is not None and not w.future.done():
                            w.future.set_exception(exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            del self.queues[key]

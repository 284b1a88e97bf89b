"""The hot path: reservations at a named location, sales and stock reads, called from async
routes without a thread hop (PostgreSQL, storage/async_pg.py) and coalesced per level
(app/coalesce.py). Without an async store (SQLite, the memory twin) the same batches run
through the UnitOfWork in a worker thread: on SQLite that is group commit behind the
single-writer FIFO queue (storage/engine.py), many writes for one BEGIN IMMEDIATE.

Every request keeps the guarantees of the general path (app/service.py): exactly-once per
Idempotency-Key (claimed in the batch's transaction, answered before its commit; refusals
remembered too), no oversell (decided under the level's lock), holds past their expiry not
counted (they are expired first, then the batch runs again), one event per accepted write.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Hashable
from datetime import datetime

import anyio
import structlog

from stocksync import metrics
from stocksync.app import handlers as h
from stocksync.app.coalesce import Coalescer, HotWrite, LevelState, Planned, plan
from stocksync.app.hot_ports import AsyncStore, BatchWrites, StockSnapshot
from stocksync.app.ports import OUTBOX
from stocksync.app.records import Applied, StoredResponse, WriteContext
from stocksync.app.service import Outcome, Rendered, RequestMeta, Stocksync
from stocksync.core.errors import DomainError, IdempotencyKeyReused, InsufficientStock
from stocksync.core.ledger import Level

log = structlog.get_logger()
Answer = Outcome | Exception | None  # None: a repeat of a key earlier in the batch


class HotPath:
    def __init__(self, svc: Stocksync, store: AsyncStore | None = None) -> None:
        self.svc = svc
        self.store = store
        self.coalescer = Coalescer(self._run)

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()

    # ---- commands --------------------------------------------------------------------------

    async def reserve(self, tenant_id: str, meta: RequestMeta, req: h.NewReservation,
                      render: Callable[[object], Rendered],
                      render_error: Callable[[DomainError], Rendered]) -> Outcome:
        if req.location is None:  # several locations to try: the general path
            return await anyio.to_thread.run_sync(
                self.svc.reserve, tenant_id, meta, req, render, render_error)
        write = HotWrite("reserve", req.sku, req.location, req.quantity,
                         meta.idempotency_key, meta.fingerprint, meta, render, render_error,
                         ttl=req.ttl, kind=req.kind, reference=req.reference)
        return await self._submit(tenant_id, write)

    async def sell(self, tenant_id: str, meta: RequestMeta, sku: str, location: str,
                   quantity: int, render: Callable[[object], Rendered],
                   render_error: Callable[[DomainError], Rendered]) -> Outcome:
        write = HotWrite("sale", sku, location, quantity, meta.idempotency_key,
                         meta.fingerprint, meta, render, render_error)
        return await self._submit(tenant_id, write)

    async def _submit(self, tenant_id: str, write: HotWrite) -> Outcome:
        answer = await self.coalescer.submit((tenant_id, write.sku, write.location), write)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, Outcome)
        return answer

    # ---- reads -----------------------------------------------------------------------------

    async def stock(self, tenant_id: str, skus: list[str], now: datetime) -> StockSnapshot:
        if self.store is not None:
            return await self.store.stock(tenant_id, skus, now)
        return await anyio.to_thread.run_sync(self._stock_sync, tenant_id, skus, now)

    def _stock_sync(self, tenant_id: str, skus: list[str], now: datetime) -> StockSnapshot:
        with self.svc.uow(tenant_id, write=False) as uow:
            head = uow.log_head()
            levels = uow.ledger.levels(skus, now)
            deleted = {}
            for sku in dict.fromkeys(skus):
                item = uow.catalog.item(sku)
                if item is not None:
                    deleted[sku] = item.is_deleted
        return StockSnapshot(head, deleted, levels)

    # ---- one batch ---------------------------------------------------------------------------

    async def _run(self, key: Hashable, batch: list[HotWrite]) -> None:
        tenant_id = str(key[0])  # type: ignore[index]
        if self.store is not None:
            answers = await self._run_async(tenant_id, batch)
        else:
            answers = await anyio.to_thread.run_sync(self._run_sync, tenant_id, batch)
        for write, answer in zip(batch, answers, strict=True):
            if write.future is not None and not write.future.done():
                write.future.set_result(answer)

    async def _run_async(self, tenant_id: str, batch: list[HotWrite]) -> list[Answer]:
        assert self.store is not None
        first = batch[0]
        keys = _keys(batch)
        for attempt in range(2):
            now = self.svc.clock()
            async with self.store.level_batch(tenant_id, first.sku, first.location, keys,
                                              now) as open_batch:
                state = open_batch.state
                if state.due > 0 and attempt == 0:
                    expire = True  # leaving the block rolls back: nothing was written
                else:
                    expire = False
                    planned = self._plan(state, batch, tenant_id, now)
                    after, events = _materialise(planned, tenant_id, now)
                    answers = [self._answer(p, e[0] if e else None)
                               for p, e in zip(planned, events, strict=True)]
                    await open_batch.write(BatchWrites(
                        after, [p.record for p in planned if p.record and p.event],
                        [e for e in events if e is not None], _to_store(planned, answers)))
            if expire:
                await anyio.to_thread.run_sync(self._expire, tenant_id, first.sku)
                continue
            return self._finish(tenant_id, planned, answers)
        raise AssertionError("unreachable")  # pragma: no cover

    def _run_sync(self, tenant_id: str, batch: list[HotWrite]) -> list[Answer]:
        """The same batch through the UnitOfWork ports: one write transaction."""
        first = batch[0]
        sku, location = first.sku, first.location
        for attempt in range(2):
            now = self.svc.clock()
            with self.svc.uow(tenant_id) as uow:
                taken: dict[str, StoredResponse] = {}
                for key, fingerprint in _keys(batch):
                    if (found := uow.idempotency.claim(key, fingerprint, now)) is not None:
                        taken[key] = found
                stored = next((lv for lv in uow.ledger.stored_levels([sku])
                               if lv.location == location), None)
                seen = uow.ledger.level(sku, location, now)
                due = (stored.reserved - seen.reserved) if stored is not None else 0
                if due > 0 and attempt == 0:
                    uow.rollback()
                    self._expire(tenant_id, sku)
                    continue
                state = LevelState(stored, due, uow.catalog.item_deleted(sku),
                                   uow.catalog.location_exists(location), taken)
                planned = self._plan(state, batch, tenant_id, now)
                answers: list[Answer] = []
                for p in planned:
                    applied = None
                    if p.event is not None:
                        if p.record is not None:
                            res = p.record.reservation
                            uow.reservations.add(res, p.record.kind, p.record.reference, now)
                        applied = uow.ledger.append(p.event, _ctx(p.write, tenant_id, now))
                        if applied is None:  # pragma: no cover - decided under the write lock
                            raise AssertionError(f"the level guard refused {p.event}")
                    answers.append(self._answer(p, applied))
                for key, status, body in _to_store(planned, answers):
                    uow.idempotency.complete(key, status, body)
                uow.commit()
            return self._finish(tenant_id, planned, answers)
        raise AssertionError("unreachable")  # pragma: no cover

    def _plan(self, state: LevelState, batch: list[HotWrite], tenant_id: str,
              now: datetime) -> list[Planned]:
        return plan(state, batch, tenant_id, now, self.svc.default_ttl)

    def _expire(self, tenant_id: str, sku: str) -> None:
        self.svc.expire_due(tenant_id=tenant_id, sku=sku)

    def _answer(self, p: Planned, applied: Applied | None) -> Answer:
        w = p.write
        try:
            if p.replay is not None:
                return _replay(w, p.replay.fingerprint, p.replay.status_code, p.replay.body)
            if p.same_as is not None:
                return None  # filled in by _finish from the earlier request's answer
            if p.error is not None:
                status, body = w.render_error(p.error)
            elif w.op == "reserve":
                status, body = w.render(p.record)
            else:
                assert applied is not None
                status, body = w.render(h.MovementResult([applied]))
        except IdempotencyKeyReused as exc:
            return exc
        return Outcome(status, json.dumps(body, default=str))

    def _finish(self, tenant_id: str, planned: list[Planned],
                answers: list[Answer]) -> list[Answer]:
        """After commit: wake the sequencer, count, log; answer repeats within the batch."""
        if any(p.event is not None for p in planned):
            self.svc.bus.ring(OUTBOX)
        final: list[Answer] = []
        for p, answer in zip(planned, answers, strict=True):
            if p.same_as is not None:
                earlier = final[p.same_as]
                first = planned[p.same_as].write
                if isinstance(earlier, Outcome):
                    try:
                        answer = _replay(p.write, first.fingerprint, earlier.status,
                                         earlier.body)
                    except IdempotencyKeyReused as exc:
                        answer = exc
                else:
                    answer = earlier
            elif isinstance(p.error, InsufficientStock):
                metrics.OVERSELLS_PREVENTED.inc()
                self.svc.refusals[tenant_id] += 1
            if isinstance(answer, Outcome) and not answer.replayed:
                meta = p.write.meta
                log.info("write_applied", tenant=tenant_id, source=meta.source,
                         actor=meta.actor, correlation_id=meta.correlation_id,
                         status=answer.status)
            final.append(answer)
        return final


def _replay(w: HotWrite, fingerprint: str, status: int | None, body: str | None) -> Outcome:
    if fingerprint != w.fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request",
            idempotency_key=w.key)
    assert status is not None and body is not None
    return Outcome(status, body, replayed=True)


def _keys(batch: list[HotWrite]) -> list[tuple[str, str]]:
    """Each Idempotency-Key of the batch once, with its first request's fingerprint, in
    key order (every writer claims keys in the same order: no crosswise waits)."""
    first: dict[str, str] = {}
    for w in batch:
        if w.key is not None:
            first.setdefault(w.key, w.fingerprint)
    return sorted(first.items())


def _ctx(w: HotWrite, tenant_id: str, now: datetime) -> WriteContext:
    meta: RequestMeta = w.meta
    return WriteContext(tenant_id=tenant_id, now=now, source=meta.source, actor=meta.actor,
                        idempotency_key=w.key, correlation_id=meta.correlation_id,
                        origin=meta.origin)


def _materialise(planned: list[Planned], tenant_id: str, now: datetime
                 ) -> tuple[Level | None, list[tuple[Applied, WriteContext] | None]]:
    """The accepted events with the stored level's counts after each (the store writes
    exactly these: it holds the level's lock, so nothing moves in between)."""
    after: Level | None = None
    out: list[tuple[Applied, WriteContext] | None] = []
    for p in planned:
        if p.event is None or p.level_after is None:
            out.append(None)
            continue
        after = p.level_after
        out.append((Applied(str(uuid.uuid4()), p.event, after.on_hand, after.reserved,
                            after.version), _ctx(p.write, tenant_id, now)))
    return after, out


def _to_store(planned: list[Planned], answers: list[Answer]) -> list[tuple[str, int, str]]:
    """The answers the batch's claimed keys keep (not replays, not repeats in the batch)."""
    kept = []
    for p, answer in zip(planned, answers, strict=True):
        if p.write.key is not None and p.replay is None and p.same_as is None \
                and isinstance(answer, Outcome):
            kept.append((p.write.key, answer.status, answer.body))
    return kept

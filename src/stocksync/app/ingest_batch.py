"""A lane's run of plain sales applied in ONE write transaction (issue 12 item 4).

Applied one at a time, a webhook sale costs several transactions (load the channel, pick
the location, claim/sell/complete its key, settle it in the inbox); behind a burst the
worker then falls behind the ack path, which keeps many deliveries per transaction. Here a
lane's (one tenant's channel's) consecutive deliveries whose messages are only plain sales
(no hold to commit) and ignored lines are applied in one transaction, each delivery inside
a savepoint, with exactly what the single path does per sale: the same idempotency key
(`channel_changes.meta`), `ingest.sell`, the same remembered summary. So a sale applied
here and the same delivery replayed on the single path later are one effect.

The run stops at the first delivery that is not such a run's (an order to fetch, a
notice, a return, a hold's commit, an unreadable body) or whose savepoint raised (refused
for stock, unknown SKU, a deadlock...): its part is rolled back, the ones before it are
committed, and it takes the single path (refusals, conflicts, dead letters, retries), so a
channel's deliveries are still applied in their order."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from stocksync import metrics
from stocksync.app.channel_changes import (
    Source,
    available_by_location,
    choose_location,
    meta,
    summary,
)
from stocksync.app.ingest import POLLED, sell
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import Delivery, WriteContext
from stocksync.app.service import RequestMeta, Stocksync
from stocksync.core.channels import Channel
from stocksync.core.errors import IdempotencyKeyReused
from stocksync.core.inbound import ChannelSale, Ignored, InboundMessage
from stocksync.ingest import polled
from stocksync.ingest.registry import parser_for

log = structlog.get_logger()
# A batch stops taking deliveries once its transaction has run this long: it holds the
# write lock (SQLite: every writer, the ack path's too, waits for it) or the row locks of
# the levels it sold (PostgreSQL), so an ack or a sale through the API never waits for
# much more than this; long enough that each transaction's fixed cost (its commit, the
# channel read, the settle) is shared by many deliveries (measured: 25 ms applied a third
# fewer deliveries per second than 50 ms).
BUDGET_SECONDS = 0.05


def batchable(messages: Sequence[InboundMessage]) -> list[ChannelSale] | None:
    """The sales of a delivery a batch can apply; None when it holds anything else."""
    sales: list[ChannelSale] = []
    for m in messages:
        if isinstance(m, ChannelSale) and not m.reservation_id:
            sales.append(m)
        elif not isinstance(m, Ignored):
            return None
    return sales


@dataclass(frozen=True, slots=True)
class Batched:
    """What `SaleBatch.apply` did: the first `applied` deliveries were applied (in one
    transaction). When `stopped`, the next one must take the single path (it is not a
    batch's, or it failed in its savepoint); otherwise the batch ran out of time and the
    rest are left, unapplied, for the next one."""

    applied: int
    stopped: bool


@dataclass
class _Sold:
    """What is reported per sale once the batch committed (as `Stocksync._once` does)."""

    meta: RequestMeta
    occurred_at: datetime | None
    now: datetime


@dataclass
class _Run:
    channel: Channel
    parsed: list[tuple[Delivery, list[ChannelSale]]] = field(default_factory=list)
    sold: list[_Sold] = field(default_factory=list)


class SaleBatch:
    def __init__(self, svc: Stocksync) -> None:
        self.svc = svc

    def apply(self, deliveries: Sequence[Delivery], budget: float | None = None) -> Batched:
        """Apply the longest batchable prefix of `deliveries` (one lane's, in its order) in
        one transaction, for at most about `budget` seconds (BUDGET_SECONDS). An exception
        (the commit failed, the connection broke) means none was applied."""
        budget = BUDGET_SECONDS if budget is None else budget
        run = self._parse(deliveries)
        if run is None or not run.parsed:
            return Batched(0, True)
        applied, stopped = 0, len(run.parsed) < len(deliveries)
        with self.svc.uow(run.channel.tenant_id) as uow:
            started = time.perf_counter()
            for d, sales in run.parsed:
                sold = len(run.sold)
                try:
                    with uow.savepoint():
                        self._delivery(uow, run, d, sales)
                except Exception as exc:  # the single path reports it (and decides)
                    del run.sold[sold:]
                    log.info("ingest_batch_stopped", delivery=d.id, channel=d.channel,
                             error=f"{type(exc).__name__}: {exc}")
                    stopped = True
                    break
                applied += 1
                if applied < len(run.parsed) and time.perf_counter() - started >= budget:
                    stopped = False  # the rest waits for the next batch
                    break
            if applied:
                uow.commit()
        kind = run.channel.kind.value
        for s in run.sold:
            log.info("write_applied", tenant=run.channel.tenant_id, source=s.meta.source,
                     actor=s.meta.actor, correlation_id=s.meta.correlation_id, status=201)
            if s.occurred_at is not None:
                metrics.CHANNEL_SALE_DELAY.labels(kind).observe(
                    max((s.now - s.occurred_at).total_seconds(), 0.0))
        return Batched(applied, stopped)

    def _parse(self, deliveries: Sequence[Delivery]) -> _Run | None:
        if not deliveries:
            return None
        first = deliveries[0]
        with self.svc.uow(first.tenant_id, write=False) as uow:
            channel = uow.channels.get(first.channel)
        if channel is None:
            return None  # the single path dead-letters it
        run = _Run(channel)
        for d in deliveries:
            assert (d.tenant_id, d.channel) == (first.tenant_id, first.channel), "one lane"
            try:
                parser = POLLED if d.kind == polled.KIND else parser_for(d.kind)
                sales = batchable(parser.parse(d.headers, d.body, channel.settings).messages)
            except Exception:  # malformed, unknown kind: the single path says why
                sales = None
            if sales is None:
                break
            run.parsed.append((d, sales))
        return run

    def _delivery(self, uow: UnitOfWork, run: _Run, d: Delivery,
                  sales: list[ChannelSale]) -> None:
        """One delivery's sales, each once by its key (in the caller's savepoint)."""
        channel, source = run.channel, Source(d.delivery_id, d.correlation_id)
        for m in sales:
            request = meta(channel, source, m.key)
            key = request.idempotency_key
            assert key is not None
            ctx = WriteContext(tenant_id=channel.tenant_id, now=self.svc.clock(),
                               source=request.source, actor=request.actor,
                               idempotency_key=key, correlation_id=request.correlation_id,
                               origin=request.origin)
            stored = uow.idempotency.claim(key, request.fingerprint, ctx.now)
            if stored is not None:
                if stored.fingerprint != request.fingerprint:
                    raise IdempotencyKeyReused("this key was already used differently",
                                               idempotency_key=key)
                continue  # applied before (another delivery of the same order line)
            location = location_in(uow, channel, m.sku, m.location, ctx.now)
            result = sell(uow, ctx, channel, m, location)
            uow.idempotency.complete(key, 201, json.dumps(summary(result), default=str))
            run.sold.append(_Sold(request, m.occurred_at, ctx.now))


def location_in(uow: UnitOfWork, channel: Channel, sku: str, wanted: str | None,
                now: datetime) -> str:
    """`channel_changes.location_for` read inside the batch's transaction, so the sales
    before this one in the batch count."""
    return choose_location(channel, wanted, lambda: available_by_location(uow, sku, now))

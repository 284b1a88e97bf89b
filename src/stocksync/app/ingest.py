"""Applying what channels tell stocksync (webhook deliveries, polled orders): each message
once, by an idempotency key from the channel's own ids; orders named without their lines
are read from the channel; inventory notices are checked against the channel
(fetch-on-notify) and against what stocksync expects there (see app/channel_changes.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import structlog

from stocksync import metrics
from stocksync.app import handlers as h
from stocksync.app.channel_changes import (
    DeadLetter,
    Source,
    count_channel_move,
    location_for,
    record_conflict,
    run_once,
    settle_level,
)
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import Delivery, WriteContext
from stocksync.app.service import Stocksync
from stocksync.channels.base import (
    ChannelConnector,
    FetchesOrders,
    ReadsOrderSummaries,
    Rejected,
    level_times,
)
from stocksync.channels.registry import connector_class
from stocksync.core.channels import Channel
from stocksync.core.events import Event, EventType
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    LevelReport,
    MalformedWebhook,
    OrderNotice,
)
from stocksync.core.reservations import ReservationStatus
from stocksync.ingest import polled
from stocksync.ingest.base import WebhookParser
from stocksync.ingest.registry import parser_for

__all__ = ["Applied", "DeadLetter", "Ingestor"]

log = structlog.get_logger()
Fetch = Callable[[Channel, str], Awaitable[int | None]]
ConnectorFor = Callable[[Channel], Awaitable[ChannelConnector | None]]
POLLED: WebhookParser = polled.PolledParser()


@dataclass
class Applied:
    sales: int = 0
    returns: int = 0
    adjustments: int = 0
    echoes: int = 0
    ignored: int = 0
    orders_fetched: int = 0


class Ingestor:
    def __init__(self, svc: Stocksync, fetch: Fetch | None,
                 connector_for: ConnectorFor | None = None) -> None:
        self.svc = svc
        self.fetch = fetch  # the channel's current value of a SKU (None: take the payload's)
        self.connector_for = connector_for  # for orders named without their lines

    def load(self, d: Delivery) -> Channel:
        with self.svc.uow(d.tenant_id, write=False) as uow:
            channel = uow.channels.get(d.channel)
        if channel is None:
            raise DeadLetter(f"channel {d.channel} no longer exists")
        return channel

    async def process(self, d: Delivery, channel: Channel) -> Applied:
        try:
            parser = POLLED if d.kind == polled.KIND else parser_for(d.kind)
            parsed = parser.parse(d.headers, d.body, channel.settings)
        except MalformedWebhook as exc:
            raise DeadLetter(exc.message) from exc
        return await self.apply(channel, parsed.messages, Source(d.delivery_id,
                                                                 d.correlation_id))

    async def apply(self, channel: Channel, messages: Sequence[InboundMessage],
                    source: Source, done: Applied | None = None) -> Applied:
        """Apply messages in order. Database work runs in worker threads: never on the event
        loop that also serves the API and the channel workers."""
        done = done or Applied()
        for message in messages:
            match message:
                case ChannelSale():
                    await anyio.to_thread.run_sync(self._sale, channel, source, message)
                    done.sales += 1
                case ChannelReturn():
                    done.returns += await anyio.to_thread.run_sync(
                        self._return, channel, source, message)
                case LevelReport():
                    outcome = await self._level(channel, source, message)
                    done.echoes += outcome == "echo"
                    done.adjustments += outcome == "adjusted"
                case OrderNotice():
                    fetched = await self._fetch_order(channel, message)
                    done.orders_fetched += 1
                    await self.apply(channel, [m for m in fetched
                                               if not isinstance(m, OrderNotice)],
                                     source, done)
                case Ignored():
                    done.ignored += 1
        return done

    # ---- orders named without their lines -----------------------------------------------

    async def _fetch_order(self, channel: Channel, notice: OrderNotice) -> list[InboundMessage]:
        connector = await self.connector_for(channel) if self.connector_for else None
        if notice.summary is not None and isinstance(connector, ReadsOrderSummaries):
            counted = connector.orders_from_summary(notice.order_id, notice.summary)
            if counted is not None:
                return counted
        if not isinstance(connector, FetchesOrders):
            raise DeadLetter(f"order {notice.order_id}: stocksync cannot read orders from a "
                             f"{channel.kind.value} channel")
        try:
            return await connector.fetch_orders([notice.order_id])
        except Rejected as exc:  # the platform refuses to show it: retrying cannot help
            raise DeadLetter(f"order {notice.order_id}: {exc}") from exc

    # ---- sales and returns ----------------------------------------------------------

    def _sale(self, channel: Channel, source: Source, m: ChannelSale) -> None:
        if m.reservation_id:
            rid = m.reservation_id

            def commit(uow: UnitOfWork, ctx: WriteContext) -> Any:
                result = h.resolve_reservation(uow, ctx, rid, ReservationStatus.COMMITTED)[1]
                applied = getattr(result, "applied", None) or []
                for a in applied:
                    if a.event.sku == m.sku and a.event.location:
                        count_channel_move(uow, ctx, channel, m.sku, a.event.location,
                                           -m.quantity, m.occurred_at, moves_available=False)
                return result

            run_once(self.svc, channel, source, m.key, commit)
            return
        location = location_for(self.svc, channel, m.sku, m.location)
        refused_key = f"{m.key}:refused"

        def sell_once(uow: UnitOfWork, ctx: WriteContext) -> h.MovementResult:
            result = sell(uow, ctx, channel, m, location)
            if m.occurred_at is not None:  # runs once per key: replays never get here
                metrics.CHANNEL_SALE_DELAY.labels(channel.kind.value).observe(
                    max((ctx.now - m.occurred_at).total_seconds(), 0.0))
            return result

        try:
            run_once(self.svc, channel, source, m.key, sell_once)
        except DeadLetter as exc:
            if exc.oversold:
                # Refused here, but the channel did sell: what it shows moved all the same
                # (counted once, and not again if the sale is replayed and accepted later).
                run_once(self.svc, channel, source, refused_key, lambda uow, ctx:
                         count_channel_move(uow, ctx, channel, m.sku, location,
                                            -m.quantity, m.occurred_at, give_back=False),
                         lambda kept: {"kept": kept})
            raise

    def _return(self, channel: Channel, source: Source, m: ChannelReturn) -> int:
        location, sku = m.location, m.sku
        if m.sale_key is not None:
            sale = self.svc.remembered(channel.tenant_id, f"ingest:{channel.code}:{m.sale_key}")
            if sale is None:
                log.info("return_without_sale_ignored", channel=channel.code, key=m.key)
                return 0
            sold_at = sale.get("locations") or []
            location = location or (sold_at[0] if sold_at else None)
            sku = sku or next(iter(sale.get("skus") or []), "")
        if not sku:
            raise DeadLetter(f"{m.key}: the return names no SKU and its sale is unknown")
        where = location_for(self.svc, channel, sku, location)
        movement = h.Movement("adjust", sku, where, m.quantity,
                              reason=f"returned via {channel.code}")

        def restock(uow: UnitOfWork, ctx: WriteContext) -> h.MovementResult:
            result = h.record_movement(uow, ctx, movement)
            count_channel_move(uow, ctx, channel, sku, where, m.quantity, m.occurred_at)
            return result

        run_once(self.svc, channel, source, m.key, restock)
        return 1

    # ---- inventory notices: fetch-on-notify and echoes ---------------------------------

    async def _level(self, channel: Channel, source: Source, m: LevelReport) -> str:
        located = channel.settings.get("location_id")
        if m.channel_location and located and _numeric_id(m.channel_location) != \
                _numeric_id(located):
            return "other-location"
        sku, target = await anyio.to_thread.run_sync(self._target, channel, m)
        if sku is None:
            return "unknown-item"
        if m.value is not None and target is not None and m.value in target.ours():
            # The echo of one of our own sets (most notices are): it says the channel agreed
            # with us then, so there is nothing to read back. A change after it sends its
            # own notice (and a lost one is found by reconciliation).
            return "echo"
        # The notice is a hint (its payload may be old): what the channel shows now is the
        # fact, read at `read_at`.
        read_at = self.svc.clock()
        with level_times() as changed_at:
            value = await self.fetch(channel, sku) if self.fetch is not None else None
        # Where the platform says when the level last changed, that is what the value is
        # as of: the read itself may have waited (a busy pool, the API's pacing) while the
        # channel sold more, and a sale made after `read_at` may be in the value.
        read_at = changed_at.get(sku, read_at)
        if value is None:
            if m.value is None:
                return "no-value"
            read_at = None
            if m.observed_at and target and target.observed_at and \
                    m.observed_at < target.observed_at:
                # Only the payload, older than a level already applied: recorded, not
                # applied.
                await anyio.to_thread.run_sync(self._stale, channel, source, sku, m,
                                               target.observed_at)
                return "stale"
            value = m.value
        before = target.ours() if target else frozenset()
        return await anyio.to_thread.run_sync(
            partial(settle_level, read_at=read_at, ours_before=before),
            self.svc, channel, sku, value, m.observed_at, source)

    def _target(self, channel: Channel, m: LevelReport) -> tuple[str | None, Any]:
        with self.svc.uow(channel.tenant_id, write=False) as uow:
            repo = uow.channels
            field = connector_class(channel.kind).mapping_field
            sku = m.sku or (repo.sku_for_external_id(channel.code, field, m.external_id)
                            if m.external_id and field else None)
            return sku, repo.targets(channel.code, [sku]).get(sku) if sku else None

    def _stale(self, channel: Channel, source: Source, sku: str, m: LevelReport,
               newest: Any) -> None:
        """Notices arrive in any order: an older absolute value is recorded, not applied."""
        assert m.observed_at is not None
        location = channel.rules.locations[0] if channel.rules.locations else None
        record_conflict(self.svc, channel, source, f"stale:{source.id}:{sku}", Event(
            EventType.CONFLICT_DETECTED, sku, location, 0, {
                "attempted": "channel level", "channel": channel.code, "value": m.value,
                "reason": "a channel notice older than the newest one already applied",
                "occurred_at": m.observed_at.isoformat(),
                "newest_applied": newest.isoformat()}))


def sell(uow: UnitOfWork, ctx: WriteContext, channel: Channel, m: ChannelSale,
         location: str) -> h.MovementResult:
    """A channel's sale without a hold, at `location`, in the transaction that claims its
    key (app/ingest_batch.py applies it the same way, many in one transaction)."""
    refused = uow.idempotency.lookup(f"ingest:{channel.code}:{m.key}:refused")
    if refused is None:
        count_channel_move(uow, ctx, channel, m.sku, location, -m.quantity, m.occurred_at)
    else:  # refused before, replayed now: the part a level notice took goes back
        kept = int(json.loads(refused.body or "{}").get("kept") or 0)
        if kept:
            h.record_movement(uow, ctx, h.Movement(
                "adjust", m.sku, location, -kept,
                reason=f"already counted from {channel.code}'s level notice"))
    return h.record_movement(uow, ctx, h.Movement("sale", m.sku, location, m.quantity,
                                                  occurred_at=m.occurred_at))


def _numeric_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]

"""Polling a channel's orders: the safety net under webhooks, and the only way in for
platforms that push nothing to us. Each poll reads the orders changed since the stored
cursor, keeps them in the inbox (one delivery per order, applied by the ingest worker with
its retries and dead letters), and only then moves the cursor on, so an order read is never
lost and an order read twice (or also seen by webhook) counts once, by its keys."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import structlog

from stocksync import metrics
from stocksync.app.ports import NewDelivery
from stocksync.app.service import INBOX, Stocksync
from stocksync.channels.base import OrderPage, PollsOrders
from stocksync.core.channels import Channel
from stocksync.core.inbound import ChannelReturn, ChannelSale, InboundMessage
from stocksync.ingest import polled

log = structlog.get_logger()
MIN_INTERVAL = 1.0


@dataclass(frozen=True, slots=True)
class Polled:
    orders: int  # orders kept (new or changed since last read)
    lines: int  # sale and return lines read
    more: bool  # the platform has another page ready


def poll_interval(channel: Channel, connector: PollsOrders) -> float | None:
    """Seconds between polls: the channel's `order_poll_seconds` setting, else the
    connector's default (the fastest its platform's limits allow); None: polling is off."""
    raw = channel.settings.get("order_poll_seconds")
    if raw is None:
        return connector.order_poll_seconds
    seconds = float(raw)
    return None if seconds == 0 else max(seconds, MIN_INTERVAL)


class OrderPoller:
    def __init__(self, svc: Stocksync, channel: Channel, connector: PollsOrders) -> None:
        self.svc = svc
        self.channel = channel
        self.connector = connector
        self.labels = (channel.tenant_id, channel.code)

    async def poll_once(self) -> Polled:
        cursor = await anyio.to_thread.run_sync(self._cursor)
        started = time.perf_counter()
        try:
            page: OrderPage = await self.connector.poll_orders(cursor)
        except Exception as exc:
            metrics.ORDER_POLLS.labels(*self.labels, "error").inc()
            await anyio.to_thread.run_sync(self._failed, f"{type(exc).__name__}: {exc}")
            raise
        metrics.ORDER_POLLS.labels(*self.labels, "ok").inc()
        metrics.CHANNEL_API.labels(*self.labels, "ok").observe(time.perf_counter() - started)
        kept = await anyio.to_thread.run_sync(self._keep, page)
        if kept:
            self.svc.bus.ring(INBOX)
        lines = sum(isinstance(m, ChannelSale | ChannelReturn) for m in page.messages)
        if kept or lines:
            log.info("orders_polled", tenant=self.channel.tenant_id, channel=self.channel.code,
                     orders=kept, lines=lines, more=page.more)
        return Polled(kept, lines, page.more)

    def _cursor(self) -> str:
        with self.svc.uow(self.channel.tenant_id, write=False) as uow:
            cursor, created_at = uow.channels.order_cursor(
                self.channel.code)
        return cursor or created_at.isoformat()

    def _keep(self, page: OrderPage) -> int:
        """Keep the page's orders, and only then move the cursor on: a crash between the
        two reads the page again, and its orders already kept are dropped as redeliveries
        (by their delivery ids), so an order read is never lost nor kept twice."""
        now = self.svc.clock()
        deliveries = []
        for order, messages in _by_order(page.messages).items():
            delivery_id, body = polled.encode(messages)
            deliveries.append(NewDelivery(self.channel.tenant_id, self.channel.code,
                                          polled.KIND, delivery_id, polled.TOPIC,
                                          {"x-order": order[:200]}, body))
        kept = sum(i is not None for i in self.svc.inbox.keep(deliveries, now)) \
            if deliveries else 0
        with self.svc.uow(self.channel.tenant_id) as uow:
            uow.channels.record_order_poll(self.channel.code, now, page.cursor, None)
            uow.commit()
        return kept

    def _failed(self, error: str) -> None:
        with self.svc.uow(self.channel.tenant_id) as uow:
            uow.channels.record_order_poll(
                self.channel.code, self.svc.clock(), None, error)
            uow.commit()


def _by_order(messages: Sequence[InboundMessage]) -> dict[str, list[InboundMessage]]:
    orders: dict[str, list[InboundMessage]] = {}
    for m in messages:
        if isinstance(m, ChannelSale | ChannelReturn):
            orders.setdefault(polled.order_of(m), []).append(m)
    return orders

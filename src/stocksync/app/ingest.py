"""Applying webhook deliveries: each message once, by an idempotency key from the channel's
own ids; inventory notices checked against the channel (fetch-on-notify) and against what
stocksync itself pushed (echo-loop prevention)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
import structlog

from stocksync.app import handlers as h
from stocksync.app.service import RequestMeta, Stocksync
from stocksync.channels.registry import mapping_field
from stocksync.core.channel_rules import ExternalChanges
from stocksync.core.channels import Channel
from stocksync.core.errors import InsufficientStock
from stocksync.core.events import Event, EventType
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, LevelReport
from stocksync.core.reservations import ReservationStatus
from stocksync.ingest.registry import parser_for
from stocksync.storage.channels import SqlChannels
from stocksync.storage.inbox import Delivery
from stocksync.storage.ledger import WriteContext
from stocksync.storage.uow import SqlUnitOfWork

log = structlog.get_logger()
Fetch = Callable[[Channel, str], Awaitable[int | None]]


class DeadLetter(Exception):
    """Retrying cannot help (unknown SKU, oversold, malformed): park it for a person."""


@dataclass
class Applied:
    sales: int = 0
    returns: int = 0
    adjustments: int = 0
    echoes: int = 0
    ignored: int = 0


class Ingestor:
    def __init__(self, svc: Stocksync, fetch: Fetch | None) -> None:
        self.svc = svc
        self.fetch = fetch  # the channel's current value of a SKU (None: take the payload's)

    def load(self, d: Delivery) -> Channel:
        with self.svc.uow(d.tenant_id, write=False) as uow:
            channel = SqlChannels(uow.conn, d.tenant_id).get(d.channel)
        if channel is None:
            raise DeadLetter(f"channel {d.channel} no longer exists")
        return channel

    async def process(self, d: Delivery, channel: Channel) -> Applied:
        from stocksync.core.inbound import MalformedWebhook

        try:
            parsed = parser_for(d.kind).parse(d.headers, d.body, channel.settings)
        except MalformedWebhook as exc:
            raise DeadLetter(exc.message) from exc
        done = Applied()
        for message in parsed.messages:
            # Database work runs in a worker thread: never on the event loop that also
            # serves the API and the channel workers.
            match message:
                case ChannelSale():
                    await anyio.to_thread.run_sync(self._sale, channel, d, message)
                    done.sales += 1
                case ChannelReturn():
                    done.returns += await anyio.to_thread.run_sync(
                        self._return, channel, d, message)
                case LevelReport():
                    outcome = await self._level(channel, d, message)
                    done.echoes += outcome == "echo"
                    done.adjustments += outcome == "adjusted"
                case Ignored():
                    done.ignored += 1
        return done

    # ---- sales and returns ----------------------------------------------------------

    def _meta(self, channel: Channel, d: Delivery, key: str) -> RequestMeta:
        scoped = f"ingest:{channel.code}:{key}"
        return RequestMeta(source=f"{channel.kind.value}:{channel.code}",
                           actor=f"channel:{channel.code}", idempotency_key=scoped,
                           fingerprint=hashlib.sha256(scoped.encode()).hexdigest(),
                           correlation_id=d.correlation_id)

    def _run(self, channel: Channel, d: Delivery, key: str,
             action: Callable[[SqlUnitOfWork, WriteContext], Any]) -> dict[str, Any]:
        """Apply once per key; a refusal is remembered for the key too (and dead-letters)."""
        outcome = self.svc.execute(channel.tenant_id, self._meta(channel, d, key), action,
                                   lambda result: (201, _summary(result)),
                                   lambda err: (409 if isinstance(err, InsufficientStock)
                                                else 422, {"error": err.code,
                                                           "message": err.message,
                                                           "details": err.details}),
                                   remember_refusals=False)
        body: dict[str, Any] = json.loads(outcome.body)
        if outcome.status >= 400:
            if body.get("error") == "insufficient_stock":
                self._conflict(channel, d, key, body)
            raise DeadLetter(f"{key}: {body.get('message')}")
        return body

    def _location(self, channel: Channel, sku: str, wanted: str | None) -> str:
        """The payload's location, else the channel's location with most available."""
        if wanted:
            return wanted
        locations = list(channel.rules.locations)
        with self.svc.uow(channel.tenant_id, write=False) as uow:
            levels = {lv.location: lv.available
                      for lv in uow.ledger.levels([sku], self.svc.clock())}
        return max(locations, key=lambda loc: (levels.get(loc, 0), -locations.index(loc)))

    def _sale(self, channel: Channel, d: Delivery, m: ChannelSale) -> None:
        if m.reservation_id:
            rid = m.reservation_id
            self._run(channel, d, m.key, lambda uow, ctx: h.resolve_reservation(
                uow, ctx, rid, ReservationStatus.COMMITTED)[1])
            return
        movement = h.Movement("sale", m.sku, self._location(channel, m.sku, m.location),
                              m.quantity, occurred_at=m.occurred_at)
        self._run(channel, d, m.key, lambda uow, ctx: h.record_movement(uow, ctx, movement))

    def _return(self, channel: Channel, d: Delivery, m: ChannelReturn) -> int:
        location = m.location
        if m.sale_key is not None:
            scoped = f"ingest:{channel.code}:{m.sale_key}"
            with self.svc.uow(channel.tenant_id, write=False) as uow:
                stored = uow.idempotency.lookup(scoped)
            if stored is None or stored.status_code != 201 or stored.body is None:
                log.info("return_without_sale_ignored", channel=channel.code, key=m.key)
                return 0
            sold_at = json.loads(stored.body).get("locations") or []
            location = location or (sold_at[0] if sold_at else None)
        movement = h.Movement("adjust", m.sku, self._location(channel, m.sku, location),
                              m.quantity, reason=f"returned via {channel.code}")
        self._run(channel, d, m.key, lambda uow, ctx: h.record_movement(uow, ctx, movement))
        return 1

    def _conflict(self, channel: Channel, d: Delivery, key: str, refusal: dict[str, Any]) -> None:
        details = refusal.get("details") or {}
        event = Event(EventType.CONFLICT_DETECTED, str(details.get("sku") or ""),
                      details.get("location"), 0, {
                          "attempted": "stock.sold", "channel": channel.code, "key": key,
                          "reason": "the channel sold more than stocksync had available",
                          "requested": details.get("requested"),
                          "available": details.get("available")})

        def record(uow: SqlUnitOfWork, ctx: WriteContext) -> None:
            uow.ledger.append(event, ctx)

        self.svc.execute(channel.tenant_id, self._meta(channel, d, key + ":conflict"), record,
                         lambda _: (201, {}), lambda err: (422, {}), remember_refusals=False)

    # ---- inventory notices: fetch-on-notify and echoes ---------------------------------

    async def _level(self, channel: Channel, d: Delivery, m: LevelReport) -> str:
        code = channel.code
        located = channel.settings.get("location_id")
        if m.channel_location and located and _numeric_id(m.channel_location) != \
                _numeric_id(located):
            return "other-location"
        sku, target = await anyio.to_thread.run_sync(self._target, channel, m)
        if sku is None:
            return "unknown-item"
        if m.observed_at and target and target.observed_at and \
                m.observed_at <= target.observed_at:
            # older than one already applied
            await anyio.to_thread.run_sync(self._stale, channel, d, sku, m, target.observed_at)
            return "stale"
        # The notice is a hint: what the channel shows now is the fact.
        value = await self.fetch(channel, sku) if self.fetch is not None else m.value
        if value is None:
            return "no-value"
        ours = {v for v in (target.pushed, target.wanted, target.sending)
                if v is not None} if target else set()
        if value in ours:
            log.debug("echo_ignored", channel=code, sku=sku, value=value)
            return "echo"
        if target is None or target.pushed is None or \
                channel.rules.external_changes is ExternalChanges.OVERWRITE:
            # the pusher puts ours back
            await anyio.to_thread.run_sync(self._observe, channel, sku, value, m.observed_at)
            return "overwritten"
        delta = value - target.pushed
        location = await anyio.to_thread.run_sync(self._location, channel, sku, None)
        movement = h.Movement("adjust", sku, location, delta,
                              reason=f"changed in {code} ({target.pushed} -> {value})")

        def accept(uow: SqlUnitOfWork, ctx: WriteContext) -> h.MovementResult:
            result = h.record_movement(uow, ctx, movement)
            SqlChannels(uow.conn, channel.tenant_id).observed(code, sku, value, m.observed_at)
            return result

        try:
            await anyio.to_thread.run_sync(self._run, channel, d,
                                           f"level:{d.delivery_id}:{sku}", accept)
        except DeadLetter:
            # not accepted: the source wins
            await anyio.to_thread.run_sync(self._observe, channel, sku, value, m.observed_at)
            raise
        return "adjusted"

    def _target(self, channel: Channel, m: LevelReport) -> tuple[str | None, Any]:
        with self.svc.uow(channel.tenant_id, write=False) as uow:
            repo = SqlChannels(uow.conn, channel.tenant_id)
            field = mapping_field(channel.kind)
            sku = m.sku or (repo.sku_for_external_id(channel.code, field, m.external_id)
                            if m.external_id and field else None)
            return sku, repo.targets(channel.code, [sku]).get(sku) if sku else None

    def _observe(self, channel: Channel, sku: str, value: int,
                 observed_at: datetime | None) -> None:
        with self.svc.uow(channel.tenant_id) as uow:
            SqlChannels(uow.conn, channel.tenant_id).observed(channel.code, sku, value,
                                                              observed_at)
            uow.commit()

    def _stale(self, channel: Channel, d: Delivery, sku: str, m: LevelReport,
               newest: datetime) -> None:
        """Notices arrive in any order: an older absolute value is recorded, not applied."""
        assert m.observed_at is not None
        location = channel.rules.locations[0] if channel.rules.locations else None
        event = Event(EventType.CONFLICT_DETECTED, sku, location, 0, {
            "attempted": "channel level", "channel": channel.code, "value": m.value,
            "reason": "a channel notice older than the newest one already applied",
            "occurred_at": m.observed_at.isoformat(), "newest_applied": newest.isoformat()})

        def record(uow: SqlUnitOfWork, ctx: WriteContext) -> None:
            uow.ledger.append(event, ctx)

        self.svc.execute(channel.tenant_id, self._meta(channel, d, f"stale:{d.delivery_id}:{sku}"),
                         record, lambda _: (201, {}), lambda err: (422, {}),
                         remember_refusals=False)


def _numeric_id(value: str) -> str:
    return value.rsplit("/", 1)[-1]


def _summary(result: Any) -> dict[str, Any]:
    """What is remembered for an ingested key: enough to find where a sale was taken."""
    applied = getattr(result, "applied", None)
    if applied:
        return {"events": [a.event_id for a in applied],
                "locations": [a.event.location for a in applied]}
    return {}



"""replay: apply an event file to a tenant, each record once (by its idempotency key)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from stocksync.app import event_file as ef
from stocksync.app import handlers as h
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import WriteContext
from stocksync.app.service import Outcome, RequestMeta, Stocksync
from stocksync.core.catalog import Item, Location, LocationKind
from stocksync.core.errors import DomainError
from stocksync.core.inbound import ChannelReturn, ChannelSale
from stocksync.core.reservations import ReservationKind, ReservationStatus
from stocksync.ingest.pos import PosParser
from stocksync.ingest.shopify import order_sales

Action = Callable[[UnitOfWork, WriteContext], Any]


@dataclass
class ReplayReport:
    applied: int = 0
    already_applied: int = 0
    refused: list[str] = field(default_factory=list)
    by_type: Counter[str] = field(default_factory=Counter)


def _error(err: DomainError) -> tuple[int, dict[str, Any]]:
    return 409, {"error": err.code, "message": err.message, "details": err.details}


class Replayer:
    def __init__(self, svc: Stocksync, tenant_id: str, source: str) -> None:
        self.svc = svc
        self.tenant_id = tenant_id
        self.source = source
        self.holds: dict[str, str] = {}  # reservation name -> id
        self.report = ReplayReport()

    def _run(self, key: str, action: Action, render: Callable[[Any], Any] | None = None,
             ) -> Outcome:
        meta = RequestMeta(source=f"replay:{self.source}", actor="replay", idempotency_key=key,
                           fingerprint=hashlib.sha256(key.encode()).hexdigest())
        outcome = self.svc.execute(self.tenant_id, meta, action,
                                   lambda r: (201, render(r) if render else {}), _error)
        if outcome.status >= 400:
            self.report.refused.append(f"{key}: {json.loads(outcome.body)['message']}")
        elif outcome.replayed:
            self.report.already_applied += 1
        else:
            self.report.applied += 1
        return outcome

    def apply(self, record: ef.Record) -> None:
        e = record.event
        key = e.idempotency_key or f"replay:{self.source}:{record.line}"
        self.report.by_type[e.type] += 1
        match e:
            case ef.LocationUpserted():
                loc = Location(e.code, e.name, LocationKind(e.kind))
                self._run(key, lambda uow, ctx: uow.catalog.put_location(loc, ctx.now))
            case ef.ItemUpserted():
                item = Item(e.sku, title=e.title, brand=e.brand)
                self._run(key, lambda uow, ctx: uow.catalog.put_item(item, ctx.now))
            case ef.StockReserved():
                req = h.NewReservation(e.sku, e.quantity, e.location, ReservationKind.CHECKOUT,
                                       timedelta(seconds=e.ttl_seconds) if e.ttl_seconds
                                       else None)
                ttl = req.ttl or self.svc.default_ttl(req.kind)
                out = self._run(key, lambda uow, ctx: h.reserve(uow, ctx, req, ttl),
                                lambda r: {"id": r.reservation.id})
                if out.status < 400:
                    self.holds[e.reservation] = json.loads(out.body)["id"]
            case ef.ReservationResolved():
                to = (ReservationStatus.COMMITTED if e.type == "stock.committed"
                      else ReservationStatus.RELEASED)
                rid = self.holds.get(e.reservation)
                if rid is None:
                    self.report.refused.append(f"{key}: unknown reservation {e.reservation}")
                    return
                self._run(key, lambda uow, ctx: h.resolve_reservation(uow, ctx, rid, to))
            case ef.PosTransactionEvent():
                body = e.payload.model_dump_json().encode()
                parsed = PosParser().parse({}, body, {"default_location": e.location})
                self._messages(key, parsed.messages)
            case ef.ShopifyOrderEvent():
                order = json.loads(e.payload.model_dump_json())
                self._messages(key, [m for m in order_sales(order, {})
                                     if isinstance(m, ChannelSale)], e.location)
            case _:
                self._run(key, lambda uow, ctx: h.record_movement(uow, ctx, _movement(e)))

    def _messages(self, key: str, messages: list[Any], location: str | None = None) -> None:
        for m in messages:
            if isinstance(m, ChannelSale):
                mv = h.Movement("sale", m.sku, m.location or location or "", m.quantity)
            elif isinstance(m, ChannelReturn):
                mv = h.Movement("adjust", m.sku, m.location or location or "", m.quantity,
                                reason="return")
            else:
                continue
            self._run(f"{key}:{m.key}", partial(_record, mv))


def _record(mv: h.Movement, uow: UnitOfWork, ctx: WriteContext) -> h.MovementResult:
    return h.record_movement(uow, ctx, mv)


def _movement(e: Any) -> h.Movement:
    kind = {"stock.received": "receive", "stock.adjusted": "adjust", "stock.counted": "count",
            "stock.sold": "sale", "stock.transferred": "transfer"}[e.type]
    return h.Movement(kind, e.sku, e.location, e.quantity,
                      to_location=getattr(e, "to_location", None),
                      reason=getattr(e, "reason", None), occurred_at=e.occurred_at)


def replay(svc: Stocksync, tenant_id: str, path: Path,
           progress: Callable[[int], None] | None = None) -> tuple[ReplayReport, list[str]]:
    """Validate the whole file first (nothing is applied if any record is bad), then apply."""
    records, problems = ef.read(path)
    if problems:
        return ReplayReport(), [str(p) for p in problems]
    replayer = Replayer(svc, tenant_id, path.stem)
    for record in records:
        replayer.apply(record)
        if progress:
            progress(1)
    return replayer.report, []

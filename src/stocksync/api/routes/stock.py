"""Movements and stock reads."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from stocksync.api.deps import Caller, IdemKey, Svc, Who, request_meta, respond, write
from stocksync.api.errors import render_domain_error
from stocksync.api.hot import AsyncSvc, AsyncWho, hot_path
from stocksync.api.routes.catalog import SkuPath
from stocksync.api.schemas import (
    MAX_INT64,
    LevelOut,
    Moment,
    MovementIn,
    StockListOut,
    StockOut,
)
from stocksync.app import handlers as h
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import WriteContext
from stocksync.app.service import Stocksync
from stocksync.core.errors import InvalidInput, UnknownSku
from stocksync.core.ledger import Level

router = APIRouter(prefix="/v1", tags=["stock"])
MAX_SKUS_PER_READ = 200
Position = Annotated[int, Query(ge=0, le=MAX_INT64)]
AsOfSequence = Annotated[int | None, Query(ge=0, le=MAX_INT64)]


@router.post("/movements", status_code=201)
async def record_movement(request: Request, body: MovementIn, svc: AsyncSvc, who: AsyncWho,
                          idempotency_key: IdemKey = None) -> Response:
    """Receive, adjust (signed), count (absolute), sale or transfer (both legs atomic).
    A sale takes the hot path (async, coalesced per level: app/hot.py); the others run the
    general path in a thread."""
    if body.type == "sale":
        meta = request_meta(request, who, idempotency_key, body)
        outcome = await hot_path(request).sell(who.tenant_id, meta, body.sku, body.location,
                                               body.quantity, _render_movement,
                                               render_domain_error)
        return respond(meta, outcome)
    return await anyio.to_thread.run_sync(_general_movement, request, body, svc, who,
                                          idempotency_key)


def _general_movement(request: Request, body: MovementIn, svc: Svc, who: Who,
                      idempotency_key: str | None) -> Response:
    movement = h.Movement(
        type=body.type, sku=body.sku, location=body.location, quantity=body.quantity,
        to_location=body.to_location, reason=body.reason, occurred_at=body.occurred_at,
        expected_version=body.expected_version,
    )

    def action(uow: UnitOfWork, ctx: WriteContext) -> h.MovementResult:
        return h.record_movement(uow, ctx, movement)

    return write(request, svc, who, idempotency_key, body, action, _render_movement)


def _render_movement(result: Any) -> tuple[int, Any]:
    assert isinstance(result, h.MovementResult)
    return 201, {
        "events": [{"event_id": a.event_id, "type": a.event.type.value, "sku": a.event.sku,
                    "location": a.event.location, "quantity": a.event.quantity}
                   for a in result.applied],
        "levels": [{"sku": a.event.sku, "location": a.event.location,
                    "on_hand": a.on_hand, "reserved": a.reserved,
                    "available": (a.on_hand or 0) - (a.reserved or 0),
                    "version": a.version} for a in result.applied],
    }


def _stock(sku: str, deleted: bool, levels: list[Level], seq: int, at: datetime) -> StockOut:
    return StockOut(
        sku=sku, deleted=deleted,
        on_hand=sum(lv.on_hand for lv in levels),
        reserved=sum(lv.reserved for lv in levels),
        available=sum(max(lv.available, 0) for lv in levels),
        locations=[LevelOut.of(lv) for lv in levels], as_of_sequence=seq, as_of=at,
    )


def _read(svc: Svc, who: Who, skus: list[str], as_of_sequence: int | None,
          as_of: datetime | None) -> StockListOut:
    if as_of is not None and as_of.tzinfo is None:
        raise InvalidInput("as_of needs a time zone, e.g. 2026-01-01T10:00:00Z", field="as_of")
    now = svc.clock()
    with svc.uow(who.tenant_id, write=False) as uow:
        head = uow.log_head()
        if as_of_sequence is not None and as_of_sequence > head:
            raise InvalidInput(f"as_of_sequence {as_of_sequence} is beyond the log head {head}",
                               field="as_of_sequence", head=head)
        found, unknown = [], []
        historical = as_of_sequence is not None or as_of is not None
        current = {} if historical else _group(uow.ledger.levels(skus, now))
        for sku in dict.fromkeys(skus):
            item = uow.catalog.item(sku)
            if item is None:
                unknown.append(sku)
                continue
            levels = (h.levels_as_of(uow, sku, sequence=as_of_sequence, until=as_of)
                      if historical else current.get(sku, []))
            found.append(_stock(sku, item.is_deleted, levels,
                                as_of_sequence if as_of_sequence is not None else head,
                                as_of or now))
    return StockListOut(items=found, unknown=unknown,
                        as_of_sequence=as_of_sequence if as_of_sequence is not None else head,
                        as_of=as_of or now)


def _group(levels: list[Level]) -> dict[str, list[Level]]:
    grouped: dict[str, list[Level]] = {}
    for level in levels:
        grouped.setdefault(level.sku, []).append(level)
    return grouped


async def _read_async(request: Request, svc: Stocksync, who: Caller, skus: list[str],
                      as_of_sequence: int | None, as_of: datetime | None) -> StockListOut:
    """Live reads on the hot path (no thread hop on PostgreSQL); history replays the log
    in a thread (the general path)."""
    if as_of_sequence is not None or as_of is not None:
        return await anyio.to_thread.run_sync(_read, svc, who, skus, as_of_sequence, as_of)
    now = svc.clock()
    snap = await hot_path(request).stock(who.tenant_id, skus, now)
    current = _group(snap.levels)
    found, unknown = [], []
    for sku in dict.fromkeys(skus):
        if sku not in snap.deleted:
            unknown.append(sku)
            continue
        found.append(_stock(sku, snap.deleted[sku], current.get(sku, []), snap.head, now))
    return StockListOut(items=found, unknown=unknown, as_of_sequence=snap.head, as_of=now)


@router.get("/stock", response_model=StockListOut)
async def read_stock_many(request: Request, svc: AsyncSvc, who: AsyncWho,
                    sku: Annotated[list[str], Query(min_length=1,
                                                    max_length=MAX_SKUS_PER_READ)],
                    as_of_sequence: AsOfSequence = None,
                    as_of: Moment | None = None) -> StockListOut:
    """Availability of several SKUs in one snapshot. `as_of_sequence` / `as_of` replay the
    ledger to that log position / time; otherwise the answer is live and reports the log
    position it is at least as fresh as."""
    return await _read_async(request, svc, who, sku, as_of_sequence, as_of)


@router.get("/stock/{sku:path}/history")
def stock_history(sku: SkuPath, svc: Svc, who: Who, location: str | None = None,
                  after: Position = 0,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> dict[str, Any]:
    """The SKU's movements in log order, each with who made it and the running balance
    (on hand and reserved after it) at its location."""
    with svc.uow(who.tenant_id, write=False) as uow:
        if uow.catalog.item(sku) is None:
            raise UnknownSku(f"no item with SKU {sku}", sku=sku)
        found = uow.log.page(after, limit, sku=sku, location=location)
    rows = [{"sequence": e.sequence, "type": e.type, "location": e.location,
             "quantity": e.quantity, "on_hand": e.on_hand_after, "reserved": e.reserved_after,
             "available": (e.on_hand_after - e.reserved_after)
             if e.on_hand_after is not None and e.reserved_after is not None else None,
             "source": e.source, "actor": e.actor, "origin": e.origin,
             "correlation_id": e.correlation_id, "recorded_at": e.recorded_at,
             "data": e.data} for e in found]
    return {"sku": sku, "movements": rows,
            "next_after": rows[-1]["sequence"] if rows else after}


@router.get("/stock/{sku:path}", response_model=StockOut)
async def read_stock(request: Request, sku: SkuPath, svc: AsyncSvc, who: AsyncWho,
                     as_of_sequence: AsOfSequence = None,
                     as_of: Moment | None = None) -> StockOut:
    result = await _read_async(request, svc, who, [sku], as_of_sequence, as_of)
    if not result.items:
        raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    return result.items[0]


# The general path's snapshot read, for callers in a worker thread (the dashboard's pages).
stock_snapshot = _read

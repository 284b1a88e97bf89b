"""Command handlers: each runs inside an open unit of work and returns what it did.

The core decides (pure), storage applies with its own guard. When the guard refuses what
the core allowed, a concurrent writer got there first: we re-read and report the fresh state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from stocksync.app.ports import UnitOfWork
from stocksync.app.records import Applied, ReservationRecord, StoredResponse, WriteContext
from stocksync.core import commands as c
from stocksync.core import ledger as core
from stocksync.core import reservations as holds
from stocksync.core.errors import (
    InsufficientStock,
    ItemDeleted,
    NotFound,
    StaleUpdate,
    UnknownLocation,
    UnknownSku,
)
from stocksync.core.events import Event
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus


@dataclass(frozen=True, slots=True)
class Movement:
    type: str  # receive | adjust | count | sale | transfer
    sku: str
    location: str
    quantity: int
    to_location: str | None = None
    reason: str | None = None
    occurred_at: datetime | None = None
    expected_version: int | None = None


@dataclass(frozen=True, slots=True)
class MovementResult:
    applied: list[Applied]


class StaleWithConflict(StaleUpdate):
    """A stale count: the service records `conflict` in its own transaction, then raises."""

    def __init__(self, error: StaleUpdate, conflict: Event) -> None:
        super().__init__(error.message, **error.details)
        self.conflict = conflict


def require_item(uow: UnitOfWork, sku: str, *, for_sale: bool = False) -> None:
    deleted = uow.catalog.item_deleted(sku)
    if deleted is None:
        raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    if for_sale and deleted:
        raise ItemDeleted(f"item {sku} is deleted; restore it before selling it", sku=sku)


def require_location(uow: UnitOfWork, code: str, field: str = "location") -> None:
    if not uow.catalog.location_exists(code):
        raise UnknownLocation(f"no location with code {code}", location=code, field=field)


def _refused(uow: UnitOfWork, sku: str, location: str, quantity: int,
             now: datetime) -> InsufficientStock:
    fresh = uow.ledger.level(sku, location, now)
    return InsufficientStock(sku, location, quantity, fresh.available)


def record_movement(uow: UnitOfWork, ctx: WriteContext, m: Movement) -> MovementResult:
    require_item(uow, m.sku, for_sale=m.type == "sale")
    require_location(uow, m.location)
    if m.type == "transfer":
        return _transfer(uow, ctx, m)
    level = uow.ledger.level(m.sku, m.location, ctx.now)
    cmd: c.LevelCommand
    match m.type:
        case "receive":
            cmd = c.Receive(m.quantity)
        case "adjust":
            cmd = c.Adjust(m.quantity, m.reason)
        case "count":
            cmd = c.Count(m.quantity, m.occurred_at or ctx.now, m.expected_version)
        case "sale":
            cmd = c.Sell(m.quantity)
        case _:
            raise ValueError(m.type)
    try:
        events = core.decide(level, cmd)
    except StaleUpdate as exc:
        raise StaleWithConflict(exc, core.conflict(level, exc, "stock.counted")) from exc
    if m.type in ("receive", "adjust", "count"):
        uow.ledger.ensure_level(m.sku, m.location, ctx.now)
    expected = m.expected_version if m.type == "count" else None
    applied = uow.ledger.append(events[0], ctx, expected_version=expected)
    if applied is None:
        if m.type == "count":  # a newer count or version won the race since we read
            fresh = uow.ledger.level(m.sku, m.location, ctx.now)
            try:
                core.decide(fresh, cmd)
            except StaleUpdate as exc:
                raise StaleWithConflict(exc, core.conflict(fresh, exc, "stock.counted")) from exc
        raise _refused(uow, m.sku, m.location, abs(m.quantity), ctx.now)
    return MovementResult([applied])


def _transfer(uow: UnitOfWork, ctx: WriteContext, m: Movement) -> MovementResult:
    if not m.to_location:
        raise NotFound("a transfer needs to_location", field="to_location")
    require_location(uow, m.to_location, "to_location")
    source = uow.ledger.level(m.sku, m.location, ctx.now)
    target = uow.ledger.level(m.sku, m.to_location, ctx.now)
    out_leg, in_leg = core.transfer(source, target, c.Transfer(m.quantity))
    uow.ledger.ensure_level(m.sku, m.to_location, ctx.now)
    # Change the two levels in location order so two opposite transfers cannot deadlock.
    legs = sorted([out_leg, in_leg], key=lambda e: e.location or "")
    applied: list[Applied] = []
    for leg in legs:
        done = uow.ledger.append(leg, ctx)
        if done is None:
            raise _refused(uow, m.sku, m.location, m.quantity, ctx.now)
        applied.append(done)
    return MovementResult(applied)


@dataclass(frozen=True, slots=True)
class NewReservation:
    sku: str
    quantity: int
    location: str | None = None
    kind: ReservationKind = ReservationKind.CART
    ttl: timedelta | None = None
    reference: str | None = None


def reserve(uow: UnitOfWork, ctx: WriteContext, req: NewReservation,
            default_ttl: timedelta) -> ReservationRecord:
    """Hold stock. With a location, the conditional UPDATE is deferred to just before COMMIT
    (after the Idempotency-Key answer is stored), so the hot row is locked for that one
    statement and the commit only. Without one, locations are tried most-available first."""
    require_item(uow, req.sku, for_sale=True)
    ttl = req.ttl or default_ttl
    reservation_id = str(uuid.uuid4())
    if req.location is not None:
        require_location(uow, req.location)
        level = uow.ledger.level(req.sku, req.location, ctx.now)
        record, event = _hold(uow, ctx, req, level, reservation_id, ttl)

        def take() -> None:
            if uow.ledger.append(event, ctx) is None:
                raise _refused(uow, req.sku, level.location, req.quantity, ctx.now)

        uow.defer(take)
        return record
    candidates = holds.pick_locations(
        req.sku, uow.ledger.levels([req.sku], ctx.now), req.quantity)
    last_refusal: InsufficientStock | None = None
    for level in candidates:
        record, event = _hold(uow, ctx, req, level, reservation_id, ttl)
        if uow.ledger.append(event, ctx) is not None:
            return record
        # Lost a race for this location: undo the row and try the next one.
        uow.reservations.delete(reservation_id)
        last_refusal = _refused(uow, req.sku, level.location, req.quantity, ctx.now)
    assert last_refusal is not None
    raise last_refusal


def reserve_in_one_statement(
        uow: UnitOfWork, ctx: WriteContext, req: NewReservation, ttl: timedelta,
        answer: Callable[[ReservationRecord], tuple[int, str]],
        fingerprint: str) -> tuple[ReservationRecord, int, str]:
    """The hot path for a reservation at a named location, where the store offers it
    (`UnitOfWorkFactory.reserves_in_one_statement`): ONE round trip when it succeeds (see
    Ledger.reserve_in_one_statement, whose guard also requires a live item); the reads
    that explain a refusal run only after one. `uow` commits each statement by itself."""
    assert req.location is not None
    reservation_id = str(uuid.uuid4())
    event = holds.hold(req.sku, req.location, c.Reserve(reservation_id, req.quantity, ttl),
                       ctx.now)
    res = Reservation(reservation_id, req.sku, req.location, req.quantity,
                      ReservationStatus.ACTIVE, ctx.now + ttl)
    record = ReservationRecord(ctx.tenant_id, res, req.kind, req.reference, ctx.now, None)
    status, body = answer(record)
    kept = None if ctx.idempotency_key is None else StoredResponse(fingerprint, status, body)
    if uow.ledger.reserve_in_one_statement(event, ctx, record, kept) is None:
        require_item(uow, req.sku, for_sale=True)
        require_location(uow, req.location)
        raise _refused(uow, req.sku, req.location, req.quantity, ctx.now)
    return record, status, body


def _hold(uow: UnitOfWork, ctx: WriteContext, req: NewReservation, level: Level,
          reservation_id: str, ttl: timedelta) -> tuple[ReservationRecord, Event]:
    events = holds.reserve(level, c.Reserve(reservation_id, req.quantity, ttl), ctx.now)
    res = Reservation(reservation_id, req.sku, level.location, req.quantity,
                      ReservationStatus.ACTIVE, ctx.now + ttl)
    uow.reservations.add(res, req.kind, req.reference, ctx.now)
    return ReservationRecord(ctx.tenant_id, res, req.kind, req.reference, ctx.now, None), \
        events[0]


def resolve_reservation(uow: UnitOfWork, ctx: WriteContext, reservation_id: str,
                        to: ReservationStatus) -> tuple[ReservationRecord, Applied | None]:
    """Commit, release or expire a hold. Repeating a transition that already happened
    returns the reservation unchanged (no second effect)."""
    record = uow.reservations.get(reservation_id)
    if record is None:
        raise NotFound(f"no reservation {reservation_id}", reservation_id=reservation_id)
    res = record.reservation
    if res.status is to:
        return record, None
    decide = {ReservationStatus.COMMITTED: holds.commit, ReservationStatus.RELEASED:
              holds.release, ReservationStatus.EXPIRED: holds.expire}[to]
    events = decide(res, ctx.now)
    if not uow.reservations.transition(reservation_id, to, ctx.now):
        fresh = uow.reservations.get(reservation_id)
        assert fresh is not None
        decide(fresh.reservation, ctx.now)  # raises ReservationNotActive
        raise AssertionError("transition lost without a reason")  # pragma: no cover
    applied = uow.ledger.append(events[0], ctx)
    if applied is None:  # pragma: no cover - reserved always covers an active hold
        raise AssertionError(f"reserved went negative for {res.sku}@{res.location}")
    updated = uow.reservations.get(reservation_id)
    assert updated is not None
    return updated, applied


def levels_as_of(uow: UnitOfWork, sku: str, *, sequence: int | None,
                 until: datetime | None) -> list[Level]:
    """Historical levels by replaying the SKU's events up to a position or a time."""
    levels: dict[str, Level] = {}
    for logged in uow.log.for_sku(sku, up_to_sequence=sequence, recorded_until=until):
        if logged.location is None:
            continue
        event = logged.as_core()
        current = levels.get(logged.location, Level(sku, logged.location))
        levels[logged.location] = core.apply(current, event)
    return [levels[k] for k in sorted(levels)]


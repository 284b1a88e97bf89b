"""Reservations: holds on stock with a time to live, and their transitions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from stocksync.core import commands as c
from stocksync.core.errors import InvalidInput, ReservationNotActive
from stocksync.core.events import Event, EventType
from stocksync.core.ledger import Level, _check_quantity, _take

CART_TTL = timedelta(minutes=5)
CHECKOUT_TTL = timedelta(minutes=30)
MAX_TTL = timedelta(days=30)


class ReservationKind(StrEnum):
    CART = "cart"
    CHECKOUT = "checkout"


class ReservationStatus(StrEnum):
    ACTIVE = "active"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    sku: str
    location: str
    quantity: int
    status: ReservationStatus
    expires_at: datetime

    def is_live(self, now: datetime) -> bool:
        return self.status is ReservationStatus.ACTIVE and now < self.expires_at


def default_ttl(kind: ReservationKind) -> timedelta:
    return CART_TTL if kind is ReservationKind.CART else CHECKOUT_TTL


def check_ttl(ttl: timedelta) -> None:
    if not timedelta(0) < ttl <= MAX_TTL:
        raise InvalidInput("ttl_seconds must be between 1 and 2592000", field="ttl_seconds")


def hold(sku: str, location: str, cmd: c.Reserve, now: datetime) -> Event:
    """The reservation event, with its inputs checked but not availability: the caller
    guarantees that (`reserve` below on a level, or storage's conditional UPDATE, whose
    guard comes from the same `effect_of`)."""
    _check_quantity(cmd.quantity)
    check_ttl(cmd.ttl)
    expires_at = now + cmd.ttl
    return Event(EventType.RESERVED, sku, location, cmd.quantity,
                 {"reservation_id": cmd.reservation_id, "expires_at": expires_at.isoformat()})


def reserve(level: Level, cmd: c.Reserve, now: datetime) -> list[Event]:
    event = hold(level.sku, level.location, cmd, now)
    _take(level, cmd.quantity)
    return [event]


def _not_active(res: Reservation, wanted: str, now: datetime) -> ReservationNotActive:
    status = res.status
    if status is ReservationStatus.ACTIVE and now >= res.expires_at:
        status = ReservationStatus.EXPIRED
    return ReservationNotActive(
        f"reservation {res.id} is {status.value} and cannot be {wanted}",
        reservation_id=res.id, status=status.value,
    )


def commit(res: Reservation, now: datetime) -> list[Event]:
    """The held stock leaves: a shipped or paid sale."""
    if not res.is_live(now):
        raise _not_active(res, "committed", now)
    return [Event(EventType.COMMITTED, res.sku, res.location, res.quantity,
                  {"reservation_id": res.id})]


def release(res: Reservation, now: datetime) -> list[Event]:
    if not res.is_live(now):
        raise _not_active(res, "released", now)
    return [Event(EventType.RELEASED, res.sku, res.location, res.quantity,
                  {"reservation_id": res.id})]


def expire(res: Reservation, now: datetime) -> list[Event]:
    if res.status is not ReservationStatus.ACTIVE or now < res.expires_at:
        raise _not_active(res, "expired", now)
    return [Event(EventType.EXPIRED, res.sku, res.location, res.quantity,
                  {"reservation_id": res.id})]


def status_after(event_type: EventType) -> ReservationStatus:
    return {
        EventType.COMMITTED: ReservationStatus.COMMITTED,
        EventType.RELEASED: ReservationStatus.RELEASED,
        EventType.EXPIRED: ReservationStatus.EXPIRED,
    }[event_type]


def pick_locations(sku: str, levels: list[Level], quantity: int) -> list[Level]:
    """Locations to try for a reservation without one: most available first, ties by code.
    Raises InsufficientStock with the best single-location figure when none can hold it."""
    ranked = sorted(levels, key=lambda lv: (-lv.available, lv.location))
    candidates = [lv for lv in ranked if lv.available >= quantity]
    if not candidates:
        _take(ranked[0] if ranked else Level(sku, "", on_hand=0), quantity)
    return candidates

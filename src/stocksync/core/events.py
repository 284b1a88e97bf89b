"""Ledger event types and the effect each one has on a stock level."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class EventType(StrEnum):
    RECEIVED = "stock.received"
    ADJUSTED = "stock.adjusted"
    COUNTED = "stock.counted"
    SOLD = "stock.sold"
    RESERVED = "stock.reserved"
    RELEASED = "stock.released"
    EXPIRED = "stock.expired"
    COMMITTED = "stock.committed"
    TRANSFERRED = "stock.transferred"
    ITEM_DELETED = "item.deleted"
    ITEM_RESTORED = "item.restored"
    CONFLICT_DETECTED = "conflict.detected"


JsonScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Event:
    """One immutable ledger entry, before storage gives it a position.

    `quantity` is the amount the event moves, with the sign convention of its type:
    positive for sold/reserved/released/expired/committed/received, signed for
    adjusted and transferred (one event per leg), and the absolute count for counted.
    """

    type: EventType
    sku: str
    location: str | None
    quantity: int = 0
    data: dict[str, JsonScalar] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effect:
    """What an event does to its (sku, location) level.

    `takes_available` marks events that must never leave `available` below zero:
    storage enforces it again with a conditional UPDATE.
    """

    on_hand_delta: int = 0
    reserved_delta: int = 0
    on_hand_set: int | None = None
    takes_available: bool = False

    @property
    def changes_level(self) -> bool:
        return bool(self.on_hand_delta or self.reserved_delta) or self.on_hand_set is not None


NO_EFFECT = Effect()


def effect_of(event: Event) -> Effect:
    """The single definition of how each event type moves a level."""
    q = event.quantity
    match event.type:
        case EventType.RECEIVED:
            return Effect(on_hand_delta=q)
        case EventType.ADJUSTED | EventType.TRANSFERRED:
            return Effect(on_hand_delta=q, takes_available=q < 0)
        case EventType.COUNTED:
            return Effect(on_hand_set=q)
        case EventType.SOLD:
            return Effect(on_hand_delta=-q, takes_available=True)
        case EventType.RESERVED:
            return Effect(reserved_delta=q, takes_available=True)
        case EventType.RELEASED | EventType.EXPIRED:
            return Effect(reserved_delta=-q)
        case EventType.COMMITTED:
            return Effect(on_hand_delta=-q, reserved_delta=-q)
        case _:
            return NO_EFFECT

"""Stock levels and the pure decisions that turn commands into events.

Nothing here does I/O or reads a clock: `now` is always passed in. `apply` is the only way a
level changes, so replaying the ledger is a fold (`fold`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from stocksync.core import commands as c
from stocksync.core.errors import InsufficientStock, InvalidInput, StaleUpdate
from stocksync.core.events import Event, EventType, effect_of

MAX_QUANTITY = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Level:
    """Stock of one SKU at one location. `available` is derived, never stored."""

    sku: str
    location: str
    on_hand: int = 0
    reserved: int = 0
    pending: int = 0
    version: int = 0
    last_counted_at: datetime | None = None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.pending


def apply(level: Level, event: Event) -> Level:
    """Return the level after `event`; events that do not touch stock leave it unchanged."""
    effect = effect_of(event)
    if not effect.changes_level:
        return level
    on_hand = effect.on_hand_set if effect.on_hand_set is not None else level.on_hand
    counted_at = level.last_counted_at
    if event.type is EventType.COUNTED:
        raw = event.data.get("occurred_at")
        counted_at = datetime.fromisoformat(raw) if isinstance(raw, str) else counted_at
    return replace(
        level,
        on_hand=on_hand + effect.on_hand_delta,
        reserved=level.reserved + effect.reserved_delta,
        version=level.version + 1,
        last_counted_at=counted_at,
    )


def fold(level: Level, events: Iterable[Event]) -> Level:
    for event in events:
        level = apply(level, event)
    return level


def _check_quantity(quantity: int, *, allow_zero: bool = False, signed: bool = False) -> None:
    if signed:
        if quantity == 0 or abs(quantity) > MAX_QUANTITY:
            raise InvalidInput("quantity must be a non-zero integer", field="quantity")
        return
    low = 0 if allow_zero else 1
    if not low <= quantity <= MAX_QUANTITY:
        raise InvalidInput(
            f"quantity must be between {low} and {MAX_QUANTITY}", field="quantity"
        )


def _take(level: Level, quantity: int) -> None:
    if quantity > level.available:
        raise InsufficientStock(level.sku, level.location, quantity, level.available)


def receive(level: Level, cmd: c.Receive) -> list[Event]:
    _check_quantity(cmd.quantity)
    return [Event(EventType.RECEIVED, level.sku, level.location, cmd.quantity)]


def adjust(level: Level, cmd: c.Adjust) -> list[Event]:
    _check_quantity(cmd.delta, signed=True)
    if cmd.delta < 0:
        _take(level, -cmd.delta)
    data: dict[str, str | int | float | bool | None] = {"reason": cmd.reason} if cmd.reason else {}
    return [Event(EventType.ADJUSTED, level.sku, level.location, cmd.delta, data)]


def count(level: Level, cmd: c.Count) -> list[Event]:
    """An absolute stock-take. Older than the newest applied count, or against a version that
    moved on, it is refused: the caller records `conflict.detected` instead."""
    _check_quantity(cmd.quantity, allow_zero=True)
    if level.last_counted_at is not None and cmd.occurred_at <= level.last_counted_at:
        raise StaleUpdate(
            "count is older than the newest count already applied",
            sku=level.sku,
            location=level.location,
            occurred_at=cmd.occurred_at.isoformat(),
            newest_applied=level.last_counted_at.isoformat(),
        )
    if cmd.expected_version is not None and cmd.expected_version != level.version:
        raise StaleUpdate(
            "expected_version does not match the level's current version",
            sku=level.sku,
            location=level.location,
            expected_version=cmd.expected_version,
            version=level.version,
        )
    data: dict[str, str | int | float | bool | None] = {
        "occurred_at": cmd.occurred_at.isoformat(),
        "previous_on_hand": level.on_hand,
    }
    return [Event(EventType.COUNTED, level.sku, level.location, cmd.quantity, data)]


def conflict(level: Level, error: StaleUpdate, attempted: str) -> Event:
    data: dict[str, str | int | float | bool | None] = {"attempted": attempted,
                                                      "reason": error.message}
    for key, value in error.details.items():
        if key not in ("sku", "location") and isinstance(value, str | int):
            data[key] = value
    return Event(EventType.CONFLICT_DETECTED, level.sku, level.location, 0, data)


def sell(level: Level, cmd: c.Sell) -> list[Event]:
    _check_quantity(cmd.quantity)
    _take(level, cmd.quantity)
    return [Event(EventType.SOLD, level.sku, level.location, cmd.quantity)]


def transfer(source: Level, target: Level, cmd: c.Transfer) -> list[Event]:
    _check_quantity(cmd.quantity)
    if source.location == target.location:
        raise InvalidInput("a transfer needs two different locations", field="to_location")
    _take(source, cmd.quantity)
    return [
        Event(EventType.TRANSFERRED, source.sku, source.location, -cmd.quantity,
              {"counterpart": target.location}),
        Event(EventType.TRANSFERRED, target.sku, target.location, cmd.quantity,
              {"counterpart": source.location}),
    ]


def decide(level: Level, cmd: c.LevelCommand) -> list[Event]:
    """Events for a command that touches one level (reservations live in reservations.py)."""
    match cmd:
        case c.Receive():
            return receive(level, cmd)
        case c.Adjust():
            return adjust(level, cmd)
        case c.Count():
            return count(level, cmd)
        case c.Sell():
            return sell(level, cmd)
    raise TypeError(f"not a single-level command: {cmd!r}")

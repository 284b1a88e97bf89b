"""Square's inventory arithmetic for the simulator (square.md §2-§3).

Quantities are decimal strings per (catalog object, location, state). Changes carry a
client-supplied `occurred_at` and are applied in that order, whatever order they arrive in:
a physical count resets its state's quantity as of its `occurred_at`, and only adjustments
that occurred later apply on top of it. So each state keeps its latest physical count (the
anchor) plus the adjustments after it; anything older than the anchor is history only.
"""

from __future__ import annotations

import base64
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

INVENTORY_STATES = frozenset({
    "CUSTOM", "IN_STOCK", "SOLD", "RETURNED_BY_CUSTOMER", "RESERVED_FOR_SALE", "SOLD_ONLINE",
    "ORDERED_FROM_VENDOR", "RECEIVED_FROM_VENDOR", "IN_TRANSIT_TO", "NONE", "WASTE",
    "UNLINKED_RETURN", "COMPOSED", "DECOMPOSED", "SUPPORTED_BY_NEWER_VERSION", "IN_TRANSIT"})
# Untracked states have no count: moving stock into SOLD only lowers the source state.
UNTRACKED_STATES = frozenset({"NONE", "SOLD", "UNLINKED_RETURN"})
TRACKED_STATES = INVENTORY_STATES - UNTRACKED_STATES
MAX_FRACTION_DIGITS = 5  # "up to 5 fractional digits" (square.md §2)
_FRACTION = re.compile(r"(\.\d{6})\d+")  # RFC 3339 may carry nanoseconds; Python takes 6


def parse_quantity(value: object) -> Decimal | None:
    """A decimal string with at most 5 fractional digits, else None."""
    if not isinstance(value, str):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -MAX_FRACTION_DIGITS:
        return None
    return number


def format_quantity(quantity: Decimal) -> str:
    """Square's spelling: "10", "2.5" (no exponent, no trailing zeros)."""
    text = f"{quantity.normalize():f}"
    return "0" if text in ("-0", "0") else text


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 timestamp with a zone (nanoseconds are truncated), else None."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.strip()))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class StateCount:
    """One (catalog object, location, state) count."""

    anchor: Decimal = Decimal(0)  # quantity of the latest physical count (0 before any)
    anchor_at: datetime | None = None  # its occurred_at
    adjustments: list[tuple[datetime, Decimal]] = field(default_factory=list)  # after anchor
    calculated_at: datetime = field(default_factory=utc_now)

    @property
    def quantity(self) -> Decimal:
        return self.anchor + sum((delta for _, delta in self.adjustments), Decimal(0))

    def count(self, quantity: Decimal, occurred_at: datetime, ignore_unchanged: bool) -> bool:
        """Apply a physical count; True when the quantity changed (False also when it was
        superseded by a later count or ignored as unchanged)."""
        if self.anchor_at is not None and occurred_at < self.anchor_at:
            return False  # a later physical count already reset this state
        # ignore_unchanged_counts (default true): "ignored if the quantity is unchanged since
        # the last physical count" - compared with that count, not with the current quantity
        # (square.md §3), so sales since then are NOT overwritten by an equal count.
        if ignore_unchanged and self.anchor_at is not None and quantity == self.anchor:
            return False
        before = self.quantity
        self.anchor, self.anchor_at = quantity, occurred_at
        self.adjustments = [(at, delta) for at, delta in self.adjustments if at > occurred_at]
        self.calculated_at = utc_now()
        return self.quantity != before

    def adjust(self, delta: Decimal, occurred_at: datetime) -> bool:
        if self.anchor_at is not None and occurred_at <= self.anchor_at:
            return False  # a physical count that occurred later already includes it
        self.adjustments.append((occurred_at, delta))
        self.calculated_at = utc_now()
        return bool(delta)


CountKey = tuple[str, str, str]  # (catalog object id, location id, state)


class InventoryBook:
    """Every tracked count of the simulated seller, by (object, location) then state, and
    every change as Square keeps it for BatchRetrieveInventoryChanges (history includes
    changes that a later physical count superseded)."""

    def __init__(self) -> None:
        self.places: dict[tuple[str, str], dict[str, StateCount]] = {}
        self.changes: list[dict[str, object]] = []  # InventoryChange wire objects

    def quantity(self, object_id: str, location_id: str, state: str = "IN_STOCK") -> Decimal:
        count = self.places.get((object_id, location_id), {}).get(state)
        return count.quantity if count is not None else Decimal(0)

    def _count(self, key: CountKey) -> StateCount:
        return self.places.setdefault((key[0], key[1]), {}).setdefault(key[2], StateCount())

    def physical_count(self, object_id: str, location_id: str, state: str, quantity: Decimal,
                       occurred_at: datetime, ignore_unchanged: bool = False, **extra: str
                       ) -> bool:
        """True when the state's quantity changed."""
        count = self._count((object_id, location_id, state))
        skipped = (ignore_unchanged and count.anchor_at is not None
                   and quantity == count.anchor)
        changed = count.count(quantity, occurred_at, ignore_unchanged)
        if not skipped:  # an ignored unchanged count leaves no trace
            self._log("PHYSICAL_COUNT", "physical_count", object_id, location_id, quantity,
                      occurred_at, {"state": state, **extra})
        return changed

    def adjustment(self, object_id: str, location_id: str, from_state: str, to_state: str,
                   quantity: Decimal, occurred_at: datetime, **extra: str) -> list[CountKey]:
        """Move `quantity` between states; returns the tracked counts that changed.
        `extra`: transaction_id / refund_id / reference_id, as Square records them."""
        self._log("ADJUSTMENT", "adjustment", object_id, location_id, quantity, occurred_at,
                  {"from_state": from_state, "to_state": to_state, **extra})
        changed: list[CountKey] = []
        for state, delta in ((from_state, -quantity), (to_state, quantity)):
            if state in UNTRACKED_STATES:
                continue
            key = (object_id, location_id, state)
            if self._count(key).adjust(delta, occurred_at):
                changed.append(key)
        return changed

    def _log(self, kind: str, member: str, object_id: str, location_id: str,
             quantity: Decimal, occurred_at: datetime, fields: dict[str, str]) -> None:
        self.changes.append({"type": kind, member: {
            "id": base64.b32encode(uuid.uuid4().bytes).decode()[:24], **fields,
            "location_id": location_id, "catalog_object_id": object_id,
            "catalog_object_type": "ITEM_VARIATION",
            "quantity": format_quantity(quantity), "occurred_at": format_time(occurred_at),
            "created_at": format_time(utc_now())}})

    def counts_of(self, object_id: str, location_id: str) -> list[CountKey]:
        return [(object_id, location_id, state)
                for state in self.places.get((object_id, location_id), {})]

    def all_counts(self) -> list[CountKey]:
        return [(obj, loc, state) for (obj, loc), states in self.places.items()
                for state in states]

    def calculated_at(self, key: CountKey) -> datetime:
        return self.places[(key[0], key[1])][key[2]].calculated_at

    def wire(self, key: CountKey) -> dict[str, object]:
        """The InventoryCount read model (square.md §2)."""
        object_id, location_id, state = key
        count = self.places[(object_id, location_id)][state]
        return {"catalog_object_id": object_id, "catalog_object_type": "ITEM_VARIATION",
                "state": state, "location_id": location_id,
                "quantity": format_quantity(count.quantity),
                "calculated_at": format_time(count.calculated_at), "is_estimated": False}

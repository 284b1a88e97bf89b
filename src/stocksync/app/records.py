"""Values the application works with, whatever stores them.

They sit on the application side of the port: storage/ builds and returns them, app/ reads
them, and neither a handler nor a route needs to know which adapter made one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stocksync.core.events import Event, EventType
from stocksync.core.reservations import Reservation, ReservationKind


class KeyTaken(Exception):
    """The Idempotency-Key was stored by another request first."""


@dataclass(frozen=True, slots=True)
class WriteContext:
    """Who and what a write comes from; copied onto every event it produces."""

    tenant_id: str
    now: datetime
    source: str = "api"
    actor: str | None = None
    idempotency_key: str | None = None
    correlation_id: str | None = None
    occurred_at: datetime | None = None
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    """An event the ledger accepted, with the level's counts right after it."""

    event_id: str
    event: Event
    on_hand: int | None
    reserved: int | None
    version: int | None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What an Idempotency-Key holds: the request's fingerprint and, once the request
    finished, its answer (None while the claiming transaction is still open)."""

    fingerprint: str
    status_code: int | None
    body: str | None


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    tenant_id: str
    reservation: Reservation
    kind: ReservationKind
    reference: str | None
    created_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class Wanted:
    """The value the projector wants a channel to show for a SKU, and from which position."""

    sku: str
    value: int
    sequence: int
    since: datetime
    correlation_id: str | None = None


UNCONFIRMED_KEPT = 8  # failed pushes in a row whose values stay ours


@dataclass(frozen=True, slots=True)
class SkuTarget:
    sku: str
    wanted: int | None  # None: known to the channel (mapping) but never projected yet
    pushed: int | None
    pending_since: datetime | None
    external_ids: dict[str, str]
    sending: int | None = None
    unconfirmed: tuple[int, ...] = ()  # sent by failed pushes since the last ack
    observed_at: datetime | None = None
    correlation_id: str | None = None
    revisions: int = 0
    revisions_day: datetime | None = None
    last_revision_at: datetime | None = None
    channel_moves: int = 0  # the channel's own sales/restocks counted since the last ack
    unexplained: int = 0  # accepted level changes no order has explained yet
    channel_changed_at: datetime | None = None  # newest own change of the channel counted
    level_at: datetime | None = None  # when `pushed` was last read from the channel

    @property
    def last_set(self) -> int | None:
        """The value stocksync last set (or saw) before the channel's own moves."""
        return None if self.pushed is None else self.pushed - self.channel_moves

    def ours(self) -> frozenset[int]:
        """The values the channel can show because of stocksync's own sets: the wanted and
        in-flight ones and those of failed pushes since the last acknowledgement (a set that
        may have landed by now), and `set_by_us()`."""
        in_flight = {v for v in (self.wanted, self.sending) if v is not None}
        return self.set_by_us() | in_flight | set(self.unconfirmed)

    def sent_unconfirmed(self, value: int) -> tuple[int, ...]:
        """`unconfirmed` once `value` is marked as sending: the value sent before is kept
        when no acknowledgement cleared it (its push failed, perhaps after it landed)."""
        kept = [v for v in self.unconfirmed if v != value]
        if self.sending is not None and self.sending != value and self.sending not in kept:
            kept.append(self.sending)
        return tuple(kept[-UNCONFIRMED_KEPT:])

    def set_by_us(self) -> frozenset[int]:
        """The values the channel can show because of sets of ours that landed: the
        expected one, and every value between our last set and the expected one. The
        channel's own sales counted since that set may each have come before it landed
        (erased, until the set is made again) or after it, so any mix can show."""
        if self.pushed is None:
            return frozenset()
        values = {self.pushed}
        if self.channel_moves:
            low, high = sorted((self.pushed, self.pushed - self.channel_moves))
            values.update(range(low, high + 1))
        return frozenset(values)

    def in_sync(self, wanted: int | None, reassert: bool) -> bool:
        """Nothing to push: the channel shows `wanted`. With `reassert` (platforms without
        compare-and-set), a channel that sold since our last set is pushed again anyway,
        because our absolute set may have landed after that sale and erased it."""
        return self.pushed == wanted and not (reassert and self.channel_moves)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A webhook delivery kept in the inbox before the ack."""

    id: int
    tenant_id: str
    channel: str
    kind: str
    delivery_id: str
    topic: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime
    status: str
    attempts: int
    last_error: str | None
    processed_at: datetime | None
    correlation_id: str | None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: str | None = None
    claimed_until: datetime | None = None  # the claim's end, and its token (renew, release)


@dataclass(frozen=True, slots=True)
class LoggedEvent:
    """An event as the log keeps it: its position (None until sequenced) and provenance."""

    sequence: int | None
    event_id: str
    type: str
    sku: str | None
    location: str | None
    quantity: int
    on_hand_after: int | None
    reserved_after: int | None
    version: int | None
    data: dict[str, object]
    source: str
    actor: str | None
    idempotency_key: str | None
    correlation_id: str | None
    origin: str | None
    occurred_at: datetime
    recorded_at: datetime

    def as_core(self) -> Event:
        data = {k: v for k, v in self.data.items() if isinstance(v, str | int | float | bool)}
        return Event(EventType(self.type), self.sku or "", self.location, self.quantity, data)

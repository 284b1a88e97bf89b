"""MemoryLedger: stock levels and the outbox, with the SQL ledger's guards.

Every guard of storage/ledger.py's conditional UPDATE is re-checked here against the
level as this transaction sees it: available never below zero for events that take it,
reserved never below zero, a count never older than the newest applied, a version check
when one is asked for, and (for the one-step hold) a live item."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from stocksync.app.records import (
    Applied,
    KeyTaken,
    LoggedEvent,
    ReservationRecord,
    StoredResponse,
    WriteContext,
)
from stocksync.core.events import Event, effect_of
from stocksync.core.ledger import Level
from stocksync.core.reservations import ReservationStatus
from stocksync.storage.memory.store import Bound, Tx


@dataclass(frozen=True, slots=True)
class Staged:
    """An outbox row: a committed event waiting for its log position."""

    tenant_id: str
    event: LoggedEvent


@dataclass(frozen=True, slots=True)
class KeptAnswer:
    """An Idempotency-Key row."""

    answer: StoredResponse
    created_at: datetime


class MemoryLedger(Bound):
    def __init__(self, tx: Tx, tenant_id: str) -> None:
        super().__init__(tx, tenant_id)
        self.appended = 0  # events staged by this unit of work (wakes the sequencer)

    # ---- reads -------------------------------------------------------------------------

    def _mine(self, skus: Iterable[str] | None, location: str | None = None) -> list[Level]:
        wanted = None if skus is None else set(skus)
        found = [lv for (t, sku, loc), lv in self.tx.read("levels").items()
                 if t == self.tenant_id and (wanted is None or sku in wanted)
                 and (location is None or loc == location)]
        return sorted(found, key=lambda lv: (lv.sku, lv.location))

    def stored_levels(self, skus: Iterable[str] | None = None) -> list[Level]:
        return self._mine(skus)

    def levels(self, skus: Iterable[str], now: datetime,
               location: str | None = None) -> list[Level]:
        """Holds past their expiry no longer count as reserved, before the expirer ran."""
        due: dict[tuple[str, str], int] = {}
        for (t, _), record in self.tx.read("reservations").items():
            res = record.reservation
            if t == self.tenant_id and res.status is ReservationStatus.ACTIVE \
                    and res.expires_at <= now:
                key = (res.sku, res.location)
                due[key] = due.get(key, 0) + res.quantity
        return [replace(lv, reserved=lv.reserved - due.get((lv.sku, lv.location), 0))
                for lv in self._mine(list(skus), location)]

    def level(self, sku: str, location: str, now: datetime) -> Level:
        found = self.levels([sku], now, location=location)
        return found[0] if found else Level(sku, location)

    # ---- writes ------------------------------------------------------------------------

    def ensure_level(self, sku: str, location: str, now: datetime) -> None:
        key = (self.tenant_id, sku, location)
        if key not in self.tx.read("levels"):
            self.tx.write("levels")[key] = Level(sku, location)

    def append(self, event: Event, ctx: WriteContext, *,
               expected_version: int | None = None) -> Applied | None:
        """Apply `event` to its level and stage it; None (nothing written) when refused."""
        event_id = str(uuid.uuid4())
        self.appended += 1
        if not effect_of(event).changes_level:
            self._stage(_logged(event, event_id, ctx, None))
            return Applied(event_id, event, None, None, None)
        after = self._guarded(event, expected_version)
        if after is None:
            return None
        self._stage(_logged(event, event_id, ctx, after))
        return Applied(event_id, event, after.on_hand, after.reserved, after.version)

    def reserve_in_one_statement(self, event: Event, ctx: WriteContext,
                                 record: ReservationRecord,
                                 answer: StoredResponse | None) -> Applied | None:
        """Take the stock, keep the hold and the key's answer as one committed step: the
        whole step runs in its own write transaction, whatever this unit of work is."""
        store = self.tx.store
        with store.writing() as tx:
            step = MemoryLedger(tx, self.tenant_id)
            assert event.sku is not None
            item = tx.read("items").get((self.tenant_id, event.sku))
            if item is None or item.deleted_at is not None:
                return None
            applied = step.append(event, ctx)
            if applied is None:
                return None
            res = record.reservation
            tx.write("reservations")[(self.tenant_id, res.id)] = replace(
                record, tenant_id=self.tenant_id)
            key = ctx.idempotency_key
            if answer is not None and key is not None:
                if (self.tenant_id, key) in tx.read("idempotency"):
                    raise KeyTaken(key)  # leaving `writing` by an error keeps nothing
                tx.write("idempotency")[(self.tenant_id, key)] = KeptAnswer(answer, ctx.now)
        self.appended += 1
        # This unit of work reads what it began from: show it the step just committed.
        self.tx.base = store.tables
        return applied

    def _guarded(self, event: Event, expected_version: int | None) -> Level | None:
        assert event.sku is not None and event.location is not None
        key = (self.tenant_id, event.sku, event.location)
        level: Level | None = self.tx.read("levels").get(key)
        if level is None:
            return None  # no row: SQL's UPDATE matches nothing either
        effect = effect_of(event)
        on_hand = level.on_hand + effect.on_hand_delta
        counted_at = level.last_counted_at
        if effect.on_hand_set is not None:
            counted_at = datetime.fromisoformat(str(event.data["occurred_at"]))
            if level.last_counted_at is not None and level.last_counted_at >= counted_at:
                return None  # a newer count was applied already
            on_hand = effect.on_hand_set
        reserved = level.reserved + effect.reserved_delta
        if effect.takes_available and level.on_hand + effect.on_hand_delta - reserved \
                - level.pending < 0:
            return None
        if effect.reserved_delta < 0 and reserved < 0:
            return None
        if expected_version is not None and level.version != expected_version:
            return None
        after = replace(level, on_hand=on_hand, reserved=reserved, version=level.version + 1,
                        last_counted_at=counted_at)
        self.tx.write("levels")[key] = after
        return after

    def _stage(self, logged: LoggedEvent) -> None:
        self.tx.write("outbox")[self.tx.store.next_id()] = Staged(self.tenant_id, logged)


def _logged(event: Event, event_id: str, ctx: WriteContext,
            after: Level | None) -> LoggedEvent:
    return LoggedEvent(
        sequence=None, event_id=event_id, type=event.type.value, sku=event.sku,
        location=event.location, quantity=event.quantity,
        on_hand_after=None if after is None else after.on_hand,
        reserved_after=None if after is None else after.reserved,
        version=None if after is None else after.version, data=dict(event.data),
        source=ctx.source, actor=ctx.actor, idempotency_key=ctx.idempotency_key,
        correlation_id=ctx.correlation_id, origin=ctx.origin,
        occurred_at=ctx.occurred_at or ctx.now, recorded_at=ctx.now)

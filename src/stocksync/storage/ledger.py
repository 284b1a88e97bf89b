"""SqlLedger: stock levels and the outbox, changed only by single conditional statements.

No `SELECT … FOR UPDATE`: each event is applied by one UPDATE whose WHERE clause re-checks
the rule the core already checked (available never below zero, counts never stale), so two
concurrent buyers of the last unit cannot both succeed, and a buyer never waits for a lock it
does not need. On PostgreSQL the UPDATE and the outbox INSERT are one statement (a data-
modifying CTE), so the hot row is locked for one statement plus COMMIT.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stocksync.core.events import Event, effect_of
from stocksync.core.ledger import Level
from stocksync.core.reservations import ReservationStatus
from stocksync.storage.tables import outbox, reservations, stock_levels


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


@dataclass(frozen=True, slots=True)
class Applied:
    event_id: str
    event: Event
    on_hand: int | None
    reserved: int | None
    version: int | None


class SqlLedger:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.is_postgres = conn.dialect.name == "postgresql"

    # ---- reads -------------------------------------------------------------------------

    def _key(self, sku: str, location: str) -> ColumnElement[bool]:
        return and_(stock_levels.c.tenant_id == self.tenant_id, stock_levels.c.sku == sku,
                    stock_levels.c.location == location)

    def stored_levels(self, skus: Iterable[str] | None = None) -> list[Level]:
        """Levels exactly as stored (what `verify` compares with the replay)."""
        query = select(stock_levels).where(stock_levels.c.tenant_id == self.tenant_id)
        if skus is not None:
            query = query.where(stock_levels.c.sku.in_(list(skus)))
        return [_level(row) for row in self.conn.execute(query.order_by(
            stock_levels.c.sku, stock_levels.c.location))]

    def levels(self, skus: Iterable[str], now: datetime,
               location: str | None = None) -> list[Level]:
        """Levels as a buyer sees them at `now`: holds already past their expiry no longer
        count as reserved, even before the expirer has turned them into events."""
        skus = list(skus)
        due = (
            select(reservations.c.sku, reservations.c.location,
                   func.sum(reservations.c.quantity).label("due"))
            .where(reservations.c.tenant_id == self.tenant_id,
                   reservations.c.sku.in_(skus),
                   reservations.c.status == ReservationStatus.ACTIVE.value,
                   reservations.c.expires_at <= now)
            .group_by(reservations.c.sku, reservations.c.location)
            .subquery()
        )
        query = (
            select(stock_levels, func.coalesce(due.c.due, 0).label("due"))
            .outerjoin(due, and_(due.c.sku == stock_levels.c.sku,
                                 due.c.location == stock_levels.c.location))
            .where(stock_levels.c.tenant_id == self.tenant_id, stock_levels.c.sku.in_(skus))
        )
        if location is not None:
            query = query.where(stock_levels.c.location == location)
        rows = self.conn.execute(query.order_by(stock_levels.c.sku, stock_levels.c.location))
        return [_level(row, expired_due=int(row.due)) for row in rows]

    def level(self, sku: str, location: str, now: datetime) -> Level:
        found = self.levels([sku], now, location=location)
        return found[0] if found else Level(sku, location)

    # ---- writes ------------------------------------------------------------------------

    def ensure_level(self, sku: str, location: str, now: datetime) -> None:
        """Create an empty level row if none exists (idempotent, never blocks a buyer)."""
        dialect_insert = pg_insert if self.is_postgres else sqlite_insert
        stmt = dialect_insert(stock_levels).values(
            tenant_id=self.tenant_id, sku=sku, location=location, on_hand=0, reserved=0,
            pending=0, version=0, updated_at=now,
        ).on_conflict_do_nothing()
        self.conn.execute(stmt)

    def append(self, event: Event, ctx: WriteContext, *,
               expected_version: int | None = None) -> Applied | None:
        """Apply `event` to its level (if it touches one) and stage it in the outbox.

        Returns None when the level's guard refused it: not enough available, a count older
        than the newest applied, or a version that moved on. Nothing is written then.
        """
        event_id = str(uuid.uuid4())
        effect = effect_of(event)
        if not effect.changes_level:
            self.conn.execute(insert(outbox).values(**self._row(event, event_id, ctx)))
            return Applied(event_id, event, None, None, None)
        assert event.location is not None and event.sku is not None
        guards: list[ColumnElement[bool]] = [self._key(event.sku, event.location)]
        values: dict[str, object] = {
            "reserved": stock_levels.c.reserved + effect.reserved_delta,
            "version": stock_levels.c.version + 1,
            "updated_at": ctx.now,
        }
        if effect.on_hand_set is not None:
            values["on_hand"] = effect.on_hand_set
            counted_at = datetime.fromisoformat(str(event.data["occurred_at"]))
            values["last_counted_at"] = counted_at
            guards.append(or_(stock_levels.c.last_counted_at.is_(None),
                              stock_levels.c.last_counted_at < counted_at))
        else:
            values["on_hand"] = stock_levels.c.on_hand + effect.on_hand_delta
        if effect.takes_available:
            guards.append(
                stock_levels.c.on_hand + effect.on_hand_delta
                - (stock_levels.c.reserved + effect.reserved_delta)
                - stock_levels.c.pending >= 0
            )
        if effect.reserved_delta < 0:
            guards.append(stock_levels.c.reserved + effect.reserved_delta >= 0)
        if expected_version is not None:
            guards.append(stock_levels.c.version == expected_version)
        changed = (
            update(stock_levels).where(*guards).values(**values)
            .returning(stock_levels.c.on_hand, stock_levels.c.reserved, stock_levels.c.version)
        )
        row = self._row(event, event_id, ctx)
        if self.is_postgres:
            # One statement: the outbox id is drawn after the level's row lock is taken, so
            # outbox order per level is the order the level changed (see sequencer.py).
            upd = changed.cte("changed")
            cols = [c for c in outbox.c if c.name != "id"]
            source = select(*[
                upd.c.on_hand if c.name == "on_hand_after"
                else upd.c.reserved if c.name == "reserved_after"
                else upd.c.version if c.name == "version"
                else literal(row[c.name], c.type)
                for c in cols
            ]).select_from(upd)
            stmt = insert(outbox).from_select(cols, source).returning(
                outbox.c.on_hand_after, outbox.c.reserved_after, outbox.c.version)
            result = self.conn.execute(stmt).first()
        else:
            # SQLite has one writer at a time, so two statements keep the same order.
            result = self.conn.execute(changed).first()
            if result is not None:
                row.update(on_hand_after=result[0], reserved_after=result[1], version=result[2])
                self.conn.execute(insert(outbox).values(**row))
        if result is None:
            return None
        return Applied(event_id, event, int(result[0]), int(result[1]), int(result[2]))

    def _row(self, event: Event, event_id: str, ctx: WriteContext) -> dict[str, object]:
        return {
            "event_id": event_id,
            "tenant_id": self.tenant_id,
            "type": event.type.value,
            "sku": event.sku,
            "location": event.location,
            "quantity": event.quantity,
            "on_hand_after": None,
            "reserved_after": None,
            "version": None,
            "data": dict(event.data),
            "source": ctx.source,
            "actor": ctx.actor,
            "idempotency_key": ctx.idempotency_key,
            "correlation_id": ctx.correlation_id,
            "occurred_at": ctx.occurred_at or ctx.now,
            "recorded_at": ctx.now,
        }


def _level(row: object, expired_due: int = 0) -> Level:
    r = row._mapping  # type: ignore[attr-defined]
    return Level(
        sku=r["sku"], location=r["location"], on_hand=int(r["on_hand"]),
        reserved=int(r["reserved"]) - expired_due, pending=int(r["pending"]),
        version=int(r["version"]), last_counted_at=r["last_counted_at"],
    )



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
from functools import cache
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Insert,
    Select,
    Update,
    and_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from stocksync.app.records import (
    Applied,
    KeyTaken,
    ReservationRecord,
    StoredResponse,
    WriteContext,
)
from stocksync.core.events import Event, effect_of
from stocksync.core.ledger import Level
from stocksync.core.reservations import ReservationStatus
from stocksync.storage.tables import (
    UtcDateTime,
    idempotency_keys,
    items,
    outbox,
    reservations,
    stock_levels,
)


class SqlLedger:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self.is_postgres = conn.dialect.name == "postgresql"
        self.appended = 0  # events staged through this connection (wakes the sequencer)

    # ---- reads -------------------------------------------------------------------------

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
        rows = self.conn.execute(_levels_query(location is not None), {
            "k_tenant": self.tenant_id, "k_skus": list(skus), "k_location": location,
            "now": now, "active": ReservationStatus.ACTIVE.value})
        return [_level(row, expired_due=int(row.due)) for row in rows]

    def level(self, sku: str, location: str, now: datetime) -> Level:
        found = self.levels([sku], now, location=location)
        return found[0] if found else Level(sku, location)

    # ---- writes ------------------------------------------------------------------------

    def ensure_level(self, sku: str, location: str, now: datetime) -> None:
        """Create an empty level row if none exists (idempotent, never blocks a buyer)."""
        self.conn.execute(_ensure_level(self.is_postgres), {
            "tenant_id": self.tenant_id, "sku": sku, "location": location, "on_hand": 0,
            "reserved": 0, "pending": 0, "version": 0, "updated_at": now})

    def append(self, event: Event, ctx: WriteContext, *,
               expected_version: int | None = None) -> Applied | None:
        """Apply `event` to its level (if it touches one) and stage it in the outbox.

        Returns None when the level's guard refused it: not enough available, a count older
        than the newest applied, or a version that moved on. Nothing is written then.
        """
        event_id = str(uuid.uuid4())
        effect = effect_of(event)
        row = self._row(event, event_id, ctx)
        self.appended += 1
        if not effect.changes_level:
            self.conn.execute(_insert_outbox(), row)
            return Applied(event_id, event, None, None, None)
        assert event.location is not None and event.sku is not None
        shape = _Shape(self.is_postgres, effect.on_hand_set is not None,
                       effect.takes_available, effect.reserved_delta < 0,
                       expected_version is not None)
        params: dict[str, object] = {
            "k_tenant": self.tenant_id, "k_sku": event.sku, "k_location": event.location,
            "d_on_hand": effect.on_hand_delta, "d_reserved": effect.reserved_delta,
            "now": ctx.now, "set_on_hand": effect.on_hand_set, "expected": expected_version,
            "counted_at": (datetime.fromisoformat(str(event.data["occurred_at"]))
                           if shape.sets_on_hand else None),
        }
        if self.is_postgres:
            # One statement: the outbox id is drawn after the level's row lock is taken, so
            # outbox order per level is the order the level changed (see sequencer.py).
            result = self.conn.execute(_apply_and_stage(shape),
                                       {**params, **{f"o_{k}": v for k, v in row.items()}})
            found = result.first()
        else:
            # SQLite has one writer at a time, so two statements keep the same order.
            found = self.conn.execute(_apply(shape), params).first()
            if found is not None:
                row.update(on_hand_after=found[0], reserved_after=found[1], version=found[2])
                self.conn.execute(_insert_outbox(), row)
        if found is None:
            return None
        return Applied(event_id, event, int(found[0]), int(found[1]), int(found[2]))

    def reserve_in_one_statement(self, event: Event, ctx: WriteContext,
                                 record: ReservationRecord,
                                 answer: StoredResponse | None) -> Applied | None:
        """PostgreSQL, autocommit: take the stock, insert the reservation, stage the event
        and store the Idempotency-Key answer in ONE statement, which is its own transaction.
        The hot row is locked only while that statement runs and commits on the server:
        no client round trip (and no wait for the client's interpreter) while holding it.

        None when the guard refused (nothing written). A second use of the same key raises
        KeyTaken, also with nothing written."""
        assert self.is_postgres and event.location is not None
        event_id = str(uuid.uuid4())
        effect = effect_of(event)
        shape = _Shape(True, False, effect.takes_available, False, False, live_item=True)
        res = record.reservation
        held = {"id": res.id, "tenant_id": self.tenant_id, "sku": res.sku,
                "location": res.location, "quantity": res.quantity, "kind": record.kind.value,
                "status": res.status.value, "reference": record.reference,
                "expires_at": res.expires_at, "created_at": record.created_at,
                "resolved_at": record.resolved_at}
        stored = None if answer is None or ctx.idempotency_key is None else {
            "tenant_id": self.tenant_id, "key": ctx.idempotency_key,
            "fingerprint": answer.fingerprint, "status_code": answer.status_code,
            "body": answer.body, "created_at": ctx.now}
        params: dict[str, object] = {
            "k_tenant": self.tenant_id, "k_sku": event.sku, "k_location": event.location,
            "d_on_hand": effect.on_hand_delta, "d_reserved": effect.reserved_delta,
            "now": ctx.now,
            **{f"o_{k}": v for k, v in self._row(event, event_id, ctx).items()},
            **{f"r_{k}": v for k, v in held.items()},
            **{f"i_{k}": v for k, v in (stored or {}).items()},
        }
        try:
            found = self.conn.execute(_reserve_statement(shape, stored is not None),
                                      params).first()
        except IntegrityError as exc:
            if stored is None:
                raise
            raise KeyTaken(str(stored["key"])) from exc
        if found is None:
            return None
        return Applied(event_id, event, int(found[0]), int(found[1]), int(found[2]))

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
            "origin": ctx.origin,
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




# ---- statements, built once per shape --------------------------------------------------
# Building SQLAlchemy expressions costs more CPU than the database work on this path, so
# each statement shape is built once with bind parameters and reused.


@dataclass(frozen=True, slots=True)
class _Shape:
    postgres: bool
    sets_on_hand: bool
    takes_available: bool
    lowers_reserved: bool
    checks_version: bool
    live_item: bool = False  # also require the item to exist and not be deleted


@cache
def _apply(shape: _Shape) -> Update:
    lv = stock_levels.c
    guards: list[ColumnElement[bool]] = [
        lv.tenant_id == bindparam("k_tenant"), lv.sku == bindparam("k_sku"),
        lv.location == bindparam("k_location")]
    values: dict[str, object] = {
        "reserved": lv.reserved + bindparam("d_reserved", type_=BigInteger),
        "version": lv.version + 1,
        "updated_at": bindparam("now", type_=UtcDateTime),
    }
    if shape.sets_on_hand:
        counted_at = bindparam("counted_at", type_=UtcDateTime)
        values["on_hand"] = bindparam("set_on_hand", type_=BigInteger)
        values["last_counted_at"] = counted_at
        guards.append(or_(lv.last_counted_at.is_(None), lv.last_counted_at < counted_at))
    else:
        values["on_hand"] = lv.on_hand + bindparam("d_on_hand", type_=BigInteger)
    if shape.takes_available:
        guards.append(lv.on_hand + bindparam("d_on_hand", type_=BigInteger)
                      - (lv.reserved + bindparam("d_reserved", type_=BigInteger))
                      - lv.pending >= 0)
    if shape.lowers_reserved:
        guards.append(lv.reserved + bindparam("d_reserved", type_=BigInteger) >= 0)
    if shape.checks_version:
        guards.append(lv.version == bindparam("expected", type_=BigInteger))
    if shape.live_item:
        guards.append(select(items.c.sku).where(
            items.c.tenant_id == lv.tenant_id, items.c.sku == lv.sku,
            items.c.deleted_at.is_(None)).exists())
    return (update(stock_levels).where(*guards).values(**values)
            .returning(lv.on_hand, lv.reserved, lv.version))


@cache
def _apply_and_stage(shape: _Shape) -> Insert:
    changed = _apply(shape).cte("changed")
    return _copy_from(changed, outbox, "o_").returning(
        outbox.c.on_hand_after, outbox.c.reserved_after, outbox.c.version)


def _copy_from(changed: Any, table: Any, prefix: str) -> Insert:
    """INSERT INTO table SELECT <bind params> FROM changed: a row only if the UPDATE hit."""
    cols = [c for c in table.c if not (c.name == "id" and table is outbox)]
    after = {"on_hand_after": changed.c.on_hand, "reserved_after": changed.c.reserved,
             "version": changed.c.version} if table is outbox else {}
    source = select(*[after.get(c.name, bindparam(f"{prefix}{c.name}", type_=c.type))
                      for c in cols]).select_from(changed)
    return insert(table).from_select(cols, source)


@cache
def _reserve_statement(shape: _Shape, with_answer: bool) -> Insert:
    changed = _apply(shape).cte("changed")
    stmt = _copy_from(changed, outbox, "o_").returning(
        outbox.c.on_hand_after, outbox.c.reserved_after, outbox.c.version)
    ctes = [_copy_from(changed, reservations, "r_").cte("held")]
    if with_answer:
        ctes.append(_copy_from(changed, idempotency_keys, "i_").cte("answered"))
    return stmt.add_cte(*ctes)


@cache
def _insert_outbox() -> Insert:
    return insert(outbox)


@cache
def _ensure_level(postgres: bool) -> Any:
    dialect_insert = pg_insert if postgres else sqlite_insert
    return dialect_insert(stock_levels).on_conflict_do_nothing()


@cache
def _levels_query(one_location: bool) -> Select[Any]:
    res, lv = reservations.c, stock_levels.c
    skus = bindparam("k_skus", expanding=True)
    due = (
        select(res.sku, res.location, func.sum(res.quantity).label("due"))
        .where(res.tenant_id == bindparam("k_tenant"), res.sku.in_(skus),
               res.status == bindparam("active"),
               res.expires_at <= bindparam("now", type_=UtcDateTime))
        .group_by(res.sku, res.location)
        .subquery()
    )
    query = (
        select(stock_levels, func.coalesce(due.c.due, 0).label("due"))
        .outerjoin(due, and_(due.c.sku == lv.sku, due.c.location == lv.location))
        .where(lv.tenant_id == bindparam("k_tenant"), lv.sku.in_(skus))
    )
    if one_location:
        query = query.where(lv.location == bindparam("k_location"))
    return query.order_by(lv.sku, lv.location)

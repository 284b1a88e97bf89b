"""Many level changes in three statements: the import's fast path into the ledger.

The per-event path (SqlLedger.append) costs three round trips per event; an import of
30,000 rows x 2 locations would spend most of its time there. Here the events are decided by
the core against levels read in the same transaction, and written with executemany: one
INSERT for missing level rows, one UPDATE guarded by each level's version (so a level that
moved since it was read makes the whole batch retry instead of writing a wrong count), and
one INSERT of the outbox rows. A level that had no row gets its row INSERTed with its new
values (a concurrent first write of the same level fails the batch with a unique violation,
which retries it too). UPDATEs run before the outbox INSERT, so on PostgreSQL each
outbox id is drawn after its level's row lock is held, as storage/ledger.py requires.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Connection, Update, bindparam, insert, update

from stocksync.core.events import Event
from stocksync.core.ledger import Level
from stocksync.storage.ledger import WriteContext
from stocksync.storage.tables import UtcDateTime, outbox, stock_levels


class LevelMoved(Exception):
    """A level changed between the read and the write: the caller retries the batch."""


@dataclass(frozen=True, slots=True)
class LevelWrite:
    before: Level  # as read in this transaction
    stored: bool  # whether the level had a row when it was read
    after: Level  # core.apply(before, event)
    event: Event
    ctx: WriteContext  # source, key and times of the event


def write_levels(conn: Connection, tenant_id: str, writes: Sequence[LevelWrite]) -> None:
    if not writes:
        return
    new = [{"tenant_id": tenant_id, "sku": w.after.sku, "location": w.after.location,
            "on_hand": w.after.on_hand, "reserved": w.after.reserved,
            "pending": w.after.pending, "version": w.after.version,
            "last_counted_at": w.after.last_counted_at, "updated_at": w.ctx.now}
           for w in writes if not w.stored]
    if new:
        conn.execute(insert(stock_levels), new)
    params = [{"k_tenant": tenant_id, "k_sku": w.before.sku, "k_location": w.before.location,
               "k_version": w.before.version, "on_hand": w.after.on_hand,
               "version": w.after.version, "counted_at": w.after.last_counted_at,
               "now": w.ctx.now} for w in writes if w.stored]
    if params:
        changed = conn.execute(_guarded_update(), params).rowcount
        if changed != len(params):
            raise LevelMoved(f"{len(params) - changed} level(s) changed meanwhile")
    conn.execute(insert(outbox), [_outbox_row(tenant_id, w) for w in writes])


def _outbox_row(tenant_id: str, w: LevelWrite) -> dict[str, Any]:
    ctx = w.ctx
    return {"event_id": str(uuid.uuid4()), "tenant_id": tenant_id,
            "type": w.event.type.value, "sku": w.event.sku, "location": w.event.location,
            "quantity": w.event.quantity, "on_hand_after": w.after.on_hand,
            "reserved_after": w.after.reserved, "version": w.after.version,
            "data": dict(w.event.data), "source": ctx.source, "actor": ctx.actor,
            "idempotency_key": ctx.idempotency_key, "correlation_id": ctx.correlation_id,
            "origin": ctx.origin, "occurred_at": ctx.occurred_at or ctx.now,
            "recorded_at": ctx.now}


@cache
def _guarded_update() -> Update:
    lv = stock_levels.c
    return update(stock_levels).where(
        lv.tenant_id == bindparam("k_tenant"), lv.sku == bindparam("k_sku"),
        lv.location == bindparam("k_location"),
        lv.version == bindparam("k_version", type_=BigInteger),
    ).values(on_hand=bindparam("on_hand", type_=BigInteger),
             version=bindparam("version", type_=BigInteger),
             last_counted_at=bindparam("counted_at", type_=UtcDateTime),
             updated_at=bindparam("now", type_=UtcDateTime))


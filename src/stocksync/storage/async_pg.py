"""The async hot path's PostgreSQL adapter (app/hot_ports.AsyncStore): psycopg 3
AsyncConnection, a fixed pool, hand-written statements sent in pipelines.

A coalesced batch is two round trips: (1) BEGIN, claim the Idempotency-Keys, lock and read
the level, read the holds past their expiry, the item and the location; (2) every write of
the batch and COMMIT. The level's row lock is held from (1) to the commit, so what the
application decided on is what is written (absolute values, no guard to lose). Keys are
claimed before the level is locked and in sorted order, the same order as the general path
(app/service.py claims the key first), so two writers never wait on each other crosswise.

Connections are opened on demand up to `size` and then kept: none is opened per request.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import make_url

from stocksync.app.coalesce import LevelState
from stocksync.app.hot_ports import BatchWrites, StockSnapshot
from stocksync.app.records import StoredResponse
from stocksync.core.ledger import Level
from stocksync.core.reservations import ReservationStatus

ACTIVE = ReservationStatus.ACTIVE.value
CLAIM = ("INSERT INTO idempotency_keys (tenant_id, key, fingerprint, created_at) "
         "SELECT %(t)s, u.k, u.f, %(now)s FROM unnest(%(keys)s::text[], %(fps)s::text[]) "
         "AS u(k, f) ORDER BY u.k ON CONFLICT DO NOTHING RETURNING key")
LOCK_LEVEL = ("SELECT on_hand, reserved, pending, version, last_counted_at FROM stock_levels "
              "WHERE tenant_id = %(t)s AND sku = %(s)s AND location = %(l)s FOR UPDATE")
AROUND = (
    "SELECT (SELECT coalesce(sum(quantity), 0) FROM reservations WHERE tenant_id = %(t)s "
    "AND sku = %(s)s AND location = %(l)s AND status = %(active)s "
    "AND expires_at <= %(now)s), "
    "(SELECT deleted_at IS NOT NULL FROM items WHERE tenant_id = %(t)s AND sku = %(s)s), "
    "EXISTS (SELECT 1 FROM locations WHERE tenant_id = %(t)s AND code = %(l)s)")
STORED = ("SELECT key, fingerprint, status_code, body FROM idempotency_keys "
          "WHERE tenant_id = %(t)s AND key = ANY(%(keys)s::text[])")
SET_LEVEL = ("UPDATE stock_levels SET on_hand = %(on_hand)s, reserved = %(reserved)s, "
             "version = %(version)s, updated_at = %(now)s "
             "WHERE tenant_id = %(t)s AND sku = %(s)s AND location = %(l)s")
HOLD = ("INSERT INTO reservations (id, tenant_id, sku, location, quantity, kind, status, "
        "reference, expires_at, created_at) SELECT * FROM unnest(%s::text[], %s::text[], "
        "%s::text[], %s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], "
        "%s::timestamptz[], %s::timestamptz[])")
STAGE = ("INSERT INTO outbox (event_id, tenant_id, type, sku, location, quantity, "
         "on_hand_after, reserved_after, version, data, source, actor, idempotency_key, "
         "correlation_id, origin, occurred_at, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, "
         "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
ANSWER = ("UPDATE idempotency_keys SET status_code = u.s, body = u.b FROM unnest("
          "%(keys)s::text[], %(codes)s::int[], %(bodies)s::text[]) AS u(k, s, b) "
          "WHERE tenant_id = %(t)s AND key = u.k")
READ_LEVELS = (
    "SELECT l.sku, l.location, l.on_hand, l.reserved, l.pending, l.version, "
    "l.last_counted_at, coalesce((SELECT sum(r.quantity) FROM reservations r "
    "WHERE r.tenant_id = l.tenant_id AND r.sku = l.sku AND r.location = l.location "
    "AND r.status = %(active)s AND r.expires_at <= %(now)s), 0) FROM stock_levels l "
    "WHERE l.tenant_id = %(t)s AND l.sku = ANY(%(skus)s::text[]) ORDER BY l.sku, l.location")
READ_ITEMS = ("SELECT sku, deleted_at IS NOT NULL FROM items "
              "WHERE tenant_id = %(t)s AND sku = ANY(%(skus)s::text[])")
READ_HEAD = "SELECT log_head FROM tenants WHERE id = %(t)s"

Conn = psycopg.AsyncConnection[tuple[Any, ...]]


def conninfo(database_url: str, schema: str | None) -> str:
    """libpq connection string for an SQLAlchemy URL (and the schema, as stocksync uses)."""
    url = make_url(database_url).set(drivername="postgresql")
    dsn = url.render_as_string(hide_password=False)
    return psycopg.conninfo.make_conninfo(
        dsn, **({"options": f"-c search_path={schema}"} if schema else {}))


class AsyncPool:
    """Connections opened on demand up to `size`, then kept and handed out in turn; a
    caller finding none free waits for the next one given back (first come, first served)."""

    def __init__(self, dsn: str, size: int) -> None:
        self.dsn = dsn
        self.size = size
        self.free: list[Conn] = []
        self.opened = 0
        self.waiting: deque[asyncio.Future[Conn]] = deque()
        self.closed = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        conn = await self._get()
        try:
            yield conn
        finally:
            if conn.closed or conn.broken:
                self.opened -= 1  # its place is free again
                conn.pgconn.finish()
            else:
                self._put(conn)

    async def _get(self) -> Conn:
        if self.free:
            return self.free.pop()
        if self.opened < self.size:
            self.opened += 1
            try:
                return await psycopg.AsyncConnection.connect(self.dsn, autocommit=True)
            except BaseException:
                self.opened -= 1
                raise
        waiter: asyncio.Future[Conn] = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        return await waiter

    def _put(self, conn: Conn) -> None:
        if self.closed:
            conn.pgconn.finish()
            return
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():  # a cancelled waiter is skipped
                waiter.set_result(conn)
                return
        self.free.append(conn)

    async def close(self) -> None:
        self.closed = True
        for conn in self.free:
            await conn.close()
        self.free.clear()


class _PgBatch:
    def __init__(self, conn: Conn, params: dict[str, Any], state: LevelState) -> None:
        self.conn = conn
        self.params = params
        self.state = state
        self.written = False

    async def write(self, writes: BatchWrites) -> None:
        p = self.params
        async with self.conn.pipeline():
            if writes.level is not None:
                lv = writes.level
                await self.conn.execute(SET_LEVEL, {**p, "on_hand": lv.on_hand,
                                                    "reserved": lv.reserved,
                                                    "version": lv.version})
            if writes.reservations:
                cols: list[list[Any]] = [[] for _ in range(10)]
                for rec in writes.reservations:
                    r = rec.reservation
                    for col, value in zip(cols, (
                            r.id, p["t"], r.sku, r.location, r.quantity, rec.kind.value,
                            r.status.value, rec.reference, r.expires_at, rec.created_at),
                            strict=True):
                        col.append(value)
                await self.conn.execute(HOLD, cols)
            if writes.events:
                async with self.conn.cursor() as cur:
                    await cur.executemany(STAGE, [_outbox_row(p["t"], applied, ctx)
                                                  for applied, ctx in writes.events])
            if writes.answers:
                await self.conn.execute(ANSWER, {
                    **p, "keys": [a[0] for a in writes.answers],
                    "codes": [a[1] for a in writes.answers],
                    "bodies": [a[2] for a in writes.answers]})
        self.written = True


def _outbox_row(tenant_id: str, applied: Any, ctx: Any) -> tuple[Any, ...]:
    e = applied.event
    return (applied.event_id, tenant_id, e.type.value, e.sku, e.location, e.quantity,
            applied.on_hand, applied.reserved, applied.version, Json(dict(e.data)),
            ctx.source, ctx.actor, ctx.idempotency_key, ctx.correlation_id, ctx.origin,
            ctx.occurred_at or ctx.now, ctx.now)


class PgAsyncStore:
    def __init__(self, database_url: str, schema: str | None, size: int) -> None:
        self.dsn, self.size = conninfo(database_url, schema), size
        self._pool: AsyncPool | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def pool(self) -> AsyncPool:
        """The pool of the running event loop (async connections belong to one loop; an
        app served again in a new loop gets a new pool, the old one's sockets closed)."""
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            if self._pool is not None:
                for conn in self._pool.free:
                    conn.pgconn.finish()
            self._pool, self._loop = AsyncPool(self.dsn, self.size), loop
        return self._pool

    @asynccontextmanager
    async def level_batch(self, tenant_id: str, sku: str, location: str,
                          keys: Sequence[tuple[str, str]], now: datetime
                          ) -> AsyncIterator[_PgBatch]:
        p = {"t": tenant_id, "s": sku, "l": location, "now": now, "active": ACTIVE}
        async with self.pool.connection() as conn, conn.transaction():
            async with conn.pipeline():
                claim = await conn.execute(CLAIM, {**p, "keys": [k for k, _ in keys],
                                                   "fps": [f for _, f in keys]}) \
                    if keys else None
                level = await conn.execute(LOCK_LEVEL, p)
                around = await conn.execute(AROUND, p)
                claimed = {row[0] for row in await claim.fetchall()} if claim else set()
                row = await level.fetchone()
                due, deleted, location_exists = await around.fetchone() or (0, None, False)
            taken: dict[str, StoredResponse] = {}
            if len(claimed) < len(keys):
                found = await conn.execute(STORED, {**p, "keys": [
                    k for k, _ in keys if k not in claimed]})
                for key, fingerprint, status, body in await found.fetchall():
                    taken[key] = StoredResponse(fingerprint, status, body)
            stored = None if row is None else Level(sku, location, int(row[0]), int(row[1]),
                                                    int(row[2]), int(row[3]), row[4])
            batch = _PgBatch(conn, p, LevelState(stored, int(due), deleted,
                                                 bool(location_exists), taken))
            yield batch
            if not batch.written:
                raise psycopg.Rollback()  # the keys claimed above are given back

    async def stock(self, tenant_id: str, skus: Sequence[str], now: datetime) -> StockSnapshot:
        p = {"t": tenant_id, "skus": list(skus), "now": now, "active": ACTIVE}
        async with self.pool.connection() as conn, conn.pipeline():
            head = await conn.execute(READ_HEAD, p)
            found = await conn.execute(READ_ITEMS, p)
            levels = await conn.execute(READ_LEVELS, p)
            head_row = await head.fetchone()
            deleted = {sku: bool(gone) for sku, gone in await found.fetchall()}
            rows = await levels.fetchall()
        return StockSnapshot(
            int(head_row[0]) if head_row else 0, deleted,
            [Level(r[0], r[1], int(r[2]), int(r[3]) - int(r[7]), int(r[4]), int(r[5]), r[6])
             for r in rows])

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

"""The publish cursor and the figures lag is computed from, in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from stocksync.app.records import LoggedEvent
from stocksync.storage.engine import WRITE
from stocksync.storage.events import SqlEventLog
from stocksync.storage.tables import events, tenants
from stocksync.storage.tables_stream import stream_cursors


@dataclass(frozen=True, slots=True)
class Behind:
    """A tenant whose log has events the stream does not have yet."""

    tenant_id: str
    published: int
    head: int
    oldest_recorded_at: datetime | None = None  # of the first unpublished event

    @property
    def pending(self) -> int:
        return self.head - self.published

    def age(self, now: datetime) -> float:
        if self.oldest_recorded_at is None or self.pending <= 0:
            return 0.0
        return max((now - self.oldest_recorded_at).total_seconds(), 0.0)


def behind(conn: Connection, stream: str, *, with_age: bool = False) -> list[Behind]:
    published = func.coalesce(stream_cursors.c.published, 0)
    rows = conn.execute(
        select(tenants.c.id, published, tenants.c.log_head)
        .select_from(tenants.outerjoin(stream_cursors, and_(
            stream_cursors.c.tenant_id == tenants.c.id, stream_cursors.c.stream == stream)))
        .where(tenants.c.log_head > published).order_by(tenants.c.id)).all()
    found = []
    for tenant_id, done, head in rows:
        oldest = None
        if with_age:
            oldest = conn.execute(select(events.c.recorded_at).where(
                events.c.tenant_id == tenant_id, events.c.sequence == int(done) + 1)).scalar()
        found.append(Behind(tenant_id, int(done), int(head), oldest))
    return found


def pending_tenants(engine: Engine, stream: str) -> list[Behind]:
    with engine.connect() as conn:
        return behind(conn, stream)


def page(engine: Engine, tenant_id: str, after: int, limit: int) -> list[LoggedEvent]:
    with engine.connect() as conn:
        return SqlEventLog(conn, tenant_id).page(after, limit)


def published(engine: Engine, stream: str, tenant_id: str) -> int:
    with engine.connect() as conn:
        value = conn.execute(select(stream_cursors.c.published).where(
            stream_cursors.c.stream == stream, stream_cursors.c.tenant_id == tenant_id)).scalar()
    return int(value or 0)


def advance(engine: Engine, stream: str, tenant_id: str, position: int, now: datetime,
            last_recorded_at: datetime | None) -> None:
    """Store that the server acknowledged everything up to `position` (never moves back)."""
    values = {"published": position, "published_at": now, "last_recorded_at": last_recorded_at}
    key = (stream_cursors.c.stream == stream) & (stream_cursors.c.tenant_id == tenant_id)
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        moved = conn.execute(update(stream_cursors).where(
            key, stream_cursors.c.published < position).values(**values)).rowcount
        if moved == 0 and conn.execute(select(stream_cursors.c.published)
                                       .where(key)).first() is None:
            conn.execute(insert(stream_cursors).values(stream=stream, tenant_id=tenant_id,
                                                       **values))


def published_positions(conn: Connection, stream: str) -> dict[str, int]:
    return {t: int(p) for t, p in conn.execute(
        select(stream_cursors.c.tenant_id, stream_cursors.c.published)
        .where(stream_cursors.c.stream == stream))}


def oldest_after(conn: Connection, tenant_id: str, position: int) -> datetime | None:
    """When the event after `position` was committed (None: there is none yet)."""
    value: datetime | None = conn.execute(select(events.c.recorded_at).where(
        events.c.tenant_id == tenant_id, events.c.sequence == position + 1)).scalar()
    return value

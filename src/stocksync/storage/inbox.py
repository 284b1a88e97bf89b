"""SqlInbox: webhook deliveries stored before the ack, claimed and settled by the worker.

A claim is short (seconds) and renewed by the worker while it still works on the batch, so
the claims of a worker that died (kill -9, a lost host) run out within one claim period
and a restarted or surviving worker takes them over: a crash costs seconds, not a minute.
The `claimed_until` a claim set is also its fencing token: only the worker that set it can
renew or release it, so a worker that stalled past its claim cannot extend a claim another
worker has taken since. Applying twice is harmless anyway (every effect is keyed)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    case,
    delete,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stocksync.app.ports import NewDelivery
from stocksync.app.records import Delivery
from stocksync.core.channels import Channel
from stocksync.storage.channel_health import record_refused_webhook
from stocksync.storage.channels import channel_for_webhook
from stocksync.storage.engine import WRITE
from stocksync.storage.tables import inbox

PENDING, DONE, FAILED, DISMISSED = "pending", "done", "failed", "dismissed"
STATUSES = (PENDING, DONE, FAILED, DISMISSED)


def _delivery(row: Any) -> Delivery:
    r = row._mapping
    return Delivery(id=int(r["id"]), tenant_id=r["tenant_id"], channel=r["channel"],
                    kind=r["kind"], delivery_id=r["delivery_id"], topic=r["topic"],
                    headers=dict(r["headers"]), body=bytes(r["body"]),
                    received_at=r["received_at"], status=r["status"],
                    attempts=int(r["attempts"]), last_error=r["last_error"],
                    processed_at=r["processed_at"], correlation_id=r["correlation_id"],
                    dismissed_at=r["dismissed_at"], dismissed_by=r["dismissed_by"],
                    dismiss_reason=r["dismiss_reason"], claimed_until=r["claimed_until"])


def store(conn: Connection, *, tenant_id: str, channel: str, kind: str, delivery_id: str,
          topic: str, headers: Mapping[str, str], body: bytes, now: datetime,
          correlation_id: str | None, not_before: datetime | None = None) -> int | None:
    """Keep a delivery; None when (channel, delivery id) was already kept (a redelivery)."""
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    row = conn.execute(
        dialect_insert(inbox).values(
            tenant_id=tenant_id, channel=channel, kind=kind, delivery_id=delivery_id,
            topic=topic, headers=dict(headers), body=body, received_at=now, status=PENDING,
            attempts=0, correlation_id=correlation_id, next_attempt_at=not_before)
        .on_conflict_do_nothing().returning(inbox.c.id)).first()
    return None if row is None else int(row[0])


def claim(conn: Connection, now: datetime, hold: timedelta, limit: int,
          skip: Iterable[tuple[str, str]] = (),
          later: Collection[str] = ()) -> list[Delivery]:
    """Take up to `limit` due deliveries for `hold`: one statement, so two workers never
    take the same one; a worker that dies lets its claim run out (keep `hold` short and
    `renew` it while working). `later`: topics taken only after every other due delivery
    (in that order too). `skip`: (tenant, channel) pairs whose queue is full: none of their
    deliveries is taken, or with `later` only those of the `later` topics are left (a
    queue full of inventory notices must not hold back the orders behind it)."""
    deferred = case((inbox.c.topic.in_(list(later)), 1), else_=0) if later else literal(0)
    skipped = inbox.c.topic.in_(list(later)) if later else literal(True)
    due = (select(inbox.c.id).where(
        inbox.c.status == PENDING,
        or_(inbox.c.next_attempt_at.is_(None), inbox.c.next_attempt_at <= now),
        or_(inbox.c.claimed_until.is_(None), inbox.c.claimed_until < now),
        *(not_(and_(inbox.c.tenant_id == tenant, inbox.c.channel == channel, skipped))
          for tenant, channel in skip))
        .order_by(deferred, inbox.c.id).limit(limit))
    if conn.dialect.name == "postgresql":
        # A second worker takes the next rows instead of queueing behind the first's.
        due = due.with_for_update(skip_locked=True)
    rows = conn.execute(update(inbox).where(inbox.c.id.in_(due.scalar_subquery()), or_(
        inbox.c.claimed_until.is_(None), inbox.c.claimed_until < now))
        .values(claimed_until=now + hold).returning(*inbox.c))
    return sorted((_delivery(r) for r in rows), key=lambda d: (d.topic in later, d.id))


def renew(conn: Connection, ids: Sequence[int], held_until: datetime, now: datetime,
          hold: timedelta) -> tuple[datetime, set[int]]:
    """Extend this worker's claim on those of `ids` it still holds (their `claimed_until`
    is still `held_until`, the value its claim or last renewal set): the new end, and the
    ids renewed. A claim that ran out and was taken by another worker is left alone."""
    until = now + hold
    rows = conn.execute(update(inbox).where(
        inbox.c.id.in_(list(ids)), inbox.c.status == PENDING,
        inbox.c.claimed_until == held_until).values(claimed_until=until)
        .returning(inbox.c.id))
    return until, {int(r[0]) for r in rows}


def release(conn: Connection, ids: Sequence[int], held_until: datetime) -> int:
    """Give back claims this worker holds but will not work on (it is stopping)."""
    if not ids:
        return 0
    result = conn.execute(update(inbox).where(
        inbox.c.id.in_(list(ids)), inbox.c.claimed_until == held_until)
        .values(claimed_until=None))
    return result.rowcount


def settle(conn: Connection, delivery_id: int, now: datetime, *, error: str | None = None,
           retry_at: datetime | None = None) -> None:
    """Done (no error), retry later (error and retry_at) or dead-lettered (error only)."""
    if error is None:
        values: dict[str, object] = {"status": DONE, "processed_at": now, "last_error": None}
    elif retry_at is not None:
        values = {"attempts": inbox.c.attempts + 1, "next_attempt_at": retry_at,
                  "last_error": error[:4000]}
    else:
        values = {"status": FAILED, "attempts": inbox.c.attempts + 1, "processed_at": now,
                  "last_error": error[:4000]}
    conn.execute(update(inbox).where(inbox.c.id == delivery_id)
                 .values(claimed_until=None, **values))


def settle_many(conn: Connection, delivery_ids: Sequence[int], now: datetime) -> None:
    """Done, every one of `delivery_ids` (one statement)."""
    if delivery_ids:
        conn.execute(update(inbox).where(inbox.c.id.in_(list(delivery_ids))).values(
            status=DONE, processed_at=now, last_error=None, claimed_until=None))


def listing(conn: Connection, tenant_id: str, status: str | None, after: int,
            limit: int) -> list[Delivery]:
    query = select(inbox).where(inbox.c.tenant_id == tenant_id, inbox.c.id > after)
    if status:
        query = query.where(inbox.c.status == status)
    return [_delivery(r) for r in conn.execute(query.order_by(inbox.c.id).limit(limit))]


def get(conn: Connection, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
    query = select(inbox).where(inbox.c.id == delivery_id)
    if tenant_id is not None:
        query = query.where(inbox.c.tenant_id == tenant_id)
    row = conn.execute(query).first()
    return _delivery(row) if row else None


def replay(conn: Connection, delivery_id: int, tenant_id: str | None = None) -> bool:
    """Put a delivery back in the queue (after fixing what made it fail)."""
    query = update(inbox).where(inbox.c.id == delivery_id)
    if tenant_id is not None:
        query = query.where(inbox.c.tenant_id == tenant_id)
    result = conn.execute(query.values(status=PENDING, attempts=0, next_attempt_at=None,
                                       claimed_until=None, processed_at=None,
                                       dismissed_at=None, dismissed_by=None,
                                       dismiss_reason=None))
    return result.rowcount == 1


def dismiss(conn: Connection, delivery_id: int, now: datetime, by: str,
            reason: str | None = None, tenant_id: str | None = None) -> bool:
    """Give up on a dead-lettered delivery: it stays kept, as dismissed, with who did it,
    when and why (it no longer counts as failed, and replaying it is still possible).
    False if there is no such failed delivery."""
    query = update(inbox).where(inbox.c.id == delivery_id, inbox.c.status == FAILED)
    if tenant_id is not None:
        query = query.where(inbox.c.tenant_id == tenant_id)
    result = conn.execute(query.values(status=DISMISSED, dismissed_at=now, dismissed_by=by[:64],
                                       dismiss_reason=reason[:4000] if reason else None,
                                       claimed_until=None))
    return result.rowcount == 1


def counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status))
    return {status: int(n) for status, n in rows}


def purge(conn: Connection, older_than: datetime) -> int:
    """Forget settled deliveries past the dedupe window."""
    result = conn.execute(delete(inbox).where(inbox.c.status == DONE,
                                              inbox.c.received_at < older_than))
    return result.rowcount


class SqlInboxStore:
    """This module behind app.inbox_admin.InboxStore: one short transaction per call."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _writing(self) -> Connection:
        return self.engine.connect().execution_options(**WRITE)

    def listing(self, tenant_id: str, status: str | None, after: int,
                limit: int) -> list[Delivery]:
        with self.engine.connect() as conn:
            return listing(conn, tenant_id, status, after, limit)

    def get(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
        with self.engine.connect() as conn:
            return get(conn, delivery_id, tenant_id)

    def replay(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
        with self._writing() as conn, conn.begin():
            if not replay(conn, delivery_id, tenant_id):
                return None
            return get(conn, delivery_id, tenant_id)

    def dismiss(self, delivery_id: int, now: datetime, by: str, reason: str | None,
                tenant_id: str | None = None) -> tuple[Delivery | None, bool]:
        with self._writing() as conn, conn.begin():
            found = get(conn, delivery_id, tenant_id)
            if found is None or not dismiss(conn, delivery_id, now, by, reason, tenant_id):
                return found, False
            return get(conn, delivery_id, tenant_id), True

    def claim(self, now: datetime, hold: timedelta, limit: int,
              skip: Iterable[tuple[str, str]] = (),
              later: Collection[str] = ()) -> list[Delivery]:
        with self._writing() as conn, conn.begin():
            return claim(conn, now, hold, limit, skip, later)

    def renew(self, ids: Sequence[int], held_until: datetime, now: datetime,
              hold: timedelta) -> tuple[datetime, set[int]]:
        with self._writing() as conn, conn.begin():
            return renew(conn, ids, held_until, now, hold)

    def release(self, ids: Sequence[int], held_until: datetime) -> int:
        with self._writing() as conn, conn.begin():
            return release(conn, ids, held_until)

    def settle(self, delivery_id: int, now: datetime, *, error: str | None = None,
               retry_at: datetime | None = None) -> None:
        with self._writing() as conn, conn.begin():
            settle(conn, delivery_id, now, error=error, retry_at=retry_at)

    def settle_many(self, delivery_ids: Sequence[int], now: datetime) -> None:
        with self._writing() as conn, conn.begin():
            settle_many(conn, delivery_ids, now)

    def keep(self, deliveries: Sequence[NewDelivery], now: datetime) -> list[int | None]:
        with self._writing() as conn, conn.begin():
            return [store(conn, tenant_id=d.tenant_id, channel=d.channel, kind=d.kind,
                          delivery_id=d.delivery_id, topic=d.topic, headers=d.headers,
                          body=d.body, now=now, correlation_id=d.correlation_id,
                          not_before=d.not_before)
                    for d in deliveries]

    def receiver(self, webhook_id: str) -> tuple[Channel, str | None] | None:
        with self.engine.connect() as conn:
            return channel_for_webhook(conn, webhook_id)

    def record_refused(self, tenant_id: str, channel: str, now: datetime) -> None:
        with self._writing() as conn, conn.begin():
            record_refused_webhook(conn, tenant_id, channel, now)

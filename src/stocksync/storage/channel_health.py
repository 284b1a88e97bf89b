"""A channel's health read from its rows: one definition of lag (API, metric and alerts all
read it here), SKUs held or parked, errors, refused webhook signatures."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, case, exists, func, or_, select, type_coerce, update

from stocksync.core.channels import RECEIVE_ONLY, ChannelKind, ChannelStatus
from stocksync.storage.tables import UtcDateTime, channel_skus, channels, events, inbox


def channel_status(conn: Connection, tenant_id: str, code: str, cursor: int,
                   now: datetime) -> ChannelStatus:
    row = conn.execute(select(channels).where(
        channels.c.tenant_id == tenant_id, channels.c.code == code)).one()._mapping
    kind = ChannelKind(row["kind"])
    pushed = kind not in RECEIVE_ONLY
    s = channel_skus.c
    waiting = and_(s.pending_since.isnot(None), s.parked_reason.is_(None))
    held = and_(waiting, s.next_attempt_at > now)
    due = and_(waiting, or_(s.next_attempt_at.is_(None), s.next_attempt_at <= now))
    # A SKU whose hold ran out waits from the end of its hold, not from its first change.
    since = type_coerce(case((and_(s.next_attempt_at.isnot(None),
                                   s.next_attempt_at > s.pending_since), s.next_attempt_at),
                             else_=s.pending_since), UtcDateTime())
    pending, parked, held_count, oldest_due = conn.execute(
        select(func.count(), func.count().filter(s.parked_reason.isnot(None)),
               func.count().filter(held), func.min(since).filter(due))
        .where(s.tenant_id == tenant_id, s.channel == code, s.pending_since.isnot(None))).one()
    oldest_due = _utc(oldest_due)
    unprojected = None
    if pushed:  # the first event after the cursor (sequence order: an index lookup)
        unprojected = conn.execute(
            select(events.c.recorded_at)
            .where(events.c.tenant_id == tenant_id, events.c.sequence > cursor)
            .order_by(events.c.sequence).limit(1)).scalar()
    refused_at = row["webhook_refused_at"]
    return ChannelStatus(
        cursor=cursor, last_push_at=row["last_push_at"], last_error=row["last_error"],
        last_error_at=row["last_error_at"], failing_since=row["failing_since"],
        pending=int(pending or 0), parked=int(parked or 0), held=int(held_count or 0),
        oldest_unprojected_at=unprojected, oldest_unpushed_at=oldest_due,
        orders_polled_at=row["order_polled_at"], orders_error=row["order_poll_error"],
        orders_error_at=row["order_poll_error_at"],
        lag_since=_lag_since(pushed, unprojected, oldest_due,
                             row["updated_at"] or row["created_at"]),
        enabled=bool(row["enabled"]), receives_pushes=pushed, created_at=row["created_at"],
        webhooks_refused=int(row["webhooks_refused"] or 0), webhook_refused_at=refused_at,
        webhooks_refused_since_accepted=refused_at is not None and not _accepted_after(
            conn, tenant_id, code, kind, refused_at))


def _utc(value: object) -> datetime | None:
    """min() over a CASE loses the column type on SQLite: parse what comes back."""
    if value is None or isinstance(value, datetime):
        return UtcDateTime().process_result_value(value, None)  # type: ignore[arg-type]
    return UtcDateTime().process_result_value(  # type: ignore[arg-type]
        datetime.fromisoformat(str(value)), None)


def _lag_since(pushed: bool, unprojected: datetime | None, oldest_due: datetime | None,
               configured_at: datetime) -> datetime | None:
    if not pushed:
        return None
    oldest = min((t for t in (unprojected, oldest_due) if t is not None), default=None)
    return None if oldest is None else max(oldest, configured_at)


def _accepted_after(conn: Connection, tenant_id: str, code: str, kind: ChannelKind,
                    at: datetime) -> bool:
    """A webhook of this channel was accepted (signature good) after `at`. Polled orders
    are stored in the inbox too, under another kind: they prove nothing about the secret."""
    return bool(conn.execute(select(exists().where(
        inbox.c.tenant_id == tenant_id, inbox.c.channel == code, inbox.c.kind == kind.value,
        inbox.c.received_at > at))).scalar())


def record_refused_webhook(conn: Connection, tenant_id: str, code: str, now: datetime) -> None:
    conn.execute(update(channels).where(channels.c.tenant_id == tenant_id,
                                        channels.c.code == code)
                 .values(webhooks_refused=channels.c.webhooks_refused + 1,
                         webhook_refused_at=now))

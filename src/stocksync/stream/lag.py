"""Lag you can alert on: publish lag (committed -> published) per tenant, and how far each
durable consumer of the stream is behind (pending messages and the age of the oldest).

Publish lag comes from the database (the publish cursor against the log head), so any
process can compute it, the alert worker included, even while NATS is down. Consumer
figures come from JetStream itself (consumer info + the first unacknowledged message), so
they cover outside consumers too, not only stocksync's channel workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Connection, select

from stocksync import metrics
from stocksync.app.alerts import Condition
from stocksync.config import Settings
from stocksync.storage.tables import channels
from stocksync.stream import store
from stocksync.stream.message import recorded_at
from stocksync.stream.subjects import tenant_of

RULE_PUBLISH = "stream_publish_lag"
RULE_CONSUMER = "stream_consumer_lag"


@dataclass(frozen=True, slots=True)
class ConsumerLag:
    tenant_id: str | None
    consumer: str
    pending: int
    age_seconds: float


def publish_lag(conn: Connection, settings: Settings, now: datetime) -> list[store.Behind]:
    """Tenants whose log is ahead of the stream, with the age of the oldest unpublished
    event; also sets the publish gauges (0 for tenants that caught up)."""
    found = store.behind(conn, settings.nats_stream, with_age=True)
    late = {b.tenant_id for b in found}
    for tenant_id in store.published_positions(conn, settings.nats_stream):
        if tenant_id not in late:
            metrics.STREAM_PUBLISH_LAG.labels(tenant_id).set(0.0)
            metrics.STREAM_PUBLISH_PENDING.labels(tenant_id).set(0)
    for b in found:
        metrics.STREAM_PUBLISH_LAG.labels(b.tenant_id).set(b.age(now))
        metrics.STREAM_PUBLISH_PENDING.labels(b.tenant_id).set(b.pending)
    return found


def channel_consumer_lag(conn: Connection, stream: str, now: datetime, tenant_id: str,
                         cursor: int, since: datetime | None = None) -> tuple[int, float]:
    """(pending, age) of a channel reading the stream: events published that its cursor
    (stored with its effects, acknowledged after) has not passed yet. Age counts from
    `since` at the earliest (the channel's last configuration change), as channel lag
    does: a new channel catching up on older stock is not late."""
    published = store.published_positions(conn, stream).get(tenant_id, 0)
    pending = max(published - cursor, 0)
    if not pending:
        return 0, 0.0
    oldest = store.oldest_after(conn, tenant_id, cursor)
    if oldest is None:
        return pending, 0.0
    start = max(oldest, since) if since is not None else oldest
    return pending, max((now - start).total_seconds(), 0.0)


def conditions(conn: Connection, settings: Settings, now: datetime) -> list[Condition]:
    """Alert conditions of the stream (none while no NATS is configured): publish lag over
    STOCKSYNC_ALERT_STREAM_LAG_SECONDS per tenant, and, with channels reading the stream,
    each channel whose oldest unconsumed event is older than that."""
    if not settings.nats_url:
        return []
    limit = settings.alert_stream_lag_seconds
    found = []
    for b in publish_lag(conn, settings, now):
        if (age := b.age(now)) > limit:
            found.append(Condition(b.tenant_id, RULE_PUBLISH, "*", age,
                                   f"the event stream is {age:.0f} s behind the log "
                                   f"({b.pending} events not yet published to NATS)"))
    if settings.nats_channel_consumers:
        rows = conn.execute(select(channels.c.tenant_id, channels.c.code, channels.c.cursor,
                                   channels.c.updated_at).where(channels.c.enabled))
        for tenant_id, code, cursor, changed in rows:
            pending, age = channel_consumer_lag(conn, settings.nats_stream, now, tenant_id,
                                                int(cursor), changed)
            if age > limit:
                found.append(Condition(tenant_id, RULE_CONSUMER, code, age,
                                       f"channel {code} is {age:.0f} s behind the event "
                                       f"stream ({pending} events not consumed)"))
    return found


async def consumer_lags(js: JetStreamContext, stream: str, prefix: str,
                        now: datetime) -> list[ConsumerLag]:
    """Every durable consumer of the stream, with its pending count and the age of the
    first message it has not acknowledged; sets the consumer gauges."""
    found = []
    for info in await js.consumers_info(stream):
        pending = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
        filtered = info.config.filter_subject or ""
        tenant = tenant_of(prefix, filtered)
        age = 0.0
        if pending:
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            try:
                first = await js.get_msg(stream, int(floor or 0) + 1, subject=filtered or None,
                                         next=True)
                committed = recorded_at(first.headers)
                if committed is not None:
                    age = max((now - committed).total_seconds(), 0.0)
                tenant = tenant or tenant_of(prefix, first.subject or "")
            except NotFoundError:
                pass
        lag = ConsumerLag(tenant, info.name, pending, age)
        metrics.STREAM_CONSUMER_PENDING.labels(tenant or "*", info.name).set(pending)
        metrics.STREAM_CONSUMER_AGE.labels(tenant or "*", info.name).set(age)
        found.append(lag)
    return found

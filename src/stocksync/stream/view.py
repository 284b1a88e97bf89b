"""What GET /v1/channels/{code} shows of a channel that reads the stream."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import select

from stocksync.app.ports import UnitOfWork
from stocksync.core.channels import Channel
from stocksync.storage.tables_stream import stream_consumers
from stocksync.stream.lag import channel_consumer_lag
from stocksync.stream.store import published_positions


class StreamConsumerOut(BaseModel):
    stream: str
    consumer: str = Field(description="the channel's durable JetStream consumer")
    published: int = Field(description="the tenant's log position the stream has reached")
    pending: int = Field(description="events published that the channel has not consumed")
    age_seconds: float = Field(description="how long the oldest of them has been committed "
                               "(0: none); over STOCKSYNC_ALERT_STREAM_LAG_SECONDS alerts")


def stream_consumer(uow: UnitOfWork, channel: Channel,
                    now: datetime) -> StreamConsumerOut | None:
    """None unless the channel's worker reads the stream (STOCKSYNC_NATS_CHANNEL_CONSUMERS)."""
    conn = getattr(uow, "conn", None)  # SQL storage only: the stream needs a database
    if conn is None:
        return None
    row = conn.execute(select(stream_consumers).where(
        stream_consumers.c.tenant_id == uow.tenant_id,
        stream_consumers.c.channel == channel.code)).first()
    if row is None:
        return None
    pending, age = channel_consumer_lag(conn, row.stream, now, uow.tenant_id, channel.cursor,
                                        channel.updated_at)
    return StreamConsumerOut(stream=row.stream, consumer=row.consumer,
                             published=published_positions(conn, row.stream).get(
                                 uow.tenant_id, 0),
                             pending=pending, age_seconds=round(age, 3))

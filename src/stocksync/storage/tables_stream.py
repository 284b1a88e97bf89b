"""Tables of the event stream on NATS JetStream (migration 0011)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, ForeignKeyConstraint, String, Table

from stocksync.storage.tables import UtcDateTime, metadata

# How far each tenant's log has been published to a stream: the position the server
# acknowledged last. Advanced only after the ack, so a crash republishes (deduplicated by
# Nats-Msg-Id) rather than skips. Keyed by stream name: another stream starts from 0.
stream_cursors = Table(
    "stream_cursors", metadata,
    Column("stream", String(64), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("published", BigInteger, nullable=False),
    Column("published_at", UtcDateTime, nullable=False),
    # recorded_at of the last event published: committed -> published is the publish lag
    Column("last_recorded_at", UtcDateTime),
)

# Channels whose worker reads the stream (STOCKSYNC_NATS_CHANNEL_CONSUMERS): through which
# durable consumer, so GET /v1/channels/{code} can show how far behind the stream it is.
stream_consumers = Table(
    "stream_consumers", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("stream", String(64), nullable=False),
    Column("consumer", String(160), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["tenant_id", "channel"], ["channels.tenant_id", "channels.code"],
                         ondelete="CASCADE"),
)

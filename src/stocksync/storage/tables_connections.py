"""Tables of store connections (migration 0013): authorisation flows in progress and
channels waiting in preview."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    String,
    Table,
    Text,
)

from stocksync.storage.tables import UtcDateTime, metadata

# One row per authorisation flow started (GET /v1/connect/{kind}). Only the SHA-256 of the
# `state` nonce is kept: a database read does not hand out live nonces. A row is used once
# (`used_at` set by the callback that consumed it) and dies at `expires_at`.
store_connections = Table(
    "store_connections", metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("request", JSON, nullable=False),  # the channel asked for: code, name, settings…
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
    Column("channel_code", String(64)),  # the channel the callback created
    Column("error", Text),  # why the callback created none
)

# A channel in preview: stored with enabled false (nothing pushes, polls or alerts) until
# the merchant confirms; `enabled_after` is the `enabled` it was asked with.
channel_previews = Table(
    "channel_previews", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("channel_code", String(64), primary_key=True),
    Column("enabled_after", Boolean, nullable=False),
    Column("since", UtcDateTime, nullable=False),
    ForeignKeyConstraint(["tenant_id", "channel_code"], ["channels.tenant_id", "channels.code"],
                         ondelete="CASCADE"),
)

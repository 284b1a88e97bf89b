"""Content sync tables: per-channel content settings, per-channel content overrides and,
per channel and SKU, what stocksync wants the channel to show and what it acknowledged."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from stocksync.storage.tables import UtcDateTime, items, metadata

# The content projector reads the catalog by change time (items.updated_at).
Index("ix_items_tenant_updated", items.c.tenant_id, items.c.updated_at)

# One row per channel that syncs content: which data types, which way, when (the JSON of
# core.content.ContentSettings) and how far the projector has read the catalog.
channel_content_settings = Table(
    "channel_content_settings", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("settings", JSON, nullable=False),
    # Items and overrides changed up to here are projected (re-read with an overlap: a
    # transaction that committed late with an earlier timestamp is still seen).
    Column("projected_until", UtcDateTime),
    # The last inbox delivery whose product edits content sync has read.
    Column("inbox_after", BigInteger, nullable=False, server_default="0"),
    Column("updated_at", UtcDateTime, nullable=False),
)

# A SKU's content as one channel should show it instead of the item's own (an eBay title
# within 80 characters, item specifics, an AI-written description).
item_channel_content = Table(
    "item_channel_content", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("title", String(500)),
    Column("description", Text),
    Column("aspects", JSON),  # eBay item specifics: {name: [values]}
    Column("updated_at", UtcDateTime, nullable=False),
    Column("source", String(100), nullable=False),
    Index("ix_item_channel_content_changed", "tenant_id", "channel", "updated_at"),
)

# Per channel and SKU: field -> {"h": hash, "at": time} for what stocksync wants (`wanted`)
# and what the channel is known to have (`channel_has`); a row is due while they differ.
channel_content_state = Table(
    "channel_content_state", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("wanted", JSON, nullable=False),
    Column("channel_has", JSON, nullable=False),
    Column("pending_since", UtcDateTime),  # None: the channel shows what stocksync wants
    Column("due_at", UtcDateTime),  # the next push (schedule, or backoff after a failure)
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("refused", Text),  # the platform's (or our validation's) reason, not retried
    Column("pushed_at", UtcDateTime),
    Column("received_at", UtcDateTime),  # the newest channel edit accepted into the catalog
    Index("ix_channel_content_state_due", "tenant_id", "channel", "due_at"),
)

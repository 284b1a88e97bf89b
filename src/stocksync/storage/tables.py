"""SQLAlchemy Core tables. Every row carries its tenant; every key starts with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Always aware UTC in Python; timestamptz on PostgreSQL, naive UTC text on SQLite
    (so that SQLite compares them correctly as strings)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only autoincrements an INTEGER PRIMARY KEY.
Serial = BigInteger().with_variant(Integer, "sqlite")

tenants = Table(
    "tenants", metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("log_head", BigInteger, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    UniqueConstraint("name"),  # --tenant NAME must mean one tenant (migration 0007)
)

api_keys = Table(
    "api_keys", metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("prefix", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("label", String(100)),
    Column("revoked_at", UtcDateTime),  # a revoked key authenticates nothing
)

# Read-only keys a storefront page or an agent may hold in the open: they read
# availability and nothing else (migration 0010).
publishable_keys = Table(
    "publishable_keys", metadata,
    Column("key_hash", String(64), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("label", String(100)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime),
)

items = Table(
    "items", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("title", String(500)),
    Column("description", Text),
    Column("brand", String(200)),
    Column("gender", String(50)),
    Column("material", String(200)),
    Column("garment_type", String(200)),
    Column("size", String(50)),
    Column("colour", String(100)),
    Column("attributes", JSON, nullable=False),
    Column("barcodes", JSON, nullable=False),
    Column("images", JSON, nullable=False),
    Column("price", Numeric(14, 4)),
    Column("compare_at_price", Numeric(14, 4)),
    Column("cost_price", Numeric(14, 4)),  # migration 0009 (catalog import)
    Column("currency", String(3)),
    Column("deleted_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

item_barcodes = Table(
    "item_barcodes", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("barcode", String(32), primary_key=True),
    Column("sku", String(64), nullable=False),
)

locations = Table(
    "locations", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("code", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

stock_levels = Table(
    "stock_levels", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("location", String(32), primary_key=True),
    Column("on_hand", BigInteger, nullable=False),
    Column("reserved", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("last_counted_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
)

reservations = Table(
    "reservations", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("location", String(32), nullable=False),
    Column("quantity", BigInteger, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("status", String(20), nullable=False),
    Column("reference", String(200)),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Index("ix_reservations_status_expires_at", "status", "expires_at"),
    Index("ix_reservations_level_status", "tenant_id", "sku", "location", "status"),
)


def _event_columns() -> list[Column[Any]]:
    return [
        Column("event_id", String(36), nullable=False),
        Column("tenant_id", String(32), nullable=False),
        Column("type", String(40), nullable=False),
        Column("sku", String(64)),
        Column("location", String(32)),
        Column("quantity", BigInteger, nullable=False),
        Column("on_hand_after", BigInteger),
        Column("reserved_after", BigInteger),
        Column("version", BigInteger),
        Column("data", JSON, nullable=False),
        Column("source", String(100), nullable=False),
        Column("actor", String(100)),
        Column("idempotency_key", String(255)),
        Column("correlation_id", String(64)),
        Column("origin", String(100)),  # where the write came from (client address)
        Column("occurred_at", UtcDateTime, nullable=False),
        Column("recorded_at", UtcDateTime, nullable=False),
    ]


# Writers append here in their own transaction; the sequencer moves committed rows to
# `events` and gives them their tenant position in commit order (see storage/sequencer.py).
outbox = Table(
    "outbox", metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    *_event_columns(),
)

events = Table(
    "events", metadata,
    Column("sequence", BigInteger, nullable=False, autoincrement=False),
    *_event_columns(),
    PrimaryKeyConstraint("tenant_id", "sequence"),
    UniqueConstraint("event_id"),
    Index("ix_events_tenant_sku_sequence", "tenant_id", "sku", "sequence"),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("status_code", Integer),
    Column("body", Text),
    Column("created_at", UtcDateTime, nullable=False, index=True),
)

channels = Table(
    "channels", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("name", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("settings", JSON, nullable=False),  # non-secret connection settings (URLs, ids)
    Column("credentials", Text),  # Fernet token of a JSON object; never returned by the API
    Column("rules", JSON, nullable=False),
    Column("cursor", BigInteger, nullable=False),  # last log position projected
    Column("lease_owner", String(64)),  # which worker process runs this channel now
    Column("lease_until", UtcDateTime),
    Column("last_push_at", UtcDateTime),
    Column("last_error", Text),
    Column("last_error_at", UtcDateTime),
    Column("failing_since", UtcDateTime),
    Column("webhook_id", String(40), unique=True),  # the {channel} of /webhooks/{kind}/…
    # Order polling (channels whose connector lists orders): where the next poll starts.
    Column("order_cursor", Text),
    Column("order_polled_at", UtcDateTime),  # the last poll that succeeded
    Column("order_poll_error", Text),
    Column("order_poll_error_at", UtcDateTime),
    # Webhook deliveries refused for a wrong signature (a wrong secret loses every order).
    Column("webhooks_refused", BigInteger, nullable=False, server_default="0"),
    Column("webhook_refused_at", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per (channel, SKU): what the channel should show (wanted) and what it last
# acknowledged (pushed). The pusher works on rows where they differ.
channel_skus = Table(
    "channel_skus", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("channel", String(64), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("external_ids", JSON, nullable=False),
    Column("wanted", BigInteger),
    Column("wanted_sequence", BigInteger),
    Column("pending_since", UtcDateTime),  # recorded_at of the oldest change not yet pushed
    Column("pushed", BigInteger),
    Column("pushed_at", UtcDateTime),
    Column("sending", BigInteger),  # a value on its way: its echo must not count as a change
    # Values sent since the last acknowledgement by pushes that failed (a time-out): they
    # may have landed all the same, so their echoes are ours too until the next ack.
    Column("unconfirmed", JSON),
    Column("observed_at", UtcDateTime),  # time of the newest channel notice applied
    # Units the channel moved itself (its own sales -, restocks +) that stocksync counted
    # since `pushed` was last set: the channel should now show pushed + channel_moves.
    Column("channel_moves", BigInteger, nullable=False, server_default="0"),
    # Level changes accepted from the channel's notices (external_changes: accept) that no
    # order has explained yet; an order that arrives later is netted against them.
    Column("unexplained", BigInteger, nullable=False, server_default="0"),
    # Newest time of a change made at the channel itself that stocksync counted.
    Column("channel_changed_at", UtcDateTime),
    # When `pushed` was last taken from the channel itself (read, reported, accepted): the
    # channel's sales from before it are already in that value.
    Column("level_at", UtcDateTime),
    Column("correlation_id", String(64)),  # of the newest change waiting to be pushed
    # Channels with a daily revision cap per listing (eBay): today's count.
    Column("revisions", Integer, nullable=False, server_default="0"),
    Column("revisions_day", UtcDateTime),
    Column("last_revision_at", UtcDateTime),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("parked_reason", Text),  # a rejection: not retried until the row changes
    Index("ix_channel_skus_pending", "tenant_id", "channel", "pending_since"),
)

# Webhook deliveries, stored before they are acknowledged and processed afterwards.
inbox = Table(
    "inbox", metadata,
    Column("id", Serial, primary_key=True, autoincrement=True),
    Column("tenant_id", String(32), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("topic", String(100), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime),
    Column("claimed_until", UtcDateTime),
    Column("last_error", Text),
    Column("processed_at", UtcDateTime),
    Column("correlation_id", String(64)),
    Column("dismissed_at", UtcDateTime),  # status "dismissed": who gave up on it and why
    Column("dismissed_by", String(64)),
    Column("dismiss_reason", Text),
    UniqueConstraint("tenant_id", "channel", "delivery_id"),
    Index("ix_inbox_status_next_attempt_at", "status", "next_attempt_at"),
)

reconciliations = Table(
    "reconciliations", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(32), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("mode", String(10), nullable=False),  # dry_run | apply
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("compared", Integer, nullable=False),
    Column("drift_rate", Float, nullable=False),
    Column("applied", Integer, nullable=False),
    Column("report", JSON, nullable=False),  # mismatches, untracked, missing, status
    Column("error", Text),
    Index("ix_reconciliations_tenant_channel_started", "tenant_id", "channel", "started_at"),
)

# A tenant's own alert destinations (migration 0008); unset: the global settings.
tenant_settings = Table(
    "tenant_settings", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("alert_webhook_url", Text),  # Fernet token: a Slack webhook URL is a secret
    Column("digest_to", Text),  # comma-separated addresses
    Column("updated_at", UtcDateTime, nullable=False),
)

# One row per alert condition: active while it holds, so it is sent once when it starts
# and once when it clears.
alerts = Table(
    "alerts", metadata,
    Column("tenant_id", String(32), primary_key=True),
    Column("rule", String(40), primary_key=True),
    Column("subject", String(100), primary_key=True),
    Column("active", Boolean, nullable=False),
    Column("value", Float),
    Column("message", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("cleared_at", UtcDateTime),
)

# ---- catalog import (migration 0009) -------------------------------------------------------
# One row per uploaded file: its preview summary and how far applying it got.
import_jobs = Table(
    "import_jobs", metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("file_name", String(255), nullable=False),
    Column("file_hash", String(64), nullable=False),  # sha256: with the row, the once-key
    Column("format", String(8), nullable=False),
    Column("mode", String(10), nullable=False),  # partial | full
    Column("absent", String(10), nullable=False),  # full mode: report | zero | delete
    Column("skip_bad_rows", Boolean, nullable=False),
    Column("mapping", JSON, nullable=False),
    Column("counted_at", UtcDateTime, nullable=False),  # occurred_at of the file's counts
    # planning -> planned -> applying -> applied; failed (an apply: resumable) or
    # unreadable (the file broke mid-preview: never applied)
    Column("status", String(16), nullable=False),
    Column("rows_read", Integer, nullable=False),
    Column("rows_to_apply", Integer, nullable=False),
    Column("rows_applied", Integer, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("applied_at", UtcDateTime),
    Index("ix_import_jobs_tenant_file", "tenant_id", "file_hash"),
)

# The plan of every row (and, in full mode, of every SKU the file does not list), so that
# applying reads the plan back in pages and a resumed apply continues where it stopped.
import_rows = Table(
    "import_rows", metadata,
    Column("job_id", String(36), primary_key=True),
    Column("number", Integer, primary_key=True),  # the file's row; absent SKUs follow it
    Column("sku", String(64)),
    Column("status", String(16), nullable=False),
    Column("plan", JSON),
    Column("errors", JSON),
    Index("ix_import_rows_job_sku", "job_id", "sku"),
)

# Column mappings a tenant saved by name, reused by the next import of the same layout.
import_mappings = Table(
    "import_mappings", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("name", String(100), primary_key=True),
    Column("mapping", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
from stocksync.storage import (  # noqa: E402  (each module's tables join `metadata`)
    tables_connections,  # noqa: F401
    tables_content,  # noqa: F401
    tables_listings,  # noqa: F401
    tables_stream,  # noqa: F401
)

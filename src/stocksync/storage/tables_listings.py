"""Tables of AI listings (migration 0012): a tenant's word rules and prompt, drafts per
item and channel with their review, generation jobs, and attribute suggestions."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from stocksync.storage.tables import UtcDateTime, metadata

# One row per tenant: banned words, preferred terms, the prompt template (null: the
# seed's prompt), and channel title limits it overrides.
listing_settings = Table(
    "listing_settings", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("banned_words", JSON, nullable=False),
    Column("allowed_words", JSON, nullable=False),
    Column("preferred_terms", JSON, nullable=False),
    Column("template", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)

# The current draft of one item on one channel; generating again replaces it unless it
# was approved (an approved title stays until the merchant asks for a new draft).
listing_drafts = Table(
    "listing_drafts", metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False),
    Column("sku", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("channel_kind", String(32), nullable=False),
    Column("title", String(500), nullable=False),
    Column("title_limit", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),  # rules, llm_accepted, llm_repaired, fallback
    Column("reason", Text),
    Column("model_title", String(1000)),
    Column("components", JSON, nullable=False),
    Column("warnings", JSON, nullable=False),
    Column("aspects", JSON, nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending, approved, rejected
    Column("edited", Integer, nullable=False, server_default="0"),
    Column("publish_state", String(16)),  # published, stored (no content sync), failed
    Column("publish_error", Text),
    Column("decided_by", String(64)),
    Column("decided_at", UtcDateTime),
    Column("job_id", String(32)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("uq_listing_drafts_tenant_id_sku_channel", "tenant_id", "sku", "channel",
          unique=True),
    Index("ix_listing_drafts_tenant_id_status", "tenant_id", "status"),
)

# A whole-catalog generation: SKUs in order, `cursor` = the last SKU whose drafts are
# stored (written in the same transaction as those drafts), so a killed job resumes
# after it and never writes a draft twice.
listing_jobs = Table(
    "listing_jobs", metadata,
    Column("id", String(32), primary_key=True),
    Column("tenant_id", String(32), ForeignKey("tenants.id"), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # running, done, failed
    Column("channels", JSON, nullable=False),
    Column("use_model", Integer, nullable=False),
    Column("cursor", String(64)),
    Column("items_total", Integer, nullable=False),
    Column("items_done", Integer, nullable=False),
    Column("outcomes", JSON, nullable=False),  # outcome -> drafts
    Column("error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
)

# What images suggest about an item (colour shares, a vision model's material...):
# shown beside the merchant's data, never written over it.
listing_suggestions = Table(
    "listing_suggestions", metadata,
    Column("tenant_id", String(32), ForeignKey("tenants.id"), primary_key=True),
    Column("sku", String(64), primary_key=True),
    Column("attribute", String(64), primary_key=True),
    Column("source", String(100), primary_key=True),  # pillow, or vision:<model>
    Column("value", String(200), nullable=False),
    Column("confidence", Float, nullable=False),  # a share, or a model's 0..1
    Column("image_url", Text),
    Column("details", JSON),
    Column("created_at", UtcDateTime, nullable=False),
)

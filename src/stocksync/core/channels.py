"""A channel: one sales destination and its rules (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from stocksync.core.channel_rules import ChannelRules


class ChannelKind(StrEnum):
    SHOPIFY = "shopify"
    GENERIC_HTTP = "generic_http"
    POS = "pos"  # a till: it tells stocksync what it sold (webhooks), nothing is pushed
    WOOCOMMERCE = "woocommerce"
    SQUARE = "square"
    EBAY = "ebay"
    AMAZON = "amazon"


CODE_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


@dataclass(frozen=True, slots=True)
class Channel:
    tenant_id: str
    code: str
    kind: ChannelKind
    name: str
    rules: ChannelRules
    settings: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    cursor: int = 0
    updated_at: datetime | None = None
    webhook_id: str | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChannelStatus:
    cursor: int
    last_push_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failing_since: datetime | None
    pending: int
    parked: int
    oldest_unprojected_at: datetime | None
    oldest_unpushed_at: datetime | None
    orders_polled_at: datetime | None = None  # the last order poll that succeeded
    orders_error: str | None = None  # the last order poll's error, if it failed since
    orders_error_at: datetime | None = None

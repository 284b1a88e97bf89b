"""Per-channel content overrides: a SKU's title, description or item specifics as one
channel should show them (set by the API, an AI listing draft, a merchant)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from stocksync.app.content_ports import ContentStore
from stocksync.core.content import ChannelContent, check_override_fields
from stocksync.core.errors import InvalidInput, NotFound, UnknownSku

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync

CONTENT = "content"  # doorbell topic: content changed, the content projector wakes


def content_store(svc: Stocksync) -> ContentStore:
    """The service's content store (bootstrap gives a SQL service one)."""
    if svc.content_store is None:
        raise RuntimeError("content sync needs a store: this service was built without one")
    return svc.content_store


def set_channel_content(svc: Stocksync, tenant: str, sku: str, channel: str,
                        fields: Mapping[str, Any], source: str) -> ChannelContent:
    """Store an override of `fields` (title, description, aspects) for `sku` on `channel`
    and let content sync carry it there. A field left out keeps its override; a field set
    to None drops it (the item's own value applies again). Returns the stored override."""
    checked = check_override_fields(fields)
    if not source or len(source) > 100:
        raise InvalidInput("source must be 1 to 100 characters", field="source")
    store = content_store(svc)
    item = store.item(tenant, sku)
    if item is None:
        raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    if not store.channel_exists(tenant, channel):
        raise NotFound(f"no channel {channel}", channel=channel)
    current = store.override(tenant, channel, sku) or ChannelContent(sku=sku, channel=channel)
    stored = replace(current, **checked, updated_at=svc.clock(), source=source)
    store.put_override(tenant, stored)
    svc.bus.ring(CONTENT)
    return stored

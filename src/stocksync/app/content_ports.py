"""Ports of content sync (kept apart from app/ports.py, which the quantity path owns)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from stocksync.core.catalog import Item
from stocksync.core.content import ChannelContent, ContentSettings, FieldMark


@dataclass(frozen=True, slots=True)
class ContentState:
    """Per channel and SKU: what stocksync wants it to show and what it is known to have."""

    sku: str
    wanted: dict[str, FieldMark] = field(default_factory=dict)
    channel_has: dict[str, FieldMark] = field(default_factory=dict)
    pending_since: datetime | None = None
    due_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    refused: str | None = None
    pushed_at: datetime | None = None
    received_at: datetime | None = None


class ContentStore(Protocol):
    """Content settings, overrides and per-SKU content state of every tenant; each call is
    its own short transaction."""

    # settings
    def settings(self, tenant_id: str, channel: str) -> ContentSettings | None: ...

    def put_settings(self, tenant_id: str, channel: str, settings: ContentSettings,
                     now: datetime) -> None: ...

    def projected_until(self, tenant_id: str, channel: str) -> datetime | None: ...

    def syncing(self) -> list[tuple[str, str]]:
        """(tenant, channel) of every channel with content settings."""
        ...

    def advance(self, tenant_id: str, channel: str, until: datetime) -> None: ...

    def deliveries(self, tenant_id: str, channel: str, topic: str,
                   limit: int) -> list[tuple[int, bytes]]:
        """Stored webhook deliveries of `topic` content sync has not read: (id, body)."""
        ...

    def read_deliveries(self, tenant_id: str, channel: str, up_to: int) -> None: ...

    # overrides
    def override(self, tenant_id: str, channel: str, sku: str) -> ChannelContent | None: ...

    def overrides(self, tenant_id: str, channel: str,
                  skus: Iterable[str]) -> dict[str, ChannelContent]: ...

    def put_override(self, tenant_id: str, content: ChannelContent) -> None: ...

    def changed_overrides(self, tenant_id: str, channel: str,
                          after: tuple[datetime, str] | None,
                          limit: int) -> list[ChannelContent]: ...

    # the catalog as content sync reads it
    def item(self, tenant_id: str, sku: str) -> Item | None: ...

    def items(self, tenant_id: str, skus: Iterable[str]) -> dict[str, Item]: ...

    def changed_items(self, tenant_id: str, after: tuple[datetime, str] | None,
                      limit: int) -> list[Item]:
        """Items changed after (updated_at, sku), oldest change first."""
        ...

    def channel_exists(self, tenant_id: str, channel: str) -> bool: ...

    def lease(self, tenant_id: str, channel: str) -> tuple[str | None, datetime | None]:
        """Who runs the channel's quantity worker, and until when (its lease)."""
        ...

    # state per SKU
    def states(self, tenant_id: str, channel: str,
               skus: Iterable[str]) -> dict[str, ContentState]: ...

    def save_wanted(self, tenant_id: str, channel: str,
                    rows: Mapping[str, tuple[dict[str, FieldMark], datetime | None]],
                    now: datetime) -> None:
        """Per SKU: the wanted marks and when the row is due (None: nothing to send)."""
        ...

    def due(self, tenant_id: str, channel: str, now: datetime,
            limit: int) -> list[ContentState]: ...

    def acknowledge(self, tenant_id: str, channel: str,
                    sent: Mapping[str, dict[str, FieldMark]], now: datetime) -> None:
        """The channel took these field values: it has them now; the row is settled."""
        ...

    def failed(self, tenant_id: str, channel: str, skus: Iterable[str], error: str,
               retry_at: datetime) -> None: ...

    def refuse(self, tenant_id: str, channel: str, reasons: Mapping[str, str],
               now: datetime) -> None: ...

    def channel_edit(self, tenant_id: str, channel: str, sku: str,
                     marks: Mapping[str, FieldMark], now: datetime) -> None:
        """The channel has these values since the time in each mark (its own edit)."""
        ...

    def page(self, tenant_id: str, channel: str,
             skus: Iterable[str]) -> dict[str, ContentState]: ...

"""Channel edits into the catalog (content sync, direction `in` or `both`): a product edit
made in Shopify or WooCommerce is accepted field by field when that data type comes in
from the channel and the edit is newer than stocksync's value; an older one is ignored
(and stocksync's newer value goes back out). The channel's own echo of a push carries the
values it was sent, so it changes nothing and is never sent back."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from stocksync.app.content_ports import ContentStore
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item
from stocksync.core.channels import Channel
from stocksync.core.content import ContentSettings, FieldMark, content_fields, digest
from stocksync.ingest.content_edits import TOPICS, ChannelEdit, edits_of

PAGE = 200


class ContentIntake:
    def __init__(self, svc: Stocksync, store: ContentStore, channel: Channel) -> None:
        self.svc = svc
        self.store = store
        self.channel = channel
        self.topic = TOPICS.get(channel.kind.value)
        self.accepted = self.ignored = 0

    def take_in(self, settings: ContentSettings) -> int:
        """Read the channel's new product deliveries; how many were read."""
        if self.topic is None:
            return 0
        tenant, code = self.channel.tenant_id, self.channel.code
        rows = self.store.deliveries(tenant, code, self.topic, PAGE)
        for _, body in rows:
            for edit in edits_of(self.channel.kind.value, body):
                self.apply(settings, edit)
        if rows:
            self.store.read_deliveries(tenant, code, rows[-1][0])
        return len(rows)

    def apply(self, settings: ContentSettings, edit: ChannelEdit) -> None:
        tenant, code = self.channel.tenant_id, self.channel.code
        item = self.store.item(tenant, edit.sku)
        if item is None or item.is_deleted:
            return
        state = self.store.states(tenant, code, [edit.sku]).get(edit.sku)
        if state is not None and state.pushed_at is not None and edit.at <= state.pushed_at:
            # Stamped before stocksync's last write there landed: the channel shows that
            # write now (this is its echo, or an edit it overwrote). Platforms stamp to the
            # second, so an edit in the same second as a push counts as before it.
            self.ignored += 1
            return
        mine = content_fields(item, self.store.override(tenant, code, edit.sku))
        marks: dict[str, FieldMark] = {}
        take: dict[str, Any] = {}
        for name, raw in edit.fields.items():
            value = _with_currency(raw, item) if name == "price" else raw
            h = digest(value)
            known = state.channel_has.get(name) if state else None
            if known is not None and known.h == h:
                continue  # what the channel was sent (an echo) or already had
            marks[name] = FieldMark(h, edit.at)
            ours = state.wanted.get(name) if state else None
            ours_at = ours.at if ours is not None else item.updated_at
            if digest(mine[name]) == h:
                continue  # the catalog already says so
            if settings.for_field(name).receives and ours_at is not None and \
                    edit.at > ours_at:
                take[name] = value
        if take:
            self._accept(tenant, edit.sku, take)
            self.accepted += 1
        elif marks:
            self.ignored += 1
        if marks:
            self.store.channel_edit(tenant, code, edit.sku, marks, self.svc.clock())

    def _accept(self, tenant: str, sku: str, fields: dict[str, Any]) -> None:
        now = self.svc.clock()
        with self.svc.uow(tenant) as uow:
            item = uow.catalog.item(sku)
            if item is None:
                return
            changes: dict[str, Any] = {}
            if "title" in fields:
                changes["title"] = fields["title"]
            if "description" in fields:
                changes["description"] = fields["description"]
            if "price" in fields:
                price = fields["price"] or {}
                changes["price"] = _decimal(price.get("amount"))
                changes["compare_at_price"] = _decimal(price.get("compare_at"))
            uow.catalog.put_item(replace(item, **changes), now)
            uow.commit()


def _with_currency(raw: Any, item: Item) -> Any:
    if not raw or raw.get("amount") is None:
        return None
    return {"amount": raw["amount"], "compare_at": raw.get("compare_at"),
            "currency": item.currency}


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


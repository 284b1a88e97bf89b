"""Availability reads for agents and storefronts: the ledger's numbers per SKU and
location, and what each channel shows for them, each with its freshness.

One read transaction answers the whole request, so every SKU in it is at the same log
position (`as_of_sequence`: the answer is at least as fresh as that event).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stocksync.agents.freshness import Freshness, channel_fresh, ledger_freshness
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item
from stocksync.core.channel_rules import SkuState, channel_quantity
from stocksync.core.channels import Channel
from stocksync.core.errors import InvalidInput
from stocksync.core.ledger import Level
from stocksync.storage.channels import SqlChannels
from stocksync.storage.tenants import log_head
from stocksync.storage.uow import SqlUnitOfWork

MAX_SKUS = 200


@dataclass(frozen=True, slots=True)
class SkuAvailability:
    item: Item
    levels: list[Level]
    channels: list[dict[str, Any]] | None

    @property
    def available(self) -> int:
        # A location counted below what is reserved offers nothing, and takes nothing from
        # the others (as channel_quantity does).
        return 0 if self.item.is_deleted else sum(max(lv.available, 0) for lv in self.levels)

    def as_json(self) -> dict[str, Any]:
        item = self.item
        return {
            "sku": item.sku, "title": item.title, "deleted": item.is_deleted,
            "price": str(item.price) if item.price is not None else None,
            "currency": item.currency, "available": self.available,
            "on_hand": sum(lv.on_hand for lv in self.levels),
            "reserved": sum(lv.reserved for lv in self.levels),
            "locations": [{"location": lv.location, "available": max(lv.available, 0),
                           "on_hand": lv.on_hand, "reserved": lv.reserved}
                          for lv in self.levels],
            **({"channels": self.channels} if self.channels is not None else {}),
        }


@dataclass(frozen=True, slots=True)
class Availability:
    freshness: Freshness
    threshold_seconds: float
    items: list[SkuAvailability]
    unknown: list[str]

    def as_json(self) -> dict[str, Any]:
        return {**self.freshness.as_json(), "fresh_threshold_seconds": self.threshold_seconds,
                "items": [i.as_json() for i in self.items], "unknown": self.unknown}


def read_availability(svc: Stocksync, tenant_id: str, skus: list[str], *,
                      location: str | None = None, channels: bool = True) -> Availability:
    """Live availability of `skus` (at `location` only, if given), with what each channel
    shows and how far behind it is when `channels` is set."""
    wanted = list(dict.fromkeys(skus))
    if not 1 <= len(wanted) <= MAX_SKUS:
        raise InvalidInput(f"give 1 to {MAX_SKUS} SKUs", field="skus")
    threshold = svc.settings.agent_fresh_seconds
    now = svc.clock()
    with svc.uow(tenant_id, write=False) as uow:
        if location is not None and uow.catalog.location(location) is None:
            raise InvalidInput(f"no location with code {location}", field="location",
                               location=location)
        head = log_head(uow.conn, tenant_id)
        found = {i.sku: i for i in uow.catalog.items_by_sku(wanted)}
        levels: dict[str, list[Level]] = {}
        for level in uow.ledger.levels(list(found), now, location=location):
            levels.setdefault(level.sku, []).append(level)
        views = _channel_views(uow, tenant_id, found, levels, now, threshold) \
            if channels else None
    freshness = ledger_freshness(now, head, svc.clock(), threshold)
    items = [SkuAvailability(found[s], levels.get(s, []),
                             views.get(s, []) if views is not None else None)
             for s in wanted if s in found]
    return Availability(freshness, threshold, items, [s for s in wanted if s not in found])


def _channel_views(uow: SqlUnitOfWork, tenant_id: str, items: dict[str, Item],
                   levels: dict[str, list[Level]], now: datetime,
                   threshold: float) -> dict[str, list[dict[str, Any]]]:
    repo = SqlChannels(uow.conn, tenant_id)
    views: dict[str, list[dict[str, Any]]] = {sku: [] for sku in items}
    for channel in repo.list():
        lag = repo.status(channel.code, channel.cursor, now).lag_seconds(now)
        targets = repo.targets(channel.code, list(items))
        for sku, item in items.items():
            views[sku].append(_channel_view(channel, item, levels.get(sku, []),
                                            targets.get(sku), lag, threshold))
    return views


def _channel_view(channel: Channel, item: Item, levels: list[Level], target: Any,
                  lag: float, threshold: float) -> dict[str, Any]:
    state = SkuState(item.sku, {lv.location: lv.available for lv in levels}, item.is_deleted)
    should = channel_quantity(channel.rules, state)
    shows = target.pushed if target is not None else None
    return {"channel": channel.code, "kind": channel.kind.value, "enabled": channel.enabled,
            "shows": shows, "should_show": should,
            "in_sync": shows == should,
            "pending_since": target.pending_since.isoformat()
            if target is not None and target.pending_since else None,
            "lag_seconds": round(lag, 3),
            "fresh": channel.enabled and channel_fresh(0.0, lag, threshold)}


def search_items(svc: Stocksync, tenant_id: str, query: str | None, limit: int,
                 after: str | None = None) -> dict[str, Any]:
    """Items whose SKU or title contains `query`, with their availability (no channels)."""
    if not 1 <= limit <= MAX_SKUS:
        raise InvalidInput(f"limit must be 1 to {MAX_SKUS}", field="limit")
    with svc.uow(tenant_id, write=False) as uow:
        found = uow.catalog.items(after=after, limit=limit, query=query or None)
    if not found:
        now = svc.clock()
        with svc.engine.connect() as conn:
            head = log_head(conn, tenant_id)
        empty = ledger_freshness(now, head, now, svc.settings.agent_fresh_seconds)
        return {**empty.as_json(), "items": [], "next_after": None}
    answer = read_availability(svc, tenant_id, [i.sku for i in found], channels=False)
    return {**answer.as_json(), "next_after": found[-1].sku if len(found) == limit else None}

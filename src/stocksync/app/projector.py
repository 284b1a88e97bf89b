"""The projector: follows the log from a channel's cursor and records what the channel
should show for every SKU that changed, computed from the *current* ledger state.

Cursor and wanted values are written in one transaction, so a crash replays a page rather
than skipping one. Many events on one SKU coalesce into one wanted value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stocksync.app.ports import UnitOfWork
from stocksync.app.records import Wanted
from stocksync.channels.registry import connector_class
from stocksync.core.channel_rules import (
    SkuState,
    channel_quantity,
    leg_quantities,
    location_legs,
    sku_included,
)
from stocksync.core.channels import Channel
from stocksync.core.events import EventType

PAGE = 2000
_ITEM_EVENTS = {EventType.ITEM_DELETED.value, EventType.ITEM_RESTORED.value}


@dataclass(frozen=True, slots=True)
class Projected:
    events: int
    changed: int  # SKUs whose wanted value changed
    cursor: int


def current_values(uow: UnitOfWork, channel: Channel, skus: list[str],
                   now: datetime) -> dict[str, tuple[str, int]]:
    """What `channel` should show for `skus` by the ledger's current state: per target key
    (the SKU, or `SKU@<store id>` per mapped store location), its SKU and value."""
    legs = location_legs(channel.settings)
    available: dict[str, dict[str, int]] = {sku: {} for sku in skus}
    for level in uow.ledger.levels(skus, now):
        available[level.sku][level.location] = level.available
    deleted = uow.catalog.deleted_skus(skus)
    values: dict[str, tuple[str, int]] = {}
    for sku in skus:
        state = SkuState(sku, available[sku], sku in deleted)
        per_key = leg_quantities(channel.rules, legs, state) if legs else {
            sku: channel_quantity(channel.rules, state)}
        values.update({key: (sku, value) for key, value in per_key.items()})
    return values


def project(uow: UnitOfWork, channel: Channel, now: datetime,
            page: int = PAGE) -> Projected:
    """Project one page of the log for `channel` (the caller commits)."""
    repo = uow.channels
    events = uow.log.page(channel.cursor, page)
    if not events:
        return Projected(0, 0, channel.cursor)
    legs = location_legs(channel.settings)
    locations = set(channel.rules.locations).union(*legs.values())
    touched: dict[str, datetime] = {}  # sku -> recorded_at of its oldest event in the page
    caused_by: dict[str, str | None] = {}  # sku -> correlation id of its newest event
    for e in events:
        if e.sku is None:
            continue
        if e.type in _ITEM_EVENTS or (e.location in locations and e.version is not None):
            touched.setdefault(e.sku, e.recorded_at)
            caused_by[e.sku] = e.correlation_id
    cursor = events[-1].sequence or channel.cursor
    changed = 0
    if touched:
        values = current_values(uow, channel, list(touched), now)
        existing = repo.targets(channel.code, list(values))
        wanted: list[Wanted] = []
        for key, (sku, value) in values.items():
            target = existing.get(key)
            if not sku_included(channel.rules, sku) and target is None:
                continue  # never listed here, and filtered out: nothing to tell the channel
            if target is not None and target.wanted == value:
                continue
            wanted.append(Wanted(key, value, cursor, touched[sku], caused_by[sku]))
        repo.want_many(channel.code, wanted, existing,
                       reassert=not connector_class(channel.kind).compare_and_set)
        changed = len(wanted)
    repo.advance(channel.code, cursor)
    return Projected(len(events), changed, cursor)

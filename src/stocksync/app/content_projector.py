"""The content projector: follows catalog changes (items and this channel's overrides, by
change time) and records, per SKU, the content fields the channel should show with the
time each value was set at its source. A SKU becomes due when a field differs from what
the channel is known to have and stocksync's value is the newer one (smart sync).

Like the quantity projector it coalesces: many edits of one SKU leave one wanted state,
and the pusher sends the values current when it sends. The catalog has no change log of
its own, so the projector reads it by `updated_at` from its stored position minus an
overlap: a transaction that committed late with an earlier timestamp is still seen, and a
re-read SKU whose fields did not change writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from stocksync.app.content_ports import ContentState, ContentStore
from stocksync.core.catalog import Item
from stocksync.core.content import (
    OVERRIDE_FIELDS,
    PUBLISHED,
    ChannelContent,
    ContentSettings,
    FieldMark,
    content_fields,
    digest,
    to_send,
)

PAGE = 1000
OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True, slots=True)
class ContentProjected:
    read: int  # items and overrides read
    changed: int  # SKUs whose wanted content changed


def wanted_marks(item: Item, override: ChannelContent | None, names: Collection[str],
                 before: dict[str, FieldMark]) -> dict[str, FieldMark]:
    """Field -> (hash, source time) for `names`; an unchanged value keeps its old time."""
    values = content_fields(item, override)
    out: dict[str, FieldMark] = {}
    for name in names:
        h = digest(values[name])
        old = before.get(name)
        if old is not None and old.h == h:
            out[name] = old
            continue
        out[name] = FieldMark(h, _source_time(item, override, name, old))
    return out


def _source_time(item: Item, override: ChannelContent | None, name: str,
                 old: FieldMark | None) -> datetime:
    """When a changed value was set at its source: the override's time while it applies;
    the item's otherwise, except when the value changed because an override was dropped.
    Then the drop is the change: the item's own (older) time would lose against the
    override the channel still shows, and the item's value would never go back out."""
    assert item.updated_at is not None
    if override is None or name not in OVERRIDE_FIELDS or override.updated_at is None:
        return item.updated_at
    if getattr(override, name) is not None:
        return override.updated_at
    dropped = old is not None and old.at > item.updated_at  # it came from an override
    return max(override.updated_at, item.updated_at) if dropped else item.updated_at


def due_at(settings: ContentSettings, wanted: dict[str, FieldMark],
           has: dict[str, FieldMark]) -> datetime | None:
    """When the SKU should next be pushed: the earliest time a differing field may leave
    under its data type's timing (at once, or the cron expression's next fire)."""
    times = [settings.for_field(name).sendable_at(wanted[name].at)
             for name in to_send(wanted, has)]
    return min(times) if times else None


def sent_fields(settings: ContentSettings, supported: Collection[str]) -> list[str]:
    return sorted(name for name in supported if settings.for_field(name).sends)


class ContentProjector:
    def __init__(self, store: ContentStore, tenant_id: str, channel: str,
                 supported: Collection[str]) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.channel = channel
        self.supported = frozenset(supported)

    def project(self, settings: ContentSettings, now: datetime) -> ContentProjected:
        """Project everything changed since the stored position (minus the overlap)."""
        until = self.store.projected_until(self.tenant_id, self.channel)
        start = (until - OVERLAP, "") if until is not None else None
        names = sent_fields(settings, self.supported)
        read = changed = 0
        newest = until
        for page in _pages(lambda after: self.store.changed_items(
                self.tenant_id, after, PAGE), start):
            read += len(page)
            changed += self._project_skus(settings, names, {i.sku: i for i in page}, now,
                                          until)
            newest = _newest(newest, page)
        for overrides in _pages(lambda after: self.store.changed_overrides(
                self.tenant_id, self.channel, after, PAGE), start):
            read += len(overrides)  # their SKUs, with the items as they are now
            found = self.store.items(self.tenant_id, [o.sku for o in overrides])
            changed += self._project_skus(settings, names, found, now, None)
            newest = _newest(newest, overrides)
        if newest is not None and newest != until:
            self.store.advance(self.tenant_id, self.channel, newest)
        return ContentProjected(read, changed)

    def _project_skus(self, settings: ContentSettings, names: list[str],
                      items: dict[str, Item], now: datetime,
                      since: datetime | None) -> int:
        """`since`: the previous run's position; an item changed after it is new news, and
        a refusal of its SKU is tried again even when no field sent changed (what fixes
        it may be outside them: the brand or barcode a new listing needs)."""
        # A deleted item is projected for its listing's life only (ended, where the channel
        # manages listings): its other fields keep what they were until it is restored.
        gone = [n for n in names if n == PUBLISHED]
        live = {sku: item for sku, item in items.items() if gone or not item.is_deleted}
        if not live:
            return 0
        states = self.store.states(self.tenant_id, self.channel, live)
        overrides = self.store.overrides(self.tenant_id, self.channel, live)
        rows: dict[str, tuple[dict[str, FieldMark], datetime | None]] = {}
        for sku, item in live.items():
            state = states.get(sku) or ContentState(sku)
            wanted = wanted_marks(item, overrides.get(sku), names, state.wanted)
            if item.is_deleted:
                wanted = state.wanted | {n: wanted[n] for n in gone}
            due = due_at(settings, wanted, state.channel_has)
            fixed = state.refused is not None and since is not None and \
                item.updated_at is not None and item.updated_at > since
            if wanted == state.wanted and (due is None) == (state.due_at is None) and \
                    not fixed:
                continue  # nothing new for this SKU (a re-read in the overlap, a refusal)
            rows[sku] = (wanted, due)
        self.store.save_wanted(self.tenant_id, self.channel, rows, now)
        return len(rows)


C = TypeVar("C", Item, ChannelContent)


def _pages(fetch: Callable[[tuple[datetime, str] | None], list[C]],
           after: tuple[datetime, str] | None) -> Iterator[list[C]]:
    """Pages of changes oldest first, each after the last one's (time, SKU)."""
    while True:
        page = fetch(after)
        if not page:
            return
        yield page
        last = page[-1]
        assert last.updated_at is not None
        after = (last.updated_at, last.sku)
        if len(page) < PAGE:
            return


def _newest(newest: datetime | None, page: list[C]) -> datetime:
    at = page[-1].updated_at
    assert at is not None
    return max(newest or at, at)

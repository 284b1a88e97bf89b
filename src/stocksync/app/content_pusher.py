"""The content pusher: sends a channel the content fields it is due, one batch of SKUs at a
time, through the platform's content writer (which paces with the connector's own pacer),
and records what the channel took, what it refused and when to try again."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import httpx
import structlog

from stocksync.app.content_ports import ContentState, ContentStore
from stocksync.channels.base import ChannelError, RateLimited, Rejected
from stocksync.channels.content_base import (
    ContentReport,
    ContentWrite,
    ContentWriter,
    CreatesListings,
)
from stocksync.core.clock import Clock
from stocksync.core.content import (
    PUBLISHED,
    ContentSettings,
    FieldMark,
    content_fields,
    digest,
    to_send,
)

log = structlog.get_logger()
BACKOFF_BASE = 0.2
BACKOFF_CAP = 60.0


def retry_delay(attempts: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter, like the quantity pusher's."""
    return rng.uniform(BACKOFF_BASE, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(attempts, 20)))


@dataclass(frozen=True, slots=True)
class ContentPushed:
    sent: int  # SKUs sent
    written: int  # SKUs the channel took
    rejected: int
    failed: int  # SKUs to retry later
    calls: int


class ContentPusher:
    def __init__(self, store: ContentStore, tenant_id: str, channel: str,
                 writer: ContentWriter, clock: Clock, currency: str | None = None,
                 on_created: Callable[[dict[str, str]], None] | None = None) -> None:
        self.store = store
        self.on_created = on_created  # new listings' ids: stored, quantities pushed next
        self.currency = currency  # the channel's selling currency, when it has one
        self.tenant_id = tenant_id
        self.channel = channel
        self.writer = writer
        self.clock = clock
        self.rng = random.Random()
        self.calls = 0

    def _writes(self, settings: ContentSettings, due: Sequence[ContentState],
                now: datetime) -> tuple[list[ContentWrite], dict[str, dict[str, FieldMark]],
                                        dict[str, str]]:
        """What to send per SKU, the marks it will leave the channel with, and the SKUs
        that cannot be sent (deleted items)."""
        items = self.store.items(self.tenant_id, [s.sku for s in due])
        overrides = self.store.overrides(self.tenant_id, self.channel, [s.sku for s in due])
        writes: list[ContentWrite] = []
        marks: dict[str, dict[str, FieldMark]] = {}
        skipped: dict[str, str] = {}
        for state in due:
            item = items.get(state.sku)
            if item is None or (item.is_deleted and PUBLISHED not in self.writer.fields):
                skipped[state.sku] = "the item is deleted"
                continue
            values = content_fields(item, overrides.get(state.sku))
            price = values.get("price") or {}
            if self.currency and price.get("currency") and price["currency"] != self.currency \
                    and "price" in state.wanted:
                skipped[state.sku] = (f"the item is priced in {price['currency']}, the "
                                      f"channel sells in {self.currency}")
                continue
            names = [n for n in to_send(state.wanted, state.channel_has)
                     if n in self.writer.fields and (n == PUBLISHED or not item.is_deleted)
                     and settings.for_field(n).sendable_at(state.wanted[n].at) <= now]
            if not names:
                continue
            sent: dict[str, FieldMark] = {}
            for name in names:
                mark = state.wanted[name]
                h = digest(values[name])
                # Sent as it is now (coalesced): a value changed since the projection
                # carries the item's time; the projector will find it equal then.
                assert item.updated_at is not None
                sent[name] = mark if h == mark.h else FieldMark(h, max(mark.at,
                                                                        item.updated_at))
            writes.append(ContentWrite(state.sku, {n: values[n] for n in names}, values))
            marks[state.sku] = sent
        return writes, marks, skipped

    async def push_once(self, settings: ContentSettings) -> ContentPushed:
        now = self.clock()
        due = await anyio.to_thread.run_sync(
            self.store.due, self.tenant_id, self.channel, now, self.writer.max_batch)
        if not due:
            return ContentPushed(0, 0, 0, 0, 0)
        writes, marks, skipped = await anyio.to_thread.run_sync(
            self._writes, settings, due, now)
        if skipped:
            await anyio.to_thread.run_sync(self.store.refuse, self.tenant_id, self.channel,
                                           skipped, now)
        if not writes:
            # Due rows with nothing sendable yet (a schedule not reached): settle their
            # due time to the next one so they are not read again at once.
            await anyio.to_thread.run_sync(self._reschedule, settings, due, now)
            return ContentPushed(0, 0, len(skipped), 0, 0)
        try:
            report = await self.writer.write(writes)
            if report.missing:
                await self._create_missing(settings, writes, report)
            if report.created and self.on_created is not None:
                # New listings, and ended ones listed again (eBay publishOffer, Amazon
                # putListingsItem): their ids are stored and parked quantities retried.
                await anyio.to_thread.run_sync(self.on_created, dict(report.created))
        except Rejected as exc:  # the platform refused the request as a whole
            reason = f"{exc}: {exc.details}" if exc.details else str(exc)
            await anyio.to_thread.run_sync(self.store.refuse, self.tenant_id, self.channel,
                                           {w.sku: reason for w in writes}, now)
            return ContentPushed(len(writes), 0, len(writes), 0, 0)
        except (ChannelError, httpx.HTTPError) as exc:
            attempts = max(s.attempts for s in due)
            delay = retry_delay(attempts + 1, self.rng)
            if isinstance(exc, RateLimited):
                delay = max(delay, exc.retry_after)
            error = f"{type(exc).__name__}: {exc}"
            log.warning("content_push_failed", tenant=self.tenant_id, channel=self.channel,
                        error=error, retry_in=round(delay, 3))
            await anyio.to_thread.run_sync(
                self.store.failed, self.tenant_id, self.channel, [w.sku for w in writes],
                error, now + timedelta(seconds=delay))
            return ContentPushed(len(writes), 0, 0, len(writes), 0)
        return await self._record(report, writes, marks, now)

    async def _create_missing(self, settings: ContentSettings, writes: list[ContentWrite],
                              report: ContentReport) -> None:
        """SKUs the platform does not list: published with every field it takes when the
        channel has `create_missing` and the platform supports it, else refused."""
        todo = [w for w in writes if w.sku in report.missing]
        report.missing.clear()
        for w in [w for w in todo if w.current.get(PUBLISHED) is False]:
            todo.remove(w)  # a deleted item the channel does not list: nothing to end
            report.wrote(w.sku, [PUBLISHED])
        if not (settings.create_missing and isinstance(self.writer, CreatesListings)):
            why = ("switch on create_missing to publish it" if isinstance(
                self.writer, CreatesListings) else "stocksync does not create listings here")
            for w in todo:
                report.rejected[w.sku] = f"the channel does not list this SKU ({why})"
            return
        made = await self.writer.create([ContentWrite(
            w.sku, {n: v for n, v in w.current.items() if n in self.writer.fields}, w.current)
            for w in todo])
        report.calls += made.calls
        report.rejected.update(made.rejected)
        report.created.update(made.created)
        for sku, names in made.written.items():
            report.wrote(sku, names)

    async def _record(self, report: ContentReport, writes: list[ContentWrite],
                      marks: dict[str, dict[str, FieldMark]], now: datetime) -> ContentPushed:
        self.calls += report.calls
        took = {sku: {n: m for n, m in marks[sku].items() if n in names}
                for sku, names in report.written.items() if sku in marks}
        await anyio.to_thread.run_sync(self.store.acknowledge, self.tenant_id, self.channel,
                                       took, now)
        if report.rejected:
            await anyio.to_thread.run_sync(self.store.refuse, self.tenant_id, self.channel,
                                           report.rejected, now)
        missing = [w.sku for w in writes
                   if w.sku not in report.written and w.sku not in report.rejected]
        if missing:  # neither taken nor refused: try again later
            await anyio.to_thread.run_sync(
                self.store.failed, self.tenant_id, self.channel, missing,
                "the channel did not confirm the write",
                now + timedelta(seconds=retry_delay(1, self.rng)))
        return ContentPushed(len(writes), len(took), len(report.rejected), len(missing),
                             report.calls)

    def _reschedule(self, settings: ContentSettings, due: Sequence[ContentState],
                    now: datetime) -> None:
        rows: dict[str, tuple[dict[str, FieldMark], datetime | None]] = {}
        for state in due:
            times = [settings.for_field(n).sendable_at(state.wanted[n].at)
                     for n in to_send(state.wanted, state.channel_has)
                     if n in self.writer.fields]
            later = [t for t in times if t > now]
            rows[state.sku] = (state.wanted, min(later) if later else None)
        self.store.save_wanted(self.tenant_id, self.channel, rows, now)

"""The pusher: sends a channel the wanted values it has not acknowledged, as absolute sets,
in the connector's batch size, and records what the channel acknowledged."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

import anyio
import structlog

from stocksync import metrics
from stocksync.app.channel_changes import DeadLetter, Source, settle_level
from stocksync.app.ports import Channels
from stocksync.app.projector import current_values
from stocksync.app.records import SkuTarget
from stocksync.app.service import Stocksync
from stocksync.channels.base import ChannelConnector, DiscoversMapping, QuantitySet, Rejected
from stocksync.channels.ebay import REVISION_CAP_REASON
from stocksync.channels.pacing import Pacer
from stocksync.channels.registry import connector_class
from stocksync.core.channel_rules import split_key
from stocksync.core.channels import Channel
from stocksync.core.revisions import RevisionBudget, next_day, used_today
from stocksync.core.revisions import decide as decide_revision

log = structlog.get_logger()
# A lost compare-and-set whose value the channel keeps showing this many rounds (each a
# grace apart) without an order explaining it is settled as a change made in the channel.
SETTLE_AFTER_ROUNDS = 3
# A lost compare-and-set's reading older than this (seconds, beyond the grace) is not
# settled: the channel may have moved since, so the next round reads it again.
CROSSED_FRESH_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Crossed:
    """A lost compare-and-set: the value the channel showed instead of the one expected."""

    value: int
    as_of: datetime  # every change the channel made up to then is in `value`
    rounds: int  # consecutive lost sets that read this same value
    read_when: float  # time.monotonic() of the last read
    # The row's pending_since then: a row that came in sync since (and is pending again
    # now) has a new story, which this reading is not part of.
    episode: datetime | None
    # The value stocksync expected there when it was read: once the channel's own sales
    # counted since have moved it, the reading says nothing about now.
    expected: int | None = None


@dataclass(frozen=True, slots=True)
class Pushed:
    sent: int
    acknowledged: int
    rejected: int


class Pusher:
    def __init__(self, svc: Stocksync, channel: Channel, connector: ChannelConnector) -> None:
        self.svc = svc
        self.channel = channel
        self.connector = connector
        self.labels = (channel.tenant_id, channel.code)
        facts = connector_class(channel.kind)
        # Only a channel that reports changes back (webhooks) needs in-flight values noted.
        self.track_sending = channel.webhook_id is not None and facts.echoes_pushes
        # Listings with a daily revision cap (eBay): drops at once, increases spaced out.
        self.revisions = RevisionBudget() if facts.revision_capped else None
        # Without compare-and-set, a channel that sold since our last set is set again.
        self.reassert = not facts.compare_and_set
        # Lost compare-and-sets by SKU. Settled after the grace, so the order that explains
        # the change is counted first; forgotten once a set lands or the row is in sync.
        self.crossed: dict[str, Crossed] = {}
        rate = channel.settings.get("max_requests_per_second")
        # Connectors that pace their own HTTP calls get the rate themselves (`self_paced`).
        self.pacer = Pacer(float(rate), sleep=anyio.sleep) if rate and \
            not facts.self_paced else None

    def _repo_call(self, fn: Callable[[Channels], object], write: bool) -> object:
        with self.svc.uow(self.channel.tenant_id, write=write) as uow:
            result = fn(uow.channels)
            if write:
                uow.commit()
            return result

    async def _db(self, fn: Callable[[Channels], object], write: bool = True) -> object:
        return await anyio.to_thread.run_sync(self._repo_call, fn, write)

    async def push_once(self) -> Pushed:
        now = self.svc.clock()
        due: list[SkuTarget] = await self._db(  # type: ignore[assignment]
            lambda repo: repo.due(self.channel.code, now, self.connector.max_batch),
            write=False)
        due = [t for t in due if t.wanted is not None]
        due = await self._within_ledger(due, now)
        due = await self._settle(due, now)
        if self.revisions is not None:
            due = await self._within_budget(due, now)
        if not due:
            return Pushed(0, 0, 0)
        if self.track_sending:
            await self._db(lambda repo: repo.mark_sending(
                self.channel.code, {t.sku: t.wanted or 0 for t in due},
                {t.sku: t.sent_unconfirmed(t.wanted or 0) for t in due}))
        await self._ensure_mapping(due)
        changes = [QuantitySet(t.sku, t.wanted or 0, known=t.pushed, as_of=t.channel_changed_at)
                   for t in due]
        if self.pacer is not None:
            await self.pacer.take()
        started = time.perf_counter()
        sent_at = self.svc.clock()
        try:
            report = await self.connector.set_quantities(changes)
        except Rejected as exc:
            self._observe_call(started, "rejected", type(exc).__name__)
            reason = str(exc)
            await self._db(lambda repo: [repo.park(self.channel.code, t.sku, reason)
                                         for t in due])
            raise
        except Exception as exc:
            self._observe_call(started, "error", type(exc).__name__)
            raise
        self._observe_call(started, "ok", None)
        acked_at = self.svc.clock()
        since = {t.sku: t.pending_since for t in due}
        known = {t.sku: t.pushed for t in due}

        wanted_then = {t.sku: t.wanted for t in due}
        moves_then = {t.sku: t.channel_moves for t in due}
        grace = timedelta(seconds=self.svc.settings.level_notice_grace_seconds)
        read_now = time.monotonic()
        for sku in report.acknowledged:
            self.crossed.pop(sku, None)  # a set landed: an earlier reading is history
        for sku, value in report.changed.items():
            last = self.crossed.get(sku)
            rounds = last.rounds + 1 if last is not None and last.value == value else 1
            as_of = report.changed_as_of.get(sku) or report.changed_read_at or sent_at
            self.crossed[sku] = Crossed(value, as_of, rounds, read_now, since.get(sku),
                                        known.get(sku))
        later = {sku: acked_at + grace for sku in report.changed} | {
            sku: acked_at + timedelta(seconds=max(wait, 0.1))
            for sku, wait in report.pending.items()}

        def record(repo: Channels) -> None:
            in_sync = repo.acknowledge_many(self.channel.code, report.acknowledged, acked_at,
                                            wanted_then, moves_then, self.reassert)
            repo.hold_until(self.channel.code, later)
            for sku in in_sync:
                started_at = since.get(sku)
                if started_at is not None:
                    metrics.PROPAGATION.labels(*self.labels).observe(
                        max((acked_at - started_at).total_seconds(), 0.0))
            capped = {sku: next_day(acked_at) for sku, reason in report.rejected.items()
                      if reason == REVISION_CAP_REASON}
            repo.hold_until(self.channel.code, capped)  # tomorrow, not parked for good
            for sku, reason in report.rejected.items():
                if sku not in capped:
                    repo.park(self.channel.code, sku, reason)
            if self.revisions is not None:
                for t in due:
                    if t.sku in report.acknowledged:
                        repo.count_revision(self.channel.code, t.sku, acked_at,
                                            used_today(t.revisions, t.revisions_day, acked_at))
            repo.record_push(self.channel.code, acked_at, None)

        await self._db(record)
        metrics.PUSHES.labels(*self.labels).inc(len(report.acknowledged))
        log.info("channel_pushed", tenant=self.channel.tenant_id, channel=self.channel.code,
                 acknowledged=len(report.acknowledged), rejected=len(report.rejected),
                 correlation_ids=",".join(sorted({t.correlation_id for t in due
                                                  if t.correlation_id})))
        if report.changed:
            log.info("channel_changed_under_push", tenant=self.channel.tenant_id,
                     channel=self.channel.code, skus=",".join(sorted(report.changed)))
        return Pushed(len(changes), len(report.acknowledged), len(report.rejected))

    async def _within_ledger(self, due: list[SkuTarget], now: datetime) -> list[SkuTarget]:
        """A rise is pushed only as far as the ledger goes now. A wanted value is computed
        by the projector from the log, so a sale committed since (through the API, at the
        till) is not in it yet: pushed as it is, it would put units on sale that another
        channel has just sold, until the next round. The ledger's levels are written in
        the sale's own transaction, so they already know."""
        rising = {t.sku for t in due
                  if t.pushed is not None and t.wanted is not None and t.wanted > t.pushed}
        if not rising:
            return due
        skus = sorted({split_key(key)[0] for key in rising})

        def read() -> dict[str, tuple[str, int]]:
            with self.svc.uow(self.channel.tenant_id, write=False) as uow:
                return current_values(uow, self.channel, skus, now)

        live = await anyio.to_thread.run_sync(read)
        capped = []
        for t in due:
            now_value = live.get(t.sku)
            if t.sku in rising and now_value is not None and now_value[1] < (t.wanted or 0):
                t = replace(t, wanted=now_value[1])
            capped.append(t)
        return capped

    async def _settle(self, due: list[SkuTarget], now: datetime) -> list[SkuTarget]:
        """Rows already in sync are cleared without a call; rows whose compare-and-set was
        lost are settled (their orders had the grace to arrive) and read again."""
        done = [t for t in due if t.in_sync(t.wanted, self.reassert)]
        for t in done:
            self.crossed.pop(t.sku, None)
        if done:
            await self._db(lambda repo: repo.acknowledge_many(
                self.channel.code, {t.sku: t.pushed or 0 for t in done}, now,
                {t.sku: t.wanted for t in done}, {t.sku: t.channel_moves for t in done},
                self.reassert))
        due = [t for t in due if t not in done]
        rows = {t.sku: t for t in due}
        crossed = [sku for sku in rows if sku in self.crossed]
        grace = self.svc.settings.level_notice_grace_seconds
        for sku in crossed:
            lost = self.crossed[sku]
            value, seen_at = lost.value, lost.as_of
            if value == rows[sku].pushed:
                del self.crossed[sku]  # an order counted meanwhile explains the change
                continue
            if lost.episode != rows[sku].pending_since or lost.expected != rows[sku].pushed \
                    or time.monotonic() - lost.read_when > grace + CROSSED_FRESH_SECONDS:
                # The row moved on (in sync since, or an order counted since the read), or
                # it was read too long ago: compare-and-set again, which reads it anew.
                del self.crossed[sku]
                continue
            if lost.rounds < SETTLE_AFTER_ROUNDS:
                continue  # compare-and-set again: its order may still come
            del self.crossed[sku]
            source = Source(f"crossed:{uuid.uuid4().hex[:12]}")
            try:
                outcome = await anyio.to_thread.run_sync(
                    partial(settle_level, take_ours=True), self.svc, self.channel, sku,
                    value, seen_at, source)
            except DeadLetter as exc:
                outcome = f"refused: {exc}"
            log.info("crossed_push_settled", channel=self.channel.code, sku=sku,
                     value=value, outcome=outcome)
        if not crossed:
            return due
        fresh: dict[str, SkuTarget] = await self._db(  # type: ignore[assignment]
            lambda repo: repo.targets(self.channel.code, [t.sku for t in due]), write=False)
        # Read again as stored: capped at the ledger again before the in-sync test.
        again = await self._within_ledger([fresh[t.sku] for t in due if t.sku in fresh
                                           and fresh[t.sku].wanted is not None], now)
        return [t for t in again if not t.in_sync(t.wanted, self.reassert)]

    async def _within_budget(self, due: list[SkuTarget], now: datetime) -> list[SkuTarget]:
        assert self.revisions is not None
        go: list[SkuTarget] = []
        held: dict[str, datetime] = {}
        for t in due:
            # A channel that sold since our last set may still show that set (our set landed
            # after its sale): judge the re-push against it, so a drop goes at once.
            shown = t.last_set if t.channel_moves else t.pushed
            decision = decide_revision(
                self.revisions, t.wanted or 0, shown,
                used_today(t.revisions, t.revisions_day, now), t.last_revision_at, now,
                repair=bool(t.channel_moves) and t.wanted == t.pushed)
            if decision.send:
                go.append(t)
            elif decision.not_before is not None:
                held[t.sku] = decision.not_before
        if held:
            await self._db(lambda repo: repo.hold_until(self.channel.code, held))
        return go

    async def _ensure_mapping(self, due: list[SkuTarget]) -> None:
        """Connectors that address items by the channel's own ids (Shopify) get them from
        the stored mapping, discovering the missing ones by SKU from the channel."""
        connector, field = self.connector, connector_class(self.channel.kind).mapping_field
        if not isinstance(connector, DiscoversMapping) or field is None:
            return
        mapping = connector.mapping  # by SKU, also where targets are per store location
        skus = {t.sku: split_key(t.sku)[0] for t in due}
        for t in due:
            if field in t.external_ids and skus[t.sku] not in mapping:
                mapping[skus[t.sku]] = t.external_ids[field]
        missing = sorted({sku for sku in skus.values() if sku not in mapping})
        if not missing:
            return
        found = await connector.discover_mapping(missing)
        mapping.update(found)
        await self._db(lambda repo: repo.set_external_ids(
            self.channel.code, {key: {field: found[sku]} for key, sku in skus.items()
                                if sku in found}))

    def _observe_call(self, started: float, outcome: str, error: str | None) -> None:
        metrics.CHANNEL_API.labels(*self.labels, outcome).observe(time.perf_counter() - started)
        if error is not None:
            metrics.CHANNEL_ERRORS.labels(*self.labels, error).inc()

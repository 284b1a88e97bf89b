"""The ingest worker: claims stored webhook deliveries and applies them, with retries and
backoff; a delivery that cannot succeed is dead-lettered (GET /v1/inbox?status=failed).
A lane's consecutive plain sales are applied many to a transaction (app/ingest_batch.py);
everything else, and a sale the batch could not apply, one at a time."""

from __future__ import annotations

import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import httpx
import structlog

from stocksync import metrics
from stocksync.app.connect import shared
from stocksync.app.ingest import DeadLetter, Ingestor
from stocksync.app.ingest_batch import Batched, SaleBatch
from stocksync.app.records import Delivery
from stocksync.app.service import INBOX, Stocksync
from stocksync.channels import registry
from stocksync.channels.base import ChannelConnector, ChannelError
from stocksync.core.channels import Channel
from stocksync.core.inbound import Ignored, LevelReport
from stocksync.ingest.registry import parser_for
from stocksync.storage.credentials import CredentialBox

log = structlog.get_logger()
# A short claim, renewed every RENEW_SECONDS while the batch is being worked on: a worker
# that dies (kill -9) holds its deliveries for at most CLAIM, then a restarted or
# surviving worker takes them over. The margin (CLAIM - RENEW_SECONDS) absorbs a slow
# database or a busy event loop; a claim lost anyway only risks applying a delivery
# twice, which its keyed effects make harmless.
CLAIM = timedelta(seconds=5)
RENEW_SECONDS = 1.5
BATCH = 50
MAX_ATTEMPTS = 8
SWEEP_SECONDS = 1.0
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


# Inventory notices are hints read back from the channel (one call each). Behind a backlog a
# lane often holds several notices about the same items: only the last needs reading, since
# it reads the channel later than the others would have.
NOTICE_TOPICS = frozenset({"inventory_levels/update", "product.updated",
                           "inventory.count.updated"})


# By the delivery's identity in its inbox (a row id alone is not unique across databases).
_REPORTED: OrderedDict[tuple[str, str, str, int], frozenset[str] | None] = OrderedDict()


def _reported(d: Delivery) -> frozenset[str] | None:
    """The items a notice-only delivery reports on; None for anything else."""
    if d.topic not in NOTICE_TOPICS:
        return None
    key = (d.tenant_id, d.channel, d.delivery_id, d.id)
    if key in _REPORTED:
        return _REPORTED[key]
    found = _read_reported(d)
    _REPORTED[key] = found
    while len(_REPORTED) > 10_000:
        _REPORTED.popitem(last=False)
    return found


def _read_reported(d: Delivery) -> frozenset[str] | None:
    try:
        messages = parser_for(d.kind).parse(d.headers, d.body, {}).messages
    except Exception:  # let the normal path report what is wrong with it
        return None
    items: set[str] = set()
    for m in messages:
        if isinstance(m, LevelReport):
            items.add(f"{m.sku or ''}|{m.external_id or ''}|{m.channel_location or ''}")
        elif not isinstance(m, Ignored):
            return None
    return frozenset(items) or None


def _superseded(d: Delivery, queued: deque[tuple[Delivery, _Claim]]) -> bool:
    """A notice about items that a later queued notice reports on too."""
    mine = _reported(d)
    if mine is None:
        return False
    later: set[str] = set()
    for other, _ in queued:
        items = _reported(other)
        if items:
            later |= items
            if mine <= later:
                return True
    return False


def _take_run(lane: deque[tuple[Delivery, _Claim]],
              first: tuple[Delivery, _Claim]) -> list[tuple[Delivery, _Claim]]:
    """`first` and the deliveries `_next` would take after it up to the next notice (at
    most BATCH, only those still claimed): what one transaction may apply."""
    run = [first]
    while len(run) < BATCH:
        at = next((i for i, (d, _) in enumerate(lane) if d.topic not in NOTICE_TOPICS), None)
        if at is None:
            break
        d, claim = lane[at]
        del lane[at]
        if d.id in claim.ids:
            run.append((d, claim))
    return run


def _next(lane: deque[tuple[Delivery, _Claim]]) -> tuple[Delivery, _Claim]:
    """The lane's next delivery: orders and sales before inventory notices. A notice is read
    back from the channel, which is slow and, behind a backlog, would keep the channel's
    sales out of the ledger (where another channel can sell the same units meanwhile); the
    order of the two does not matter to the result (see app/channel_changes.py)."""
    for i, (d, claim) in enumerate(lane):
        if d.topic not in NOTICE_TOPICS:
            del lane[i]
            return d, claim
    return lane.popleft()


async def _first(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return when the first of `waits` returns."""
    async with anyio.create_task_group() as tasks:
        async def one(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            tasks.cancel_scope.cancel()

        for wait in waits:
            tasks.start_soon(one, wait)


def retry_delay(attempts: int, rng: random.Random) -> float:
    return rng.uniform(0.5, 1.0) * min(300.0, 0.5 * 2 ** attempts)


@dataclass(slots=True)
class _Claim:
    ids: set[int]  # claimed and not yet worked on
    until: datetime  # the claim's current end: its token for renew and release


class IngestWorker:
    def __init__(self, svc: Stocksync, box: CredentialBox) -> None:
        self.svc = svc
        self.box = box
        self.rng = random.Random()
        self.client: httpx.AsyncClient | None = None
        # Per channel, the claimed deliveries still to apply, in order; and every claim
        # with deliveries not yet applied (renewed by the heartbeat).
        self.lanes: dict[tuple[str, str], deque[tuple[Delivery, _Claim]]] = {}
        self.claims: list[_Claim] = []
        self.lane_done: anyio.Event | None = None  # set when a lane ran dry

    async def connector(self, channel: Channel) -> ChannelConnector | None:
        """The channel's connector (built once per channel configuration)."""
        if channel.kind not in registry.PUSHED or self.client is None:
            return None
        return await anyio.to_thread.run_sync(shared, self.svc, channel, self.client)

    async def fetch(self, channel: Channel, sku: str) -> int | None:
        """The channel's current quantity of `sku` (fetch-on-notify)."""
        connector = await self.connector(channel)
        if connector is None:
            return None
        found = await connector.fetch_quantities([sku])
        return found.get(sku)

    def _claim(self, full: frozenset[tuple[str, str]]) -> list[Delivery]:
        return self.svc.inbox.claim(self.svc.clock(), CLAIM, BATCH, skip=full,
                                    later=NOTICE_TOPICS)

    def _settle(self, d: Delivery, error: str | None, dead: bool) -> None:
        now = self.svc.clock()
        retry_at = None
        if error is not None and not dead and d.attempts + 1 < MAX_ATTEMPTS:
            retry_at = now + timedelta(seconds=retry_delay(d.attempts + 1, self.rng))
        self.svc.inbox.settle(d.id, now, error=error, retry_at=retry_at)

    async def run(self) -> None:
        """Claim due deliveries and apply them in one lane per channel: a channel whose
        deliveries are slow to apply (its platform's API is paced, or down) delays only
        its own lane; deliveries of one channel are applied in order."""
        ingestor = Ingestor(self.svc, self.fetch, self.connector)
        bell = self.svc.bus.subscribe_async(INBOX)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            self.client = client
            try:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(self._renew_all)
                    while True:
                        bell.clear()
                        lane_done = self.lane_done = anyio.Event()
                        try:
                            batch = await anyio.to_thread.run_sync(
                                self._claim, frozenset(k for k, q in self.lanes.items()
                                                       if len(q) >= BATCH))
                        except Exception:  # the outer loop: log, back off, carry on
                            log.exception("ingest_worker_failed")
                            await anyio.sleep(1.0)
                            continue
                        if batch:
                            self._enqueue(tasks, ingestor, batch)
                            continue
                        with anyio.move_on_after(SWEEP_SECONDS):
                            await _first(bell.wait, lane_done.wait)
            finally:
                self.svc.bus.unsubscribe_async(INBOX, bell)
                with anyio.CancelScope(shield=True):
                    for claim in self.claims:
                        if claim.ids:
                            await anyio.to_thread.run_sync(self._release, claim)

    def _enqueue(self, tasks: anyio.abc.TaskGroup, ingestor: Ingestor,
                 batch: list[Delivery]) -> None:
        until = batch[0].claimed_until
        assert until is not None  # claim() set it
        claim = _Claim({d.id for d in batch}, until)
        self.claims.append(claim)
        for d in batch:
            key = (d.tenant_id, d.channel)
            lane = self.lanes.get(key)
            if lane is None:
                lane = self.lanes[key] = deque()
                tasks.start_soon(self._lane, ingestor, key)
            lane.append((d, claim))

    async def _lane(self, ingestor: Ingestor, key: tuple[str, str]) -> None:
        lane = self.lanes[key]
        batch = SaleBatch(self.svc)
        try:
            while lane:
                d, claim = _next(lane)
                if d.id not in claim.ids:
                    continue  # its claim ran out and another worker has it
                if _superseded(d, lane):
                    await anyio.to_thread.run_sync(self._settle, d, None, False)
                    metrics.INGESTED.labels(d.kind, "superseded").inc()
                elif d.topic in NOTICE_TOPICS:
                    await self._one(ingestor, d)
                else:
                    await self._apply_run(ingestor, batch, lane, _take_run(lane, (d, claim)))
                    continue
                claim.ids.discard(d.id)
        finally:
            del self.lanes[key]
            if self.lane_done is not None:
                self.lane_done.set()

    async def _apply_run(self, ingestor: Ingestor, batch: SaleBatch,
                         lane: deque[tuple[Delivery, _Claim]],
                         run: list[tuple[Delivery, _Claim]]) -> None:
        """Apply a run of the lane's deliveries: its batchable prefix in one transaction
        (one thread hop), then the one that stopped it on the single path; the rest go back
        to the front of the lane, in their order."""
        started = time.perf_counter()
        try:
            done = await anyio.to_thread.run_sync(self._apply_batch, batch,
                                                  [d for d, _ in run])
        except Exception:  # nothing was applied by it, or replays find their keys used
            log.exception("ingest_batch_failed", deliveries=len(run))
            done = Batched(0, True)
        applied = done.applied
        if applied:
            share = (time.perf_counter() - started) / applied
            for d, claim in run[:applied]:
                metrics.INGESTED.labels(d.kind, "applied").inc()
                metrics.INGEST_SECONDS.observe(share)
                claim.ids.discard(d.id)
        rest = run[applied:]
        if rest and done.stopped:
            d, claim = rest.pop(0)
            await self._one(ingestor, d)
            claim.ids.discard(d.id)
        lane.extendleft(reversed(rest))

    def _apply_batch(self, batch: SaleBatch, deliveries: list[Delivery]) -> Batched:
        done = batch.apply(deliveries)
        if done.applied:
            self.svc.inbox.settle_many([d.id for d in deliveries[:done.applied]],
                                       self.svc.clock())
        return done

    async def _renew_all(self) -> None:
        """The heartbeat: renew every claim still being worked on."""
        while True:
            await anyio.sleep(RENEW_SECONDS)
            self.claims = [c for c in self.claims if c.ids]
            for claim in list(self.claims):
                await self._renew(claim)

    async def _renew(self, claim: _Claim) -> None:
        held = set(claim.ids)
        try:
            claim.until, kept = await anyio.to_thread.run_sync(
                self._renew_once, held, claim.until)
        except Exception:  # the claim may run out: at worst a delivery is retried
            log.warning("inbox_claim_not_renewed", exc_info=True)
            return
        # Settled meanwhile (no longer claimed) or taken over after a stall: not ours.
        claim.ids -= held - kept

    def _renew_once(self, ids: set[int], until: datetime) -> tuple[datetime, set[int]]:
        return self.svc.inbox.renew(sorted(ids), until, self.svc.clock(), CLAIM)

    def _release(self, claim: _Claim) -> None:
        self.svc.inbox.release(sorted(claim.ids), claim.until)

    async def _one(self, ingestor: Ingestor, d: Delivery) -> None:
        started = time.perf_counter()
        error: str | None = None
        dead = False
        try:
            channel = await anyio.to_thread.run_sync(ingestor.load, d)
            await ingestor.process(d, channel)
        except DeadLetter as exc:
            error, dead = str(exc), True
        except (ChannelError, httpx.HTTPError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            log.exception("ingest_failed", delivery=d.id)
            error = f"{type(exc).__name__}: {exc}"
        await anyio.to_thread.run_sync(self._settle, d, error, dead)
        outcome = "applied" if error is None else ("dead_lettered" if dead or
                                                    d.attempts + 1 >= MAX_ATTEMPTS
                                                    else "retried")
        metrics.INGESTED.labels(d.kind, outcome).inc()
        metrics.INGEST_SECONDS.observe(time.perf_counter() - started)
        if error is not None:
            log.warning("delivery_not_applied", delivery=d.id, channel=d.channel,
                        error=error, dead=outcome == "dead_lettered",
                        correlation_id=d.correlation_id)

"""The ingest worker: claims stored webhook deliveries and applies them, with retries and
backoff; a delivery that cannot succeed is dead-lettered (GET /v1/inbox?status=failed)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio
import httpx
import structlog

from stocksync import metrics
from stocksync.app.connect import connect
from stocksync.app.ingest import DeadLetter, Ingestor
from stocksync.app.service import INBOX, Stocksync
from stocksync.channels import registry
from stocksync.channels.base import ChannelConnector, ChannelError
from stocksync.core.channels import Channel
from stocksync.storage import inbox
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
        self._connectors: dict[tuple[str, str], tuple[object, ChannelConnector]] = {}
        self.client: httpx.AsyncClient | None = None

    async def connector(self, channel: Channel) -> ChannelConnector | None:
        """The channel's connector (built once per channel configuration)."""
        if channel.kind not in registry.PUSHED or self.client is None:
            return None
        key = (channel.tenant_id, channel.code)
        cached = self._connectors.get(key)
        if cached is None or cached[0] != channel.updated_at:
            client = self.client
            built = await anyio.to_thread.run_sync(connect, self.svc, channel, client)
            self._connectors[key] = (channel.updated_at, built)
        return self._connectors[key][1]

    async def fetch(self, channel: Channel, sku: str) -> int | None:
        """The channel's current quantity of `sku` (fetch-on-notify)."""
        connector = await self.connector(channel)
        if connector is None:
            return None
        found = await connector.fetch_quantities([sku])
        return found.get(sku)

    def _claim(self) -> list[inbox.Delivery]:
        with self.svc.engine.connect().execution_options(stocksync_write=True) as conn, \
                conn.begin():
            return inbox.claim(conn, self.svc.clock(), CLAIM, BATCH)

    def _settle(self, d: inbox.Delivery, error: str | None, dead: bool) -> None:
        now = self.svc.clock()
        retry_at = None
        if error is not None and not dead and d.attempts + 1 < MAX_ATTEMPTS:
            retry_at = now + timedelta(seconds=retry_delay(d.attempts + 1, self.rng))
        with self.svc.engine.connect().execution_options(stocksync_write=True) as conn, \
                conn.begin():
            inbox.settle(conn, d.id, now, error=error, retry_at=retry_at)

    async def run(self) -> None:
        ingestor = Ingestor(self.svc, self.fetch, self.connector)
        bell = self.svc.bus.subscribe_async(INBOX)
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            self.client = client
            try:
                while True:
                    bell.clear()
                    try:
                        batch = await anyio.to_thread.run_sync(self._claim)
                        if batch:
                            await self._work(ingestor, batch)
                    except Exception:  # the outer loop: log, back off, carry on
                        log.exception("ingest_worker_failed")
                        await anyio.sleep(1.0)
                        continue
                    if not batch:
                        with anyio.move_on_after(SWEEP_SECONDS):
                            await bell.wait()
            finally:
                self.svc.bus.unsubscribe_async(INBOX, bell)

    async def _work(self, ingestor: Ingestor, batch: list[inbox.Delivery]) -> None:
        """Apply a claimed batch in order while a heartbeat renews the claim on what is
        left; on the way out (an error, a shutdown) give back what was not worked on."""
        until = batch[0].claimed_until
        assert until is not None  # claim() set it
        claim = _Claim({d.id for d in batch}, until)
        try:
            async with anyio.create_task_group() as heartbeat:
                heartbeat.start_soon(self._renew, claim)
                for d in batch:
                    if d.id in claim.ids:  # else its claim ran out and another worker has it
                        await self._one(ingestor, d)
                        claim.ids.discard(d.id)
                heartbeat.cancel_scope.cancel()
        finally:
            if claim.ids:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._release, claim)

    async def _renew(self, claim: _Claim) -> None:
        while True:
            await anyio.sleep(RENEW_SECONDS)
            held = set(claim.ids)
            try:
                claim.until, kept = await anyio.to_thread.run_sync(
                    self._renew_once, held, claim.until)
            except Exception:  # the claim may run out: at worst a delivery is retried
                log.warning("inbox_claim_not_renewed", exc_info=True)
                continue
            # Settled meanwhile (no longer claimed) or taken over after a stall: not ours.
            claim.ids -= held - kept

    def _renew_once(self, ids: set[int], until: datetime) -> tuple[datetime, set[int]]:
        with self.svc.engine.connect().execution_options(stocksync_write=True) as conn, \
                conn.begin():
            return inbox.renew(conn, sorted(ids), until, self.svc.clock(), CLAIM)

    def _release(self, claim: _Claim) -> None:
        with self.svc.engine.connect().execution_options(stocksync_write=True) as conn, \
                conn.begin():
            inbox.release(conn, sorted(claim.ids), claim.until)

    async def _one(self, ingestor: Ingestor, d: inbox.Delivery) -> None:
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

"""The ingest worker: claims stored webhook deliveries and applies them, with retries and
backoff; a delivery that cannot succeed is dead-lettered (GET /v1/inbox?status=failed)."""

from __future__ import annotations

import random
import time
from datetime import timedelta

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
CLAIM = timedelta(seconds=60)
BATCH = 50
MAX_ATTEMPTS = 8
SWEEP_SECONDS = 1.0
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


def retry_delay(attempts: int, rng: random.Random) -> float:
    return rng.uniform(0.5, 1.0) * min(300.0, 0.5 * 2 ** attempts)


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
                        for d in batch:
                            await self._one(ingestor, d)
                    except Exception:  # the outer loop: log, back off, carry on
                        log.exception("ingest_worker_failed")
                        await anyio.sleep(1.0)
                        continue
                    if not batch:
                        with anyio.move_on_after(SWEEP_SECONDS):
                            await bell.wait()
            finally:
                self.svc.bus.unsubscribe_async(INBOX, bell)

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

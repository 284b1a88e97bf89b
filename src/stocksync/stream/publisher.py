"""The publisher: every sequenced event to JetStream, once, in each tenant's log order.

Per tenant it reads the log after its publish cursor, publishes a batch pipelined on one
connection (each message with `Nats-Msg-Id` = event id) and stores the cursor only up to
the last message of the unbroken prefix the server acknowledged. So:

- a crash between the ack and the cursor write republishes that batch: the server's
  duplicate window drops the copies, and on (re)connect the cursor is first moved up to the
  newest message the stream already holds (its `Stocksync-Sequence` header), so even a
  restart after the window has passed republishes nothing;
- NATS down: the round fails, the cursor stays, events keep being sequenced in the
  database, and the next connection publishes from the cursor: no gap;
- the request path never waits: writers commit to the database and ring a bell; this
  runs in its own thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
from collections.abc import Callable
from datetime import datetime

import structlog
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, delete

from stocksync import metrics
from stocksync.app.records import LoggedEvent
from stocksync.config import Settings
from stocksync.storage.engine import WRITE
from stocksync.storage.tables_stream import stream_cursors
from stocksync.stream import store
from stocksync.stream.lock import LostLock, PublisherLock
from stocksync.stream.message import SEQUENCE, TENANT, encode
from stocksync.stream.setup import connect, ensure_stream
from stocksync.stream.subjects import stream_spec

log = structlog.get_logger()
ACK_TIMEOUT = 5.0
RETRY_CAP_SECONDS = 5.0
LOCK_RETRY_SECONDS = 1.0


class PublishFailed(RuntimeError):
    pass


class Publisher:
    """One publishing session's logic; `run` owns connections, retries and the lock."""

    def __init__(self, engine: Engine, settings: Settings,
                 clock: Callable[[], datetime]) -> None:
        assert settings.nats_url, "the publisher needs STOCKSYNC_NATS_URL"
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.spec = stream_spec(settings)
        self.stream = self.spec.name
        self.prefix = settings.nats_subject_prefix
        self.lock = PublisherLock(engine, settings.database_schema, self.stream)
        self.connected = threading.Event()  # tests and readiness: a session is live

    async def prepare(self, js: JetStreamContext) -> None:
        """At every (re)connection: the stream as configured, and the cursors caught up
        with what the stream already holds."""
        await ensure_stream(js, self.spec)
        info = await js.stream_info(self.stream)
        if not info.state.last_seq:
            # A stream that never held a message (first start, or deleted by an operator
            # and created again, here or by `stocksync migrate`): the whole log goes in
            # again. (Retention alone never resets last_seq.)
            with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
                conn.execute(delete(stream_cursors).where(stream_cursors.c.stream == self.stream))
            return
        await self.recover(js, info.state.last_seq)

    async def recover(self, js: JetStreamContext, last_seq: int) -> None:
        """Only one batch of one tenant can be in doubt after a crash (batches go one at a
        time): the newest message in the stream tells how far it got."""
        try:
            last = await js.get_msg(self.stream, last_seq)
        except NotFoundError:
            return
        headers = last.headers or {}
        tenant, sequence = headers.get(TENANT), headers.get(SEQUENCE)
        if tenant is None or sequence is None:
            return
        if store.published(self.engine, self.stream, tenant) < int(sequence):
            log.info("stream_cursor_recovered", tenant=tenant, published=int(sequence))
            store.advance(self.engine, self.stream, tenant, int(sequence), self.clock(), None)

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publish every tenant's unpublished events; returns how many were acknowledged."""
        total = 0
        for behind in await asyncio.to_thread(store.pending_tenants, self.engine, self.stream):
            after = behind.published
            while after < behind.head:
                batch = await asyncio.to_thread(store.page, self.engine, behind.tenant_id,
                                                after, self.settings.nats_publish_batch)
                if not batch:
                    break
                after = await self._publish_batch(js, behind.tenant_id, batch)
                total += len(batch)
            metrics.STREAM_PUBLISH_LAG.labels(behind.tenant_id).set(0.0)
            metrics.STREAM_PUBLISH_PENDING.labels(behind.tenant_id).set(0)
        return total

    async def _publish_batch(self, js: JetStreamContext, tenant_id: str,
                             batch: list[LoggedEvent]) -> int:
        futures = []
        for event in batch:
            subject, body, headers = encode(self.prefix, tenant_id, event)
            futures.append(await js.publish_async(subject, body, headers=headers,
                                                  wait_stall=ACK_TIMEOUT))
        results = await asyncio.gather(
            *(asyncio.wait_for(f, ACK_TIMEOUT) for f in futures), return_exceptions=True)
        acked = 0
        for result in results:
            if isinstance(result, BaseException):
                break
            acked += 1
        if acked < len(batch) and any(not isinstance(r, BaseException)
                                      for r in results[acked + 1:]):
            # One connection delivers in order, so this needs the server to refuse one
            # message alone; its republish then lands after its successors.
            log.error("stream_publish_out_of_order", tenant=tenant_id,
                      sequence=batch[acked].sequence)
        now = self.clock()
        if acked:
            last = batch[acked - 1]
            assert last.sequence is not None
            await asyncio.to_thread(store.advance, self.engine, self.stream, tenant_id,
                                    last.sequence, now, last.recorded_at)
            metrics.STREAM_PUBLISHED.labels(tenant_id).inc(acked)
            for event in batch[:acked]:
                metrics.STREAM_PUBLISH_SECONDS.observe(
                    max((now - event.recorded_at).total_seconds(), 0.0))
        if acked < len(batch):
            error = results[acked]
            raise PublishFailed(f"event {batch[acked].sequence} of tenant {tenant_id} not "
                                f"acknowledged: {type(error).__name__}: {error}")
        last_sequence = batch[-1].sequence
        assert last_sequence is not None
        return last_sequence

    async def run(self, stop: asyncio.Event, bell: asyncio.Event) -> None:
        """Publish until `stop`; reconnect with backoff on any failure."""
        failures = 0
        rng = random.Random()
        try:
            while not stop.is_set():
                try:
                    if not await asyncio.to_thread(self.lock.acquire):
                        await _wait(stop, LOCK_RETRY_SECONDS)
                        continue
                    await self._session(stop, bell)
                    failures = 0
                except Exception as exc:  # NATS down, timeouts, the lock lost: start over
                    failures += 1
                    self.connected.clear()
                    metrics.STREAM_PUBLISH_FAILURES.inc()
                    delay = rng.uniform(0.5, 1.0) * min(RETRY_CAP_SECONDS, 0.2 * 2 ** failures)
                    log.warning("stream_publish_failed", error=f"{type(exc).__name__}: {exc}",
                                retry_in=round(delay, 2))
                    if isinstance(exc, LostLock):
                        self.lock.release()
                    await _wait(stop, delay)
        finally:
            self.lock.release()

    async def _session(self, stop: asyncio.Event, bell: asyncio.Event) -> None:
        assert self.settings.nats_url
        nc = await connect(self.settings.nats_url, name="stocksync-publisher")
        try:
            js = nc.jetstream(timeout=ACK_TIMEOUT)
            await self.prepare(js)
            self.connected.set()
            log.info("stream_publisher_connected", stream=self.stream)
            while not stop.is_set():
                bell.clear()
                published = await self.publish_pending(js)
                await asyncio.to_thread(self.lock.check)
                if not nc.is_connected:
                    raise PublishFailed("connection to NATS lost")
                if not published:
                    await _wait_any(stop, bell, self.settings.sequencer_sweep_seconds)
        finally:
            self.connected.clear()
            await nc.close()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_any(stop: asyncio.Event, bell: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(bell.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

"""Channel workers fed by the stream (STOCKSYNC_NATS_CHANNEL_CONSUMERS=true).

Each channel reads its tenant's subjects through a durable consumer of its own
(`channel_<tenant>_<code>`), fetched only while this process holds the channel's lease.
The worker projects exactly as before, in one transaction with the cursor; only where the
events come from changes: `view(uow)` answers the projector's `log.page(after, n)` from the
messages received, and from the database only when the stream cannot say (right after the
lease is taken, while NATS is unreachable, or when a position is missing from what arrived,
e.g. a message still held by a process that died). Messages are acknowledged after the
cursor that covers them is committed, so a crash redelivers them and the stored cursor
skips what was already applied: effects stay exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Engine, insert, update

from stocksync.app.ports import UnitOfWork
from stocksync.app.records import LoggedEvent
from stocksync.config import Settings
from stocksync.storage.engine import WRITE
from stocksync.storage.tables_stream import stream_consumers
from stocksync.stream.message import decode, logged
from stocksync.stream.setup import connect
from stocksync.stream.subjects import channel_consumer, tenant_filter

log = structlog.get_logger()
FETCH = 200
FETCH_WAIT_SECONDS = 1.0
LEASE_CHECK_SECONDS = 0.2  # how soon after taking the lease the feed subscribes
ACK_WAIT_SECONDS = 60.0
RETRY_SECONDS = 2.0


class _FedLog:
    """The projector's view of the log: received messages first, the database when the
    stream cannot answer for a position."""

    def __init__(self, feed: ChannelFeed, db_log: Any) -> None:
        self.feed = feed
        self.db_log = db_log

    def page(self, after: int, limit: int, **filters: Any) -> list[LoggedEvent]:
        if filters:
            return list(self.db_log.page(after, limit, **filters))
        run = self.feed.contiguous(after, limit)
        if run or not self.feed.needs_db(after):
            return run
        found = list(self.db_log.page(after, limit))
        self.feed.read_db(len(found) < limit)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db_log, name)


class _FedUnitOfWork:
    def __init__(self, uow: UnitOfWork, feed: ChannelFeed) -> None:
        self._uow = uow
        self.log = _FedLog(feed, uow.log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)


class ChannelFeed:
    def __init__(self, settings: Settings, tenant_id: str, code: str) -> None:
        assert settings.nats_url
        self.settings = settings
        self.tenant_id = tenant_id
        self.code = code
        self.consumer = channel_consumer(tenant_id, code)
        self.arrived = asyncio.Event()  # the worker's doorbell in place of the DB's
        self.received: dict[int, tuple[LoggedEvent, Msg]] = {}
        self._caught_up = False  # the database was read up to its head since (re)subscribing
        self._nc: Client | None = None
        self._sub: Any = None

    # ---- read from the worker's thread (inside the projection's transaction) -----------

    def view(self, uow: UnitOfWork) -> UnitOfWork:
        return _FedUnitOfWork(uow, self)  # type: ignore[return-value]

    def contiguous(self, after: int, limit: int) -> list[LoggedEvent]:
        run: list[LoggedEvent] = []
        position = after + 1
        while len(run) < limit and (found := self.received.get(position)) is not None:
            run.append(found[0])
            position += 1
        return run

    def needs_db(self, after: int) -> bool:
        # list(): the event loop may add messages meanwhile
        ahead = any(seq > after for seq in list(self.received))  # a position is missing
        return ahead or not self._caught_up or self._sub is None

    def read_db(self, reached_head: bool) -> None:
        if reached_head and self._sub is not None:
            self._caught_up = True

    def resync(self) -> None:
        """The lease was (re)taken: the cursor may be anywhere; read the database once."""
        self._caught_up = False

    # ---- the worker's event loop -------------------------------------------------------

    async def acknowledge(self, cursor: int | None) -> None:
        """Ack every received message the stored cursor covers (its effect is committed)."""
        if cursor is None:
            return
        for seq in [s for s in self.received if s <= cursor]:
            _, msg = self.received.pop(seq)
            try:
                await msg.ack()
            except Exception as exc:  # redelivered later and skipped by the cursor
                log.debug("stream_ack_failed", channel=self.code, error=str(exc))

    async def run(self, leased: Callable[[], bool],
                  register: Callable[[str], None] | None = None) -> None:
        """Fetch while leased; ring `arrived` when messages come in."""
        while True:
            if not leased():
                await self._close()
                await asyncio.sleep(LEASE_CHECK_SECONDS)
                continue
            try:
                if self._sub is None:
                    await self._subscribe()
                    if register is not None:
                        await asyncio.to_thread(register, self.consumer)
                    self.arrived.set()  # a round now: the database answers up to here
                try:
                    messages = await self._sub.fetch(FETCH, timeout=FETCH_WAIT_SECONDS)
                except TimeoutError:  # nothing new within the wait
                    continue
            except asyncio.CancelledError:
                await self._close()
                raise
            except Exception as exc:  # NATS away: the database answers meanwhile
                log.warning("channel_stream_failed", tenant=self.tenant_id,
                            channel=self.code, error=f"{type(exc).__name__}: {exc}")
                await self._close()
                self.arrived.set()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            for msg in messages:
                event = logged(decode(msg.data))
                assert event.sequence is not None
                self.received[event.sequence] = (event, msg)
            self.arrived.set()

    async def _subscribe(self) -> None:
        assert self.settings.nats_url
        self._nc = await connect(self.settings.nats_url, name=f"stocksync-{self.consumer}")
        js = self._nc.jetstream()
        try:
            await js.consumer_info(self.settings.nats_stream, self.consumer)
        except NotFoundError:
            # From now on: what came before is read from the database (resync).
            await js.add_consumer(self.settings.nats_stream, ConsumerConfig(
                durable_name=self.consumer, deliver_policy=DeliverPolicy.NEW,
                filter_subject=tenant_filter(self.settings.nats_subject_prefix,
                                             self.tenant_id),
                ack_policy=AckPolicy.EXPLICIT, ack_wait=ACK_WAIT_SECONDS,
                max_ack_pending=10_000, description=f"channel {self.code}"))
        self._sub = await js.pull_subscribe_bind(self.consumer, self.settings.nats_stream)
        self._caught_up = False
        log.info("channel_stream_subscribed", tenant=self.tenant_id, channel=self.code,
                 consumer=self.consumer)

    async def _close(self) -> None:
        self._sub = None
        self._caught_up = False
        self.received.clear()  # unacknowledged: the server redelivers them
        if self._nc is not None:
            nc, self._nc = self._nc, None
            with contextlib.suppress(Exception):
                await nc.close()


def register_consumer(engine: Engine, settings: Settings, tenant_id: str, code: str,
                      consumer: str, now: datetime) -> None:
    """Remember that the channel reads the stream (what GET /v1/channels/{code} shows)."""
    key = (stream_consumers.c.tenant_id == tenant_id) & (stream_consumers.c.channel == code)
    values = {"stream": settings.nats_stream, "consumer": consumer, "updated_at": now}
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.execute(update(stream_consumers).where(key).values(**values)).rowcount == 0:
            conn.execute(insert(stream_consumers).values(tenant_id=tenant_id, channel=code,
                                                         **values))


def channel_feed(settings: Settings, tenant_id: str, code: str) -> ChannelFeed | None:
    """The feed of a channel worker, or None for the default (database and doorbell)."""
    if settings.nats_url and settings.nats_channel_consumers:
        return ChannelFeed(settings, tenant_id, code)
    return None

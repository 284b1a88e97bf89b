"""One asyncio task per channel: project the log, push what changed, back off when the
channel fails. A slow or dead channel only delays itself.

The supervisor starts a task for each enabled channel (of every tenant), restarts it when
the channel's configuration changes, and stops it when the channel is removed.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from datetime import datetime, timedelta

import anyio
import httpx
import structlog

from stocksync import metrics
from stocksync.app.connect import shared
from stocksync.app.order_poller import OrderPoller, poll_interval
from stocksync.app.ports import UnitOfWork
from stocksync.app.projector import project
from stocksync.app.pusher import Pusher
from stocksync.app.service import EVENTS, Stocksync
from stocksync.channels import registry
from stocksync.channels.base import ChannelError, PollsOrders, RateLimited, Rejected
from stocksync.core.channels import Channel
from stocksync.storage.credentials import CredentialBox
from stocksync.stream.channel_feed import channel_feed, register_consumer

log = structlog.get_logger()

LEASE_SECONDS = 15.0
RENEW_BEFORE = timedelta(seconds=LEASE_SECONDS * 2 / 3)
BACKOFF_BASE = 0.2
BACKOFF_CAP = 30.0
SUPERVISE_SECONDS = 1.0
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


def backoff_delay(failures: int, rng: random.Random) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's recommendation)."""
    return rng.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures, 20)))


class ChannelWorker:
    def __init__(self, svc: Stocksync, channel: Channel, owner: str,
                 client: httpx.AsyncClient) -> None:
        self.svc = svc
        self.channel = channel
        self.owner = owner
        self.client = client
        self.failures = 0
        self.rng = random.Random()
        self.lease_until: datetime | None = None
        self.cursor: int | None = None
        self.observed_at: datetime | None = None
        self.down = False  # the last push found the channel unreachable: probe it
        self.probed_up = False  # a probe said it answers again
        self.trust_probe = True
        # STOCKSYNC_NATS_CHANNEL_CONSUMERS: input from the stream instead of the database.
        self.feed = channel_feed(svc.settings, channel.tenant_id, channel.code)

    def _connect(self) -> Pusher:
        return Pusher(self.svc, self.channel, shared(self.svc, self.channel, self.client))

    def _lease_and_project(self) -> tuple[bool, int]:
        """Renew the lease when it runs low, then project what is new. Idle rounds only
        read: no write transaction unless there is something to record."""
        now = self.svc.clock()
        tenant, code = self.channel.tenant_id, self.channel.code
        if self.lease_until is None or now >= self.lease_until - RENEW_BEFORE:
            until = now + timedelta(seconds=LEASE_SECONDS)
            with self.svc.uow(tenant) as uow:
                leased = uow.channels.claim_lease(code, self.owner, now, until)
                uow.commit()
            self.lease_until = until if leased else None
            if not leased:
                return False, 0
            self.cursor = None  # re-read the stored cursor after (re)taking the lease
            if self.feed is not None:
                self.feed.resync()
        if self.cursor is not None:
            with self.svc.uow(tenant, write=False) as uow:
                if not self._fed(uow).log.page(self.cursor, 1):
                    self._observe(uow, self.cursor, now)
                    return True, 0
        with self.svc.uow(tenant) as uow:
            current = uow.channels.get(code)
            if current is None:
                return False, 0
            done = project(self._fed(uow), current, now)
            uow.commit()
        self.cursor = done.cursor
        if done.events:
            with self.svc.uow(tenant, write=False) as uow:
                self._observe(uow, done.cursor, now)
        return True, done.events

    def _fed(self, uow: UnitOfWork) -> UnitOfWork:
        return uow if self.feed is None else self.feed.view(uow)

    def _register(self, consumer: str) -> None:
        register_consumer(self.svc.engine, self.svc.settings, self.channel.tenant_id,
                          self.channel.code, consumer, self.svc.clock())

    def _observe(self, uow: UnitOfWork, cursor: int, now: datetime) -> None:
        if self.observed_at is not None and (now - self.observed_at).total_seconds() < 1.0:
            return  # metrics at most once a second per channel
        self.observed_at = now
        status = uow.channels.status(
            self.channel.code, cursor, now)
        labels = (self.channel.tenant_id, self.channel.code)
        # The same lag GET /v1/channels shows and the lag alert fires on.
        metrics.CHANNEL_LAG.labels(*labels).set(status.lag_seconds(now))
        metrics.CHANNEL_BACKLOG.labels(*labels).set(status.pending)

    def _record_error(self, error: str) -> None:
        with self.svc.uow(self.channel.tenant_id) as uow:
            uow.channels.record_push(
                self.channel.code, self.svc.clock(), error)
            uow.commit()

    async def run(self) -> None:
        self.pusher = await anyio.to_thread.run_sync(self._connect)
        connector = self.pusher.connector
        interval = poll_interval(self.channel, connector) \
            if isinstance(connector, PollsOrders) else None
        async with anyio.create_task_group() as tasks:
            if interval is not None and isinstance(connector, PollsOrders):
                tasks.start_soon(self._poll_orders,
                                 OrderPoller(self.svc, self.channel, connector), interval)
            if self.feed is not None:
                tasks.start_soon(self.feed.run, self._leased, self._register)
            await self._push_loop()

    def _leased(self) -> bool:
        return self.lease_until is not None and self.svc.clock() < self.lease_until

    async def _poll_orders(self, poller: OrderPoller, interval: float) -> None:
        """The channel's orders, every `interval` seconds while this process holds the
        channel's lease; failures back off like pushes and show on the channel."""
        failures = 0
        while True:
            if not self._leased():
                await anyio.sleep(min(interval, LEASE_SECONDS / 3))
                continue
            try:
                polled = await poller.poll_once()
                failures = 0
                wait = 0.0 if polled.more else interval
            except (ChannelError, httpx.HTTPError) as exc:
                failures += 1
                wait = max(backoff_delay(failures, self.rng), interval)
                if isinstance(exc, RateLimited):
                    wait = max(wait, exc.retry_after)
                log.warning("order_poll_failed", tenant=self.channel.tenant_id,
                            channel=self.channel.code, error=str(exc), retry_in=round(wait, 3))
            except Exception:
                failures += 1
                wait = max(backoff_delay(failures, self.rng), interval)
                log.exception("order_poll_crashed", channel=self.channel.code)
            await anyio.sleep(wait)

    async def _push_loop(self) -> None:
        bell = self.svc.bus.subscribe_async(EVENTS) if self.feed is None else self.feed.arrived
        try:
            while True:
                bell.clear()
                wait = await self.step()
                if wait > 0 and self.down:
                    await self._wait_for_channel(wait)
                elif wait > 0:
                    with anyio.move_on_after(wait):
                        await bell.wait()
        finally:
            if self.feed is None:
                self.svc.bus.unsubscribe_async(EVENTS, bell)

    async def _wait_for_channel(self, delay: float) -> None:
        """Back off from a channel that did not answer, but look every few seconds with
        one cheap read whether it is back, and push at once when it is: a channel that
        comes back is caught up within seconds, whatever the backoff has grown to. New
        sales do not cut the wait short (each would retry a whole batch against a channel
        that is down); the read answers for all of them."""
        deadline = anyio.current_time() + delay
        every = self.svc.settings.channel_probe_seconds
        while (left := deadline - anyio.current_time()) > 0:
            await anyio.sleep(min(every, left))
            if deadline - anyio.current_time() > 0 and await self._probe():
                self.probed_up = True
                return

    async def _probe(self) -> bool:
        """Does the channel answer? Reads one waiting SKU back (renewing the lease and
        projecting first, so the lease never runs out during a long backoff)."""
        leased, _ = await anyio.to_thread.run_sync(self._lease_and_project)
        due = await anyio.to_thread.run_sync(self._oldest_due) if leased else None
        if due is None:
            return True  # nothing to read it with, or the lease is gone: try a round
        if self.pusher.pacer is not None:
            await self.pusher.pacer.take()
        try:
            await self.pusher.connector.fetch_quantities([due])
        except Rejected:
            return True  # it answered: the push will say what it refuses
        except (ChannelError, httpx.HTTPError):
            return False
        except Exception:
            log.exception("channel_probe_failed", tenant=self.channel.tenant_id,
                          channel=self.channel.code)
            return False
        return True

    def _oldest_due(self) -> str | None:
        with self.svc.uow(self.channel.tenant_id, write=False) as uow:
            due = uow.channels.due(
                self.channel.code, self.svc.clock(), 1)
        return due[0].sku if due else None

    async def step(self) -> float:
        """One round; returns how long to wait before the next (0: go again at once)."""
        try:
            leased, read = await anyio.to_thread.run_sync(self._lease_and_project)
            if not leased:
                return LEASE_SECONDS / 3
            if self.feed is not None:  # the cursor covering them is committed
                await self.feed.acknowledge(self.cursor)
            pushed = await self.pusher.push_once()
            self.failures = 0
            self.down = self.probed_up = False
            self.trust_probe = True
            return 0.0 if (read or pushed.sent) else self.svc.settings.channel_sweep_seconds
        except (ChannelError, httpx.HTTPError) as exc:
            self.failures += 1
            error = f"{type(exc).__name__}: {exc}"
            await anyio.to_thread.run_sync(self._record_error, error)
            if isinstance(exc, Rejected):
                log.warning("channel_push_rejected", tenant=self.channel.tenant_id,
                            channel=self.channel.code, error=error,
                            details=str(exc.details)[:500] if exc.details else None)
                return 0.0  # parked rows are skipped; carry on with the rest
            delay = backoff_delay(self.failures, self.rng)
            if isinstance(exc, RateLimited):
                delay = max(delay, exc.retry_after)
            # A read that answers while the push still fails (a write-only fault) says
            # nothing: back off plainly until a push succeeds again.
            if self.probed_up:
                self.trust_probe = False
            self.probed_up = False
            self.down = self.trust_probe and not isinstance(exc, RateLimited)
            log.warning("channel_push_failed", tenant=self.channel.tenant_id,
                        channel=self.channel.code, error=error, retry_in=round(delay, 3),
                        failures=self.failures)
            return delay
        except Exception:  # the worker's outer loop: log, back off, never die
            self.failures += 1
            self.down = False
            log.exception("channel_worker_failed", tenant=self.channel.tenant_id,
                          channel=self.channel.code)
            return backoff_delay(self.failures, self.rng)


class ChannelSupervisor:
    def __init__(self, svc: Stocksync, box: CredentialBox) -> None:
        self.svc = svc
        self.box = box
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.tasks: dict[tuple[str, str], tuple[Channel, asyncio.Task[None]]] = {}

    def _channels(self) -> list[Channel]:
        return [c for c in self.svc.admin.enabled_channels() if c.kind in registry.PUSHED]

    async def run(self) -> None:
        async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
            try:
                while True:
                    try:
                        wanted = {(c.tenant_id, c.code): c
                                  for c in await anyio.to_thread.run_sync(self._channels)}
                        self._reconcile_tasks(wanted, client)
                    except Exception:
                        log.exception("channel_supervisor_failed")
                    await asyncio.sleep(SUPERVISE_SECONDS)
            finally:
                for _, task in self.tasks.values():
                    task.cancel()
                await asyncio.gather(*(t for _, t in self.tasks.values()),
                                     return_exceptions=True)

    def _reconcile_tasks(self, wanted: dict[tuple[str, str], Channel],
                         client: httpx.AsyncClient) -> None:
        for key, (channel, task) in list(self.tasks.items()):
            fresh = wanted.get(key)
            # The cursor moves on its own; any other change restarts the worker.
            if fresh is None or _config(fresh) != _config(channel) or task.done():
                task.cancel()
                del self.tasks[key]
        for key, channel in wanted.items():
            if key not in self.tasks:
                worker = ChannelWorker(self.svc, channel, self.owner, client)
                self.tasks[key] = (channel, asyncio.create_task(worker.run()))


def _config(channel: Channel) -> tuple[object, ...]:
    return (channel.kind, channel.rules, tuple(sorted(channel.settings.items())),
            channel.enabled, channel.updated_at)

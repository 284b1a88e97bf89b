"""Content sync workers: one asyncio task per enabled channel with content settings, which
projects catalog changes and pushes due content through the channel's shared connector
(so quantity and content calls share one pacer), and takes in the channel's own product
edits (Shopify products/update, WooCommerce product.updated) from the inbox.

The supervisor starts a task per channel, restarts it when the channel's configuration
changes and stops it when the channel goes (like workers/channels.py for quantities).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket

import anyio
import httpx
import structlog

from stocksync.app.connect import shared
from stocksync.app.content_inbound import ContentIntake
from stocksync.app.content_overrides import CONTENT, content_store
from stocksync.app.content_projector import ContentProjector
from stocksync.app.content_pusher import ContentPusher, retry_delay
from stocksync.app.ports import EVENTS
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.channels.content_writers import content_fields_of, content_writer
from stocksync.core.channels import Channel
from stocksync.workers.channels import ChannelSupervisor

log = structlog.get_logger()
SWEEP_SECONDS = 0.5  # item edits do not ring the doorbell: the projector looks this often
LEASE_WAIT_SECONDS = 2.0
PROCESS = f"{socket.gethostname()}:{os.getpid()}:"  # how ChannelSupervisor owners begin


class ContentWorker:
    def __init__(self, svc: Stocksync, channel: Channel, client: httpx.AsyncClient) -> None:
        self.svc = svc
        self.channel = channel
        self.client = client
        self.store = content_store(svc)
        self.failures = 0
        self.rng = random.Random()

    async def run(self) -> None:
        connector = await anyio.to_thread.run_sync(shared, self.svc, self.channel, self.client)
        writer = content_writer(self.channel.kind, connector, self.channel.settings)
        if writer is None:
            return
        tenant, code = self.channel.tenant_id, self.channel.code
        projector = ContentProjector(self.store, tenant, code, writer.fields)
        self.pusher = ContentPusher(self.store, tenant, code, writer, self.svc.clock,
                                    currency=self.channel.settings.get("currency"),
                                    on_created=self._created)
        intake = ContentIntake(self.svc, self.store, self.channel)
        bell = self.svc.bus.subscribe_async(CONTENT)
        try:
            while True:
                bell.clear()
                wait = await self.step(projector, intake)
                if wait > 0:
                    with anyio.move_on_after(wait):
                        await bell.wait()
        finally:
            self.svc.bus.unsubscribe_async(CONTENT, bell)

    def _created(self, ids: dict[str, str]) -> None:
        """Listings content sync published: their ids become the channel's ids for the
        SKUs, and SKUs the quantity pusher had parked as unknown there are tried again."""
        field = registry.connector_class(self.channel.kind).mapping_field
        with self.svc.uow(self.channel.tenant_id) as uow:
            if field is not None:
                uow.channels.set_external_ids(self.channel.code,
                                              {sku: {field: i} for sku, i in ids.items()})
            uow.channels.unpark_all(self.channel.code)
            uow.commit()
        self.svc.bus.ring(EVENTS)  # the quantity pusher looks at the unparked SKUs now

    def _runs_here(self) -> bool:
        """Content goes out from the process whose quantity worker holds the channel's
        lease (one writer per channel across `serve` and `stocksync worker` processes; it
        also shares that worker's connector and so its pacer)."""
        owner, until = self.store.lease(self.channel.tenant_id, self.channel.code)
        return owner is not None and owner.startswith(PROCESS) and until is not None \
            and until > self.svc.clock()

    async def step(self, projector: ContentProjector, intake: ContentIntake) -> float:
        try:
            tenant, code = self.channel.tenant_id, self.channel.code
            if not await anyio.to_thread.run_sync(self._runs_here):
                return LEASE_WAIT_SECONDS
            settings = await anyio.to_thread.run_sync(self.store.settings, tenant, code)
            if settings is None:
                return SWEEP_SECONDS * 4
            taken = await anyio.to_thread.run_sync(intake.take_in, settings)
            if not settings.sends_any:
                return SWEEP_SECONDS if not taken else 0.0
            await anyio.to_thread.run_sync(projector.project, settings, self.svc.clock())
            pushed = await self.pusher.push_once(settings)
            self.failures = 0 if not pushed.failed else self.failures + 1
            if pushed.failed:
                return 0.0  # the failed rows carry their own retry time
            return 0.0 if (pushed.sent or taken) else SWEEP_SECONDS
        except Exception:  # the worker's outer loop: log, back off, never die
            self.failures += 1
            log.exception("content_worker_failed", tenant=self.channel.tenant_id,
                          channel=self.channel.code)
            return retry_delay(self.failures, self.rng)


class ContentSupervisor(ChannelSupervisor):
    """The quantity supervisor's loop over the channels that sync content, starting a
    ContentWorker for each (restarted on any configuration change, like its own)."""

    def __init__(self, svc: Stocksync) -> None:
        super().__init__(svc, None)  # type: ignore[arg-type]  # content needs no box

    def _channels(self) -> list[Channel]:
        syncing = set(content_store(self.svc).syncing())
        return [c for c in super()._channels()
                if (c.tenant_id, c.code) in syncing and content_fields_of(c.kind)]

    def _reconcile_tasks(self, wanted: dict[tuple[str, str], Channel],
                         client: httpx.AsyncClient) -> None:
        for key, (channel, task) in list(self.tasks.items()):
            fresh = wanted.get(key)
            if fresh is None or fresh.updated_at != channel.updated_at or task.done():
                task.cancel()
                del self.tasks[key]
        for key, channel in wanted.items():
            if key not in self.tasks:
                worker = ContentWorker(self.svc, channel, client)
                self.tasks[key] = (channel, asyncio.create_task(worker.run()))

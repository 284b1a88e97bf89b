"""The publisher as a background thread with its own event loop (`start_workers` starts
it when STOCKSYNC_NATS_URL is set), plus the consumer-lag gauges every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import structlog

from stocksync.app.service import EVENTS, Stocksync
from stocksync.stream.lag import consumer_lags
from stocksync.stream.publisher import Publisher
from stocksync.stream.setup import connect

log = structlog.get_logger()
CONSUMER_METRICS_SECONDS = 5.0


class PublisherThread:
    name = "stream-publisher"

    def __init__(self, svc: Stocksync) -> None:
        self.svc = svc
        self.publisher = Publisher(svc.engine, svc.settings, svc.clock)
        self._thread = threading.Thread(target=self._main, name=self.name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()

    def start(self) -> PublisherThread:
        self._thread.start()
        self._ready.wait(5.0)
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)

    def _main(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        bell = self.svc.bus.subscribe_async(EVENTS)
        self._ready.set()
        metrics_task = asyncio.create_task(self._consumer_metrics(self._stop))
        try:
            await self.publisher.run(self._stop, bell)
        finally:
            metrics_task.cancel()
            self.svc.bus.unsubscribe_async(EVENTS, bell)

    async def _consumer_metrics(self, stop: asyncio.Event) -> None:
        settings = self.svc.settings
        assert settings.nats_url
        while not stop.is_set():
            try:
                nc = await connect(settings.nats_url, name="stocksync-lag")
                try:
                    await consumer_lags(nc.jetstream(), settings.nats_stream,
                                        settings.nats_subject_prefix, self.svc.clock())
                finally:
                    await nc.close()
            except Exception as exc:  # metrics only: the next round tries again
                log.debug("stream_consumer_metrics_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), CONSUMER_METRICS_SECONDS)


def start_publisher(svc: Stocksync) -> PublisherThread | None:
    return PublisherThread(svc).start() if svc.settings.nats_url else None

"""Structured JSON logs (structlog) with a correlation id carried from the webhook or API
call to every push it caused, and a per-tenant live stream of them (GET /v1/logs/stream)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

STREAM_BUFFER = 1000


class LogBroadcaster:
    """A structlog processor that copies every entry naming a tenant to that tenant's live
    subscribers (asyncio queues), dropping the oldest when a reader is slow."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: dict[str, list[tuple[asyncio.AbstractEventLoop,
                                                asyncio.Queue[dict[str, Any]]]]] = {}

    def subscribe(self, tenant_id: str) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(STREAM_BUFFER)
        with self._lock:
            self._subscribers.setdefault(tenant_id, []).append(
                (asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, tenant_id: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        with self._lock:
            self._subscribers[tenant_id] = [
                (lp, q) for lp, q in self._subscribers.get(tenant_id, []) if q is not queue]

    def __call__(self, _logger: Any, _name: str,
                 event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        tenant = event.get("tenant")
        if tenant:
            with self._lock:
                targets = list(self._subscribers.get(str(tenant), []))
            entry = {k: v if isinstance(v, str | int | float | bool | None) else str(v)
                     for k, v in event.items()}
            for loop, queue in targets:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(_offer, queue, entry)
        return event


def _offer(queue: asyncio.Queue[dict[str, Any]], entry: dict[str, Any]) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(entry)


BROADCASTER = LogBroadcaster()


def configure(level: str = "info", *, json: bool = True) -> None:
    """Set up structlog once, in the entrypoint."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            BROADCASTER,
            structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelName(level.upper()) if isinstance(
                logging.getLevelName(level.upper()), int) else logging.INFO),
        cache_logger_on_first_use=False,
    )

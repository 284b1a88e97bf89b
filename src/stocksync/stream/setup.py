"""Create or update the JetStream stream (at the publisher's start and by `stocksync
migrate`), and connect to NATS the same way everywhere."""

from __future__ import annotations

import asyncio

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from stocksync.config import Settings
from stocksync.stream.subjects import StreamSpec, stream_spec

CONNECT_TIMEOUT = 3.0


async def connect(url: str, *, name: str = "stocksync") -> Client:
    """One connection, no endless reconnect loop inside nats-py: callers own their retry
    (the publisher reconnects and re-reads its cursor; a CLI fails with a message)."""
    return await nats.connect(url, name=name, connect_timeout=CONNECT_TIMEOUT,
                              allow_reconnect=False, max_reconnect_attempts=0)


def _config(spec: StreamSpec) -> StreamConfig:
    return StreamConfig(
        name=spec.name, subjects=list(spec.subjects), retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE, discard=DiscardPolicy.OLD, max_age=spec.max_age_seconds,
        max_bytes=spec.max_bytes, duplicate_window=spec.duplicate_window_seconds,
        description="stocksync: every tenant's sequenced event log")


async def ensure_stream(js: JetStreamContext, spec: StreamSpec) -> str:
    """Create the stream, or bring an existing one to `spec`; returns what was done."""
    try:
        await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(_config(spec))
        return "created"
    await js.update_stream(_config(spec))
    return "updated"


async def _ensure(settings: Settings) -> str:
    assert settings.nats_url
    nc = await connect(settings.nats_url, name="stocksync-migrate")
    try:
        return await ensure_stream(nc.jetstream(), stream_spec(settings))
    finally:
        await nc.close()


def ensure_stream_now(settings: Settings) -> str | None:
    """For `stocksync migrate`: None when no NATS is configured."""
    if not settings.nats_url:
        return None
    return asyncio.run(_ensure(settings))

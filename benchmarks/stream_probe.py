"""What stream_bench watches from the side: an outside consumer of one tenant's subjects
(in its own process) and where the queue is when the writers stop."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import nats
import sqlalchemy as sa


def consume(url: str, stream: str, subjects: str, expected: Any, ready: Any,
            out: Any) -> None:
    """In its own process (the writer would otherwise hold the GIL): an ordered consumer
    of one tenant's subjects; sends the latencies once `expected.value` arrived."""
    from stocksync.stream.message import recorded_at

    async def run() -> tuple[list[float], list[float], float, float]:
        nc = await nats.connect(url)
        js = nc.jetstream()
        while True:
            try:
                sub = await js.subscribe(subjects, stream=stream, ordered_consumer=True)
                break
            except Exception:  # the worker has not created the stream yet
                await asyncio.sleep(0.2)
        ready.set()
        latencies: list[float] = []
        stored: list[float] = []  # committed -> in the stream (the message's timestamp)
        first = last = 0.0
        idle = 0.0
        while idle < 30 and (expected.value == 0 or len(latencies) < expected.value):
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                idle += 0.5
                continue
            idle = 0.0
            last = time.time()
            first = first or last
            committed = recorded_at(msg.headers)
            if committed is not None:
                latencies.append((datetime.now(UTC) - committed).total_seconds())
                stored.append((msg.metadata.timestamp - committed).total_seconds())
        await nc.close()
        return latencies, stored, first, last

    out.put(asyncio.run(run()))


def backlog(svc: Any, tenant_id: str, stream: str) -> dict[str, int]:
    """Where the queue is when the writers stop: events committed but not yet sequenced
    (still in the outbox), and sequenced but not yet published."""
    from stocksync.storage.tables import outbox, tenants
    from stocksync.storage.tables_stream import stream_cursors

    with svc.engine.connect() as conn:
        staged = conn.execute(sa.select(sa.func.count()).select_from(outbox)
                              .where(outbox.c.tenant_id == tenant_id)).scalar_one()
        head = conn.execute(sa.select(tenants.c.log_head)
                            .where(tenants.c.id == tenant_id)).scalar_one()
        published = conn.execute(sa.select(stream_cursors.c.published).where(
            stream_cursors.c.tenant_id == tenant_id,
            stream_cursors.c.stream == stream)).scalar() or 0
    return {"unsequenced": int(staged), "unpublished": int(head) - int(published)}

"""GET /v1/logs/stream: the tenant's structured log entries, live (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from stocksync.api.deps import Who
from stocksync.logs import BROADCASTER

router = APIRouter(prefix="/v1/logs", tags=["logs"])
HEARTBEAT_SECONDS = 15.0
POLL_SECONDS = 0.5


@router.get("/stream")
async def stream_logs(request: Request, who: Who) -> StreamingResponse:
    """Every log entry about this tenant from now on (writes, webhooks, pushes, errors),
    each as `data: <json>`; entries carry the correlation id that links them."""
    queue = BROADCASTER.subscribe(who.tenant_id)

    async def frames() -> AsyncIterator[str]:
        idle = 0.0
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                try:
                    entry = await asyncio.wait_for(queue.get(), POLL_SECONDS)
                except TimeoutError:
                    idle += POLL_SECONDS
                    if idle >= HEARTBEAT_SECONDS:
                        idle = 0.0
                        yield ": heartbeat\n\n"
                    continue
                idle = 0.0
                yield f"event: {entry.get('event', 'log')}\ndata: {json.dumps(entry)}\n\n"
        finally:
            BROADCASTER.unsubscribe(who.tenant_id, queue)

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})

"""The tenant's log: pages after a position, and a live SSE stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from stocksync.api.deps import Svc, Who
from stocksync.api.schemas import MAX_INT64, EventOut, EventPage, Moment
from stocksync.app.records import LoggedEvent
from stocksync.app.service import EVENTS, Stocksync
from stocksync.core.errors import InvalidInput

router = APIRouter(prefix="/v1/events", tags=["events"])
After = Annotated[int, Query(ge=0, le=MAX_INT64)]
STREAM_BATCH = 500
HEARTBEAT_SECONDS = 15.0
WAIT_SLICE_SECONDS = 0.5


def event_out(e: LoggedEvent) -> EventOut:
    return EventOut(sequence=e.sequence, event_id=e.event_id, type=e.type, sku=e.sku,
                    location=e.location, quantity=e.quantity, on_hand_after=e.on_hand_after,
                    reserved_after=e.reserved_after, version=e.version, data=e.data,
                    source=e.source, actor=e.actor, idempotency_key=e.idempotency_key,
                    correlation_id=e.correlation_id, origin=e.origin,
                    occurred_at=e.occurred_at,
                    recorded_at=e.recorded_at)


def _page(svc: Stocksync, tenant_id: str, after: int, limit: int, sku: str | None,
          types: list[str], source: str | None = None, since: datetime | None = None,
          until: datetime | None = None) -> EventPage:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone, e.g. 2026-01-01T10:00:00Z",
                               field=name)
    with svc.uow(tenant_id, write=False) as uow:
        head = uow.log_head()
        events = uow.log.page(after, limit, sku=sku, types=types, source=source,
                              since=since, until=until)
    last = events[-1].sequence if events else None
    return EventPage(events=[event_out(e) for e in events],
                     next_after=last if last is not None else after, head=head)


@router.get("", response_model=EventPage)
def list_events(svc: Svc, who: Who, after: After = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                sku: str | None = None,
                type: Annotated[list[str] | None, Query()] = None,
                source: str | None = None, since: Moment | None = None,
                until: Moment | None = None) -> EventPage:
    """Events with position > `after`, in log order, optionally filtered by SKU, type,
    source (`api`, `pos:<channel>`, `shopify:<channel>`, `expirer`…) and recorded time
    [since, until). Positions are gap-free and only ever appended, so reading "after N"
    again later never misses one."""
    return _page(svc, who.tenant_id, after, limit, sku, type or [], source, since, until)


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def stream_events(request: Request, svc: Svc, who: Who, after: After = 0,
                        last_event_id: Annotated[int | None, Header(
                            alias="Last-Event-ID", ge=0, le=MAX_INT64,
                            description="sent by a reconnecting client: resume after it")]
                        = None) -> StreamingResponse:
    """Server-sent events: each ledger event as `id: <sequence>` / `data: <json>`."""
    start = last_event_id if last_event_id is not None else after

    async def frames() -> AsyncIterator[str]:
        cursor = start
        idle = 0.0
        bell = svc.bus.subscribe(EVENTS)
        try:
            yield ": connected\n\n"
            while not await request.is_disconnected():
                page = await anyio.to_thread.run_sync(
                    _page, svc, who.tenant_id, cursor, STREAM_BATCH, None, [])
                for e in page.events:
                    yield f"id: {e.sequence}\nevent: {e.type}\ndata: {e.model_dump_json()}\n\n"
                cursor = page.next_after
                if len(page.events) < STREAM_BATCH:
                    bell.clear()
                    # Wait in short slices so a closed connection is noticed within a second.
                    rang = await anyio.to_thread.run_sync(bell.wait, WAIT_SLICE_SECONDS)
                    idle = 0.0 if rang else idle + WAIT_SLICE_SECONDS
                    if idle >= HEARTBEAT_SECONDS:
                        idle = 0.0
                        yield ": heartbeat\n\n"
        finally:
            svc.bus.unsubscribe(EVENTS, bell)

    return StreamingResponse(frames(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})



"""Inbox (failed webhook deliveries: replay, dismiss) and the live log."""

from __future__ import annotations

from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from stocksync.api.routes.inbox import (
    DismissIn,
    dismiss_delivery,
    list_deliveries,
    replay_delivery,
)
from stocksync.api.routes.logs import stream_logs
from stocksync.web.deps import Svc, caller
from stocksync.web.render import api_refusal, page
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed

router = APIRouter(route_class=PageRoute)
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Status = Literal["failed", "pending", "done", "dismissed"]
HEARTBEAT_SECONDS = 15.0


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, svc: Svc, who: Signed, status: Status = "failed",
                after: Annotated[int, Query(ge=0)] = 0) -> Response:
    rows = await anyio.to_thread.run_sync(
        lambda: list_deliveries(svc, caller(who), status=status, after=after, limit=100))
    return page(request, "inbox.html", who, title="Inbox", rows=rows, status=status,
                after=after, next_after=rows[-1].id if len(rows) == 100 else None)


@router.post("/inbox/{delivery_id}/replay", response_class=HTMLResponse)
async def replay(request: Request, delivery_id: DeliveryId, svc: Svc, who: Signed) -> Response:
    row = await anyio.to_thread.run_sync(replay_delivery, delivery_id, svc, caller(who))
    return page(request, "fragments/delivery_row.html", who, d=row,
                note="queued again: it is applied within seconds")


@router.post("/inbox/{delivery_id}/dismiss", response_class=HTMLResponse)
async def dismiss(request: Request, delivery_id: DeliveryId, svc: Svc,
                  who: Signed) -> Response:
    """The reason comes from htmx's prompt (the HX-Prompt header)."""
    reason = (request.headers.get("HX-Prompt") or "").strip()[:1000] or None
    row = await anyio.to_thread.run_sync(
        lambda: dismiss_delivery(delivery_id, svc, caller(who), DismissIn(reason=reason)))
    if isinstance(row, Response):  # the API's 409: not dead-lettered
        return api_refusal(request, who, row) or row
    return page(request, "fragments/delivery_row.html", who, d=row, note="dismissed")


@router.get("/logs", response_class=HTMLResponse)
def logs(request: Request, who: Signed, sku: str = "", channel: str = "") -> Response:
    return page(request, "logs.html", who, title="Live log", sku=sku, channel=channel)


@router.get("/logs/stream")
async def log_stream(request: Request, who: Signed) -> StreamingResponse:
    """The API's own stream (GET /v1/logs/stream) for the signed-in tenant; the page reads
    it with fetch and filters it by SKU and channel as entries arrive."""
    return await stream_logs(request, caller(who))

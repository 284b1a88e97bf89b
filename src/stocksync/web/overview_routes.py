"""The overview page, its live fragment (htmx polls it) and the same facts as JSON."""

from __future__ import annotations

import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response

from stocksync.web.deps import Svc, caller
from stocksync.web.render import page
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed
from stocksync.web.status import status

router = APIRouter(route_class=PageRoute)
POLL_SECONDS = 2


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request, svc: Svc, who: Signed) -> Response:
    facts = await anyio.to_thread.run_sync(status, svc, caller(who))
    return page(request, "overview.html", who, title="Overview", s=facts, poll=POLL_SECONDS)


@router.get("/overview/live", response_class=HTMLResponse)
async def overview_live(request: Request, svc: Svc, who: Signed) -> Response:
    facts = await anyio.to_thread.run_sync(status, svc, caller(who))
    return page(request, "fragments/overview_live.html", who, s=facts, poll=POLL_SECONDS)


@router.get("/api/status")
async def api_status(svc: Svc, who: Signed) -> JSONResponse:
    """The overview's facts as JSON, for the signed-in tenant (session cookie)."""
    facts = await anyio.to_thread.run_sync(status, svc, caller(who))
    return JSONResponse(jsonable_encoder(facts), headers={"Cache-Control": "no-store"})

"""Connecting a store by its platform's authorisation flow, testing a channel's
connection, and a new channel's preview and confirmation: the pages over
/v1/connect/{kind} and /v1/channels/{code}/test|preview|confirm (connect/)."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocksync.api.routes.connect import (
    DASHBOARD_FLOWS,
    confirm_channel,
    preview_channel,
    test_connection,
)
from stocksync.connect import service
from stocksync.web.deps import Svc, caller
from stocksync.web.render import page
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed

router = APIRouter(route_class=PageRoute)
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
KINDS = sorted(kind.value for kind in service.FLOWS)


@router.post("/channels/connect")
async def connect(request: Request, svc: Svc, who: Signed,
                  kind: Annotated[str, Form(max_length=32)],
                  code: Annotated[str, Form(max_length=64)],
                  locations: Annotated[list[str], Form(min_length=1)],
                  name: Annotated[str, Form(max_length=200)] = "",
                  initial_sync: Annotated[Literal["preview", "push"], Form()] = "preview",
                  shop: Annotated[str, Form(max_length=300)] = "",
                  store_url: Annotated[str, Form(max_length=300)] = "",
                  location_id: Annotated[str, Form(max_length=100)] = "") -> Response:
    """Start the flow and send the browser to the platform; it comes back to
    /v1/connect/{kind}/callback, which creates the channel (in preview unless asked)."""
    platform = {k: v.strip() for k, v in (("shop", shop), ("store_url", store_url)) if v}
    asked = service.ChannelAsked(
        code=code.strip(), name=name.strip() or code.strip(), locations=locations,
        settings={"location_id": location_id.strip()} if location_id.strip() else {},
        initial_sync=initial_sync, platform=platform)
    started = await anyio.to_thread.run_sync(
        service.start, svc, who.tenant_id, kind, asked, str(request.base_url))
    # The callback then lands the merchant on the channel's page (a few flows at once).
    others = [c for c in request.session.get(DASHBOARD_FLOWS, []) if c != asked.code]
    request.session[DASHBOARD_FLOWS] = [*others, asked.code][-5:]
    return RedirectResponse(started["authorize_url"], status_code=303)


@router.post("/channels/{code}/test", response_class=HTMLResponse)
async def test(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    result = await test_connection(code, svc, caller(who))
    return page(request, "fragments/connection_test.html", who, t=result)


@router.get("/channels/{code}/preview", response_class=HTMLResponse)
async def preview(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    found = await preview_channel(code, svc, caller(who))
    return page(request, "fragments/channel_preview.html", who, p=found, code=code)


@router.post("/channels/{code}/confirm")
async def confirm(code: Code, svc: Svc, who: Signed) -> Response:
    done = await anyio.to_thread.run_sync(confirm_channel, code, svc, caller(who))
    note = "confirmed: the first push starts now" if done["confirmed"] else \
        "this channel was not in preview"
    return RedirectResponse(f"/channels/{code}?note={quote(note)}", status_code=303)

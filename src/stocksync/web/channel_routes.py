"""Channels: their cards, pause/resume, rules, and the SKU mapping editor (search, edit a
channel id, re-discover), through the same functions as /v1/channels."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from stocksync.api.routes.catalog import list_locations
from stocksync.api.routes.channels import (
    ChannelPatch,
    RulesIn,
    SkuMappingIn,
    change_channel,
    discover_mapping,
    get_channel,
    list_channel_skus,
    map_channel_sku,
    resync_channel,
)
from stocksync.channels import registry
from stocksync.connect import preview as previews
from stocksync.core.channels import ChannelKind
from stocksync.web.connect_routes import KINDS
from stocksync.web.deps import Svc, caller
from stocksync.web.render import api_refusal, page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer
from stocksync.web.status import channel_cards

router = APIRouter(route_class=PageRoute)
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
SkuPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-/]{1,64}$")]
PAGE = 50


@router.get("/channels", response_class=HTMLResponse)
async def channels(request: Request, svc: Svc, who: Signed) -> Response:
    cards = await anyio.to_thread.run_sync(channel_cards, svc, caller(who))
    locations = await anyio.to_thread.run_sync(list_locations, svc, caller(who))
    return page(request, "channels.html", who, title="Channels", cards=cards,
                locations=locations, kinds=KINDS)


def _detail(svc: Svc, who: Viewer, code: str, q: str) -> dict[str, Any]:
    channel = get_channel(code, svc, caller(who))
    # "Search" starts the page at the first SKU at or after what was typed.
    after = q[:-1] + chr(ord(q[-1]) - 1) + "\U0010ffff" if q else None
    skus = list_channel_skus(code, svc, caller(who), after=after, limit=PAGE + 1)
    field = registry.connector_class(ChannelKind(channel.kind)).mapping_field
    in_preview = previews.state_of(svc, who.tenant_id, code) is not None
    state = "preview" if in_preview else (channel.status.state if channel.status else "")
    return {"channel": channel, "skus": skus[:PAGE], "q": q, "field": field, "state": state,
            "next_after": skus[PAGE]["sku"] if len(skus) > PAGE else None}


@router.get("/channels/{code}", response_class=HTMLResponse)
async def channel(request: Request, code: Code, svc: Svc, who: Signed,
                  q: Annotated[str, Query(max_length=64)] = "",
                  note: Annotated[str, Query(max_length=200)] = "") -> Response:
    view = await anyio.to_thread.run_sync(_detail, svc, who, code, q)
    return page(request, "channel.html", who, title=code, note=note, **view)


async def _patch(request: Request, svc: Svc, who: Viewer, code: str,
                 body: ChannelPatch, note: str) -> Response:
    answer = await anyio.to_thread.run_sync(
        lambda: change_channel(request, code, body, svc, caller(who), verify=False))
    return api_refusal(request, who, answer) or RedirectResponse(
        f"/channels/{code}?note={quote(note)}", status_code=303)


@router.post("/channels/{code}/pause")
async def pause(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    return await _patch(request, svc, who, code, ChannelPatch(enabled=False), "paused")


@router.post("/channels/{code}/resume")
async def resume(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    return await _patch(request, svc, who, code, ChannelPatch(enabled=True), "resumed")


@router.post("/channels/{code}/rules")
async def rules(request: Request, code: Code, svc: Svc, who: Signed,
                safety_buffer: Annotated[int, Form(ge=0)] = 0,
                allocation_percent: Annotated[int, Form(ge=0, le=100)] = 100,
                max_quantity: Annotated[str, Form(max_length=12)] = "",
                include: Annotated[str, Form(max_length=5000)] = "",
                exclude: Annotated[str, Form(max_length=5000)] = "") -> Response:
    def patterns(text: str) -> list[str]:
        return [p.strip() for p in text.replace("\n", ",").split(",") if p.strip()]

    try:
        body = ChannelPatch(rules=RulesIn(
            safety_buffer=safety_buffer, allocation_percent=allocation_percent,
            max_quantity=int(max_quantity) if max_quantity.strip() else None,
            include=patterns(include), exclude=patterns(exclude)))
    except (ValueError, ValidationError) as exc:
        return problem(request, who, f"rules not saved: {exc}", 422)
    return await _patch(request, svc, who, code, body, "rules saved")


@router.post("/channels/{code}/resync")
async def resync(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    answer = await anyio.to_thread.run_sync(
        lambda: resync_channel(request, code, svc, caller(who)))
    return api_refusal(request, who, answer) or RedirectResponse(
        f"/channels/{code}?note={quote('every SKU will be pushed again')}", status_code=303)


@router.post("/channels/{code}/skus/{sku:path}", response_class=HTMLResponse)
async def map_sku(request: Request, code: Code, sku: SkuPath, svc: Svc, who: Signed,
                  field: Annotated[str, Form(max_length=64)],
                  value: Annotated[str, Form(min_length=1, max_length=200)]) -> Response:
    answer = await anyio.to_thread.run_sync(lambda: map_channel_sku(
        request, code, sku, SkuMappingIn(external_ids={field: value.strip()}), svc,
        caller(who)))
    refused = api_refusal(request, who, answer)
    return refused or page(request, "fragments/problem.html", who, status_code=200,
                           message=f"{sku}: {field} = {value.strip()} saved")


@router.post("/channels/{code}/discover")
async def discover(request: Request, code: Code, svc: Svc, who: Signed) -> Response:
    found = await discover_mapping(code, svc, caller(who))
    note = found.get("note") or f"{found['discovered']} SKUs found, " \
        f"{len(found['missing'])} missing on the channel"
    return RedirectResponse(f"/channels/{code}?note={quote(note)}", status_code=303)

"""Connecting stores by their platform's authorisation flow, testing a channel's
connection, and a new channel's preview and confirmation.

    GET  /v1/connect/{kind}            start (API key): the platform URL to send the
                                       merchant to (JSON, or 302 with redirect=true)
    GET  /v1/connect/{kind}/callback   where the platform sends the merchant back
    POST /v1/connect/{kind}/callback   WooCommerce: the store POSTs the keys here
    GET  /v1/connect/{kind}/return     WooCommerce: where the merchant's browser lands
    POST /v1/channels/{code}/test      the connection test, on demand
    GET  /v1/channels/{code}/preview   dry run: what the first push would change
    POST /v1/channels/{code}/confirm   end the preview: pushing starts
    POST /v1/channels/{code}/refresh   Square: a new access token from the refresh token
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal
from urllib.parse import quote

import anyio
import httpx
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from stocksync.api.deps import Svc, Who
from stocksync.api.errors import documented, json_error
from stocksync.app.channel_check import ChannelUnreachable, check_credentials
from stocksync.connect import preview as previews
from stocksync.connect import service, square
from stocksync.connect.testing import test_channel
from stocksync.core.channels import CODE_PATTERN, ChannelKind
from stocksync.core.errors import InvalidInput, NotFound

router = APIRouter(tags=["connect"])
Code = Annotated[str, Path(pattern=CODE_PATTERN)]
SETTING = "setting."


def _unreachable(exc: ChannelUnreachable) -> JSONResponse:
    if exc.retry_after is None:
        return json_error(502, exc.code, exc.message, exc.details)
    return json_error(503, exc.code, exc.message, exc.details,
                      {"Retry-After": str(max(1, math.ceil(exc.retry_after)))})


@router.get("/v1/connect/{kind}", responses=documented(422))
def start_connection(
        request: Request, kind: str, svc: Svc, who: Who,
        code: Annotated[str, Query(pattern=CODE_PATTERN, description="the new channel's "
                                   "code")],
        location: Annotated[list[str], Query(min_length=1, description="stocksync "
                                             "location(s) whose stock it sells")],
        name: Annotated[str | None, Query(max_length=200)] = None,
        initial_sync: Literal["preview", "push"] = "preview",
        shop: Annotated[str | None, Query(description="Shopify: acme.myshopify.com")] = None,
        store_url: Annotated[str | None, Query(description="WooCommerce: the store's "
                                               "address")] = None,
        redirect: bool = False) -> Response:
    """Start connecting a store. Channel settings go as `setting.<name>=<value>` (e.g.
    `setting.location_id` for Shopify and Square). The app's client id and secret come
    from this stocksync's settings (STOCKSYNC_<PLATFORM>_…), never from the request."""
    settings = {k[len(SETTING):]: v for k, v in request.query_params.items()
                if k.startswith(SETTING) and v}
    platform = {k: v for k, v in (("shop", shop), ("store_url", store_url)) if v}
    asked = service.ChannelAsked(code=code, name=name or code, locations=location,
                                 settings=settings, initial_sync=initial_sync,
                                 platform=platform)
    started = service.start(svc, who.tenant_id, kind, asked, str(request.base_url))
    if redirect:
        return RedirectResponse(started["authorize_url"], status_code=302)
    return JSONResponse(started)


# Session key: channel codes whose flow the dashboard's connect form started (web/).
DASHBOARD_FLOWS = "connect_return"


def _dashboard_landing(request: Request, code: str, note: str) -> Response | None:
    """A flow started from the dashboard lands the merchant on the channel's page (the
    session cookie is SameSite=Lax: sent on the platform's redirect back). A flow started
    through the API has no such session entry and gets the JSON answer as before."""
    if "session" not in request.scope or code not in request.session.get(DASHBOARD_FLOWS, []):
        return None
    request.session[DASHBOARD_FLOWS] = [
        c for c in request.session[DASHBOARD_FLOWS] if c != code]
    return RedirectResponse(f"/channels/{code}?note={quote(note)}", status_code=303)


@router.get("/v1/connect/{kind}/callback", status_code=201,
            responses=documented(400, 422, 502))
async def connection_callback(request: Request, kind: str, svc: Svc) -> Response:
    """The platform sends the merchant back here (no API key: the single-use state
    nonce names the tenant). Creates the channel, in preview unless asked otherwise."""
    try:
        done = await service.finish(svc, kind, dict(request.query_params))
    except ChannelUnreachable as exc:
        return _unreachable(exc)
    return _dashboard_landing(request, done["channel"], f"connected: {done['state']}") \
        or JSONResponse(done, status_code=201)


@router.post("/v1/connect/{kind}/callback", responses=documented(400, 422, 502))
async def connection_keys(request: Request, kind: str, svc: Svc) -> Response:
    """WooCommerce POSTs the generated keys here (JSON); 200 lets the store keep them."""
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("the callback body must be a JSON object", field="body")
    try:
        done = await service.finish(svc, kind, {k: str(v) for k, v in body.items()})
    except ChannelUnreachable as exc:
        return _unreachable(exc)
    return JSONResponse(done)


@router.get("/v1/connect/{kind}/return")
def connection_return(kind: str, svc: Svc, user_id: str = "", success: str = "",
                      state: str = "") -> dict[str, Any]:
    """Where WooCommerce sends the merchant's browser after approving: what happened."""
    outcome = service.outcome(svc, kind, user_id or state)
    return {**outcome, "approved": success != "0"}


@router.post("/v1/channels/{code}/test")
async def test_connection(code: Code, svc: Svc, who: Who) -> dict[str, Any]:
    """Ask the platform whether it accepts the channel's credentials now: what was
    checked, `ok`, and the platform's error when it did not."""
    return await test_channel(svc, who.tenant_id, code)


@router.get("/v1/channels/{code}/preview")
async def preview_channel(code: Code, svc: Svc, who: Who) -> dict[str, Any]:
    """Dry run of the first push: each SKU the store shows differently from what
    stocksync would set, SKUs missing there, and SKUs only the store lists."""
    return await previews.preview(svc, who.tenant_id, code)


@router.post("/v1/channels/{code}/confirm")
def confirm_channel(code: Code, svc: Svc, who: Who) -> dict[str, Any]:
    """End the preview: the channel is enabled and its first push starts."""
    return previews.confirm(svc, who.tenant_id, code)


@router.post("/v1/channels/{code}/refresh", responses=documented(422, 502))
async def refresh_token(code: Code, svc: Svc, who: Who) -> Response:
    """Square: a new access token from the stored refresh token (ObtainToken,
    refresh_token grant), tested, then stored. eBay and Amazon connectors refresh their
    own access tokens; Shopify offline tokens and WooCommerce keys do not expire."""
    assert svc.box is not None
    box = svc.box

    def load() -> tuple[Any, dict[str, str]]:
        with svc.uow(who.tenant_id, write=False) as uow:
            channel = uow.channels.get(code)
            if channel is None:
                raise NotFound(f"no channel {code}", channel=code)
            sealed = uow.channels.sealed_credentials(code)
        return channel, box.open(sealed) if sealed else {}

    channel, credentials = await anyio.to_thread.run_sync(load)
    if channel.kind is not ChannelKind.SQUARE:
        raise InvalidInput(f"{channel.kind.value} channels need no token refresh here",
                           field="code")
    try:
        async with httpx.AsyncClient() as client:
            fresh = await square.refresh(svc.settings, client, credentials)
        await check_credentials(channel, fresh)
    except ChannelUnreachable as exc:
        return _unreachable(exc)

    def store() -> None:
        with svc.uow(who.tenant_id) as uow:
            uow.channels.change(channel, box.seal(fresh), svc.clock())
            uow.commit()

    await anyio.to_thread.run_sync(store)
    return JSONResponse({"channel": code, "expires_at": fresh.get("expires_at")})

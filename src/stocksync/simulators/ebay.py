"""Protocol-faithful eBay Sell Inventory API simulator (stock), a product feature.

    POST /identity/v1/oauth2/token              refresh_token / client_credentials grants
    GET  /sell/inventory/v1/inventory_item[/{sku}], POST .../bulk_get_inventory_item
    PUT  /sell/inventory/v1/inventory_item/{sku}  createOrReplaceInventoryItem
    POST /sell/inventory/v1/bulk_update_price_quantity
    GET  /sell/inventory/v1/offer?sku=..., GET .../offer/{offerId}
    GET  /developer/analytics/v1_beta/rate_limit/ and /user_rate_limit/   quota usage
    GET  /_sim/state                  items, offers, listings, revisions today, quota
    POST /_sim/items                  {sku, quantity, title?, marketplace_id?, published?,
                                       listing_id?, offer?, offer_quantity?, price?,
                                       merchant_location_key?}
    PUT  /_sim/inventory/{sku}        {quantity, offer_quantity?, revision?}: Seller Hub edit
    GET  /sell/fulfillment/v1/order   getOrders (simulators/ebay_orders.py)
    GET  /commerce/notification/v1/public_key/{kid}   notification signing key (app token)
    POST /_sim/orders                 {sku, quantity, marketplace_id?}: a buyer purchases
    POST /_sim/orders/{id}/cancel     {relist}: the order is cancelled (relist: units back)
    GET/PUT /_sim/notifications       sent ORDER_CONFIRMATIONs / {url}: where to POST them
    POST /_sim/offers                 {sku, marketplace_id, available_quantity}: one more
                                      marketplace offer (own listing) of an existing item
    GET/POST /_sim/faults             latency_ms, fail_next_n, fail_status, force_rate_limit,
                                      unauthorized_next_n, expire_tokens, access_token_ttl_s,
                                      revision_cap, skus_per_call, call_limit, call_window_s
    POST /_sim/revisions/reset        the next calendar day: revision counts start over
    GET/DELETE /_sim/requests         every call received, with its outcome
    GET  /_sim/violations             limit violations the client committed

Wire format: /work/shared/channels/ebay.md. Start it with `run(port)` or mount
`create_app(config)` anywhere (tests run it in a thread via simulators/server.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from dataclasses import asdict
from urllib.parse import parse_qs

import uvicorn
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.simulators import ebay_catalog
from stocksync.simulators import ebay_inventory as inventory
from stocksync.simulators import ebay_order_routes as order_routes
from stocksync.simulators.ebay_oauth import mount_oauth
from stocksync.simulators.ebay_orders import OrderBook
from stocksync.simulators.ebay_state import (
    GRANTED_SCOPES,
    EbaySimConfig,
    EbaySimState,
    JsonObject,
    RequestRecord,
    ebay_error,
    now_iso,
)

__all__ = ["EbaySimConfig", "EbaySimState", "create_app", "run"]

BASE = "/sell/inventory/v1"
ANALYTICS = "/developer/analytics/v1_beta"
TOKEN_PATH = "/identity/v1/oauth2/token"
INVALID_TOKEN = 1001  # "Invalid access token" (domain OAuth)
ACCESS_DENIED = 1100  # "Access denied" / "Insufficient permissions to fulfill the request."
TOO_MANY_REQUESTS = 2001  # commonly reported quota error (ebay.md §5, unconfirmed)
SYSTEM_ERROR = 25001


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=0)
    title: str = "Simulated item"
    marketplace_id: str = "EBAY_US"
    offer: bool = True
    published: bool = True
    listing_id: str | None = None  # join this multi-variation listing
    offer_quantity: int | None = Field(None, ge=0)
    price: str = "9.99"
    merchant_location_key: str | None = None


class InventoryIn(BaseModel):
    quantity: int = Field(ge=0)
    offer_quantity: int | None = Field(None, ge=0)
    revision: bool = False  # count it against the listing's daily revision cap


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    force_rate_limit: bool | None = None
    unauthorized_next_n: int | None = Field(None, ge=0)
    expire_tokens: bool = False  # every token issued so far expires now
    access_token_ttl_s: float | None = Field(None, ge=1)
    revision_cap: int | None = Field(None, ge=0)
    skus_per_call: int | None = Field(None, ge=1, le=25)
    call_limit: int | None = Field(None, ge=0)
    call_window_s: float | None = Field(None, gt=0)


def create_app(config: EbaySimConfig | None = None) -> FastAPI:
    """The simulator app; its state is `app.state.sim` (an EbaySimState)."""
    config = config or EbaySimConfig()
    sim = EbaySimState(config)
    app = FastAPI(title="stocksync eBay simulator")
    app.state.sim = sim
    ebay_catalog.install(app, sim)  # product content (content sync)

    def record(request: Request, status: int, outcome: str,
               result: inventory.Answer | None = None, body: JsonObject | None = None) -> None:
        sim.record(RequestRecord(
            sim.next_seq(), now_iso(), request.method, request.url.path, status, outcome,
            list(result.skus) if result else [], list(result.error_ids) if result else [],
            body))

    def refuse(request: Request, status: int, outcome: str, error: JsonObject,
               headers: dict[str, str] | None = None) -> JSONResponse:
        record(request, status, outcome)
        return JSONResponse({"errors": [error]}, status_code=status, headers=headers)

    async def gate(request: Request, *, needs: str, counted: bool) -> JSONResponse | None:
        """Auth, then the quota (on arrival, before any latency), then injected faults."""
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else None
        status = sim.token_status(token)
        if sim.faults.unauthorized_next_n > 0:
            sim.faults.unauthorized_next_n -= 1
            status = "unknown"
        if status in ("unknown", "expired"):
            if status == "expired" and config.expired_token_status == 403:
                return refuse(request, 403, "expired_token", ebay_error(
                    ACCESS_DENIED, "Access denied", domain="ACCESS",
                    long_message="Insufficient permissions to fulfill the request."))
            return refuse(request, 401, "expired_token" if status == "expired" else
                          "unauthorized", ebay_error(
                              INVALID_TOKEN, "Invalid access token", domain="OAuth",
                              long_message="Invalid access token. Check the value of the "
                                           "Authorization HTTP request header."))
        if status != needs:
            return refuse(request, 403, "unauthorized", ebay_error(
                ACCESS_DENIED, "Access denied", domain="ACCESS",
                long_message="Insufficient permissions to fulfill the request."))
        retry = ({"Retry-After": str(config.retry_after_s)}
                 if config.retry_after_s is not None else None)
        too_many = ebay_error(TOO_MANY_REQUESTS, "Too many requests", domain="ACCESS",
                              long_message="The request limit has been reached for the "
                                           "resource.")
        if sim.faults.force_rate_limit:
            return refuse(request, 429, "forced_rate_limited", too_many, retry)
        if counted and not sim.quota.take():
            sim.violate("rate_limited", f"{request.method} {request.url.path} beyond "
                        f"{sim.quota.limit} calls per {sim.quota.window_s:g} s")
            return refuse(request, 429, "rate_limited", too_many, retry)
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        if sim.faults.fail_next_n > 0:
            sim.faults.fail_next_n -= 1
            return refuse(request, sim.faults.fail_status, "fault", ebay_error(
                SYSTEM_ERROR, "A system error has occurred.", category="APPLICATION"))
        return None

    def answer(request: Request, result: inventory.Answer, logged: JsonObject | None = None
               ) -> Response:
        outcome = {200: "ok", 201: "ok", 204: "ok", 207: "partial", 404: "not_found"}.get(
            result.status, "bad_request")
        record(request, result.status, outcome, result, logged)
        if result.body is None:
            return Response(status_code=result.status)
        return JSONResponse(result.body, status_code=result.status)

    async def json_body(request: Request) -> object:
        try:
            return json.loads(await request.body())
        except ValueError:
            return None

    # -- OAuth (ebay.md §1) ----------------------------------------------------------------
    @app.post(TOKEN_PATH)
    async def token(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if _basic(request.headers.get("Authorization")) != (config.client_id,
                                                            config.client_secret):
            return _oauth_error(sim, request, 401, "invalid_client",
                                "client authentication failed")
        grant = form.get("grant_type")
        scopes = set(form.get("scope", "").split())
        if not scopes <= GRANTED_SCOPES:
            return _oauth_error(sim, request, 400, "invalid_scope", "The requested scope is "
                                "invalid, unknown, malformed, or exceeds the scope granted "
                                "to the client")
        if grant == "client_credentials":
            access, ttl = sim.issue_token("app", frozenset(scopes))
            record(request, 200, "token_issued")
            return JSONResponse({"access_token": access, "expires_in": ttl,
                                 "token_type": "Application Access Token"})
        if grant != "refresh_token":
            return _oauth_error(sim, request, 400, "unsupported_grant_type",
                                "grant type in request is not supported by the authorization "
                                "server")
        if form.get("refresh_token") != config.refresh_token:
            return _oauth_error(sim, request, 400, "invalid_grant", "the provided "
                                "authorization refresh token is invalid or was issued to "
                                "another client")
        if not sim.refresh_quota.take():
            sim.violate("token_quota", "refresh_token grants beyond the daily limit")
            return _oauth_error(sim, request, 429, "too_many_requests",
                                "the daily refresh_token grant limit was reached")
        access, ttl = sim.issue_token("user", frozenset(scopes))
        record(request, 200, "token_issued")
        return JSONResponse({"access_token": access, "expires_in": ttl,
                             "token_type": "User Access Token"})

    # -- Sell Inventory API ------------------------------------------------------------------
    @app.get(f"{BASE}/inventory_item")
    async def get_items(request: Request, limit: int = 100, offset: int = 0) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        href = str(request.url.remove_query_params(["limit", "offset"]))
        return answer(request, inventory.get_items(sim, href, limit, offset))

    @app.get(f"{BASE}/inventory_item/{{sku:path}}")
    async def get_item(sku: str, request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        return answer(request, inventory.get_item(sim, sku))

    @app.put(f"{BASE}/inventory_item/{{sku:path}}")
    async def replace_item(sku: str, request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        return answer(request, inventory.replace_item(
            sim, sku, await json_body(request), request.headers.get("Content-Language")))

    @app.post(f"{BASE}/bulk_get_inventory_item")
    async def bulk_get(request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        return answer(request, inventory.bulk_get_items(sim, await json_body(request)))

    @app.post(f"{BASE}/bulk_update_price_quantity")
    async def bulk_update(request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        body = await json_body(request)
        result = inventory.bulk_update_price_quantity(sim, body)
        return answer(request, result, body if isinstance(body, dict) else None)

    @app.get(f"{BASE}/offer")
    async def get_offers(request: Request, sku: str | None = None,
                         marketplace_id: str | None = None,
                         listing_format: str | None = Query(None, alias="format"),
                         limit: int = 100, offset: int = 0) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        href = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
        return answer(request, inventory.get_offers(sim, href, sku, marketplace_id, listing_format,
                                                    max(1, limit), max(0, offset)))

    @app.get(f"{BASE}/offer/{{offer_id}}")
    async def get_offer(offer_id: str, request: Request) -> Response:
        if (refused := await gate(request, needs="user", counted=True)) is not None:
            return refused
        return answer(request, inventory.get_offer(sim, offer_id))

    # -- Developer Analytics (ebay.md §5) ------------------------------------------------------
    async def rate_limits(request: Request, needs: str) -> Response:
        if (refused := await gate(request, needs=needs, counted=False)) is not None:
            return refused
        result = inventory.Answer(200, {"rateLimits": [{
            "apiContext": "sell", "apiName": "Inventory", "apiVersion": "v1",
            "resources": [{"name": "sell.inventory", "rates": [sim.quota.rate()]}]}]})
        return answer(request, result)

    ebay_catalog.install_offers(app, sim, gate, lambda request, status, body, skus: answer(
        request, inventory.Answer(status, body, skus)))  # content sync: create listings

    @app.get(f"{ANALYTICS}/rate_limit/")
    async def app_rate_limits(request: Request) -> Response:
        return await rate_limits(request, "app")

    @app.get(f"{ANALYTICS}/user_rate_limit/")
    async def user_rate_limits(request: Request) -> Response:
        return await rate_limits(request, "user")

    _admin_routes(app, sim)
    order_routes.register(app, sim, OrderBook(config.notification_url), gate, answer, refuse)
    mount_oauth(app, config)  # the store-connection flow (issue 14)
    return app


def _admin_routes(app: FastAPI, sim: EbaySimState) -> None:
    @app.get("/_sim/state")
    async def state() -> JsonObject:
        return sim.snapshot()

    @app.post("/_sim/items", status_code=201)
    async def add_item(body: ItemIn) -> JsonObject:
        try:
            item, offer = sim.add_item(
                body.sku, body.quantity, title=body.title, marketplace_id=body.marketplace_id,
                offer=body.offer, published=body.published, listing_id=body.listing_id,
                price=body.price, offer_quantity=body.offer_quantity,
                merchant_location_key=body.merchant_location_key)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        except KeyError as exc:
            raise HTTPException(404, f"unknown listing {exc.args[0]!r}") from exc
        return {"sku": item.sku, "offerId": offer.offer_id if offer else None,
                "listingId": offer.listing_id if offer else None}

    @app.put("/_sim/inventory/{sku:path}")
    async def set_inventory(sku: str, body: InventoryIn) -> JsonObject:
        if sku not in sim.items:
            raise HTTPException(404, f"unknown SKU {sku!r}")
        sim.merchant_sets(sku, body.quantity, body.offer_quantity, body.revision)
        return sim.snapshot()["items"][sku]

    @app.get("/_sim/faults")
    async def get_faults() -> JsonObject:
        return _faults(sim)

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsIn) -> JsonObject:
        for name in ("latency_ms", "fail_next_n", "fail_status", "force_rate_limit",
                     "unauthorized_next_n"):
            value = getattr(body, name)
            if value is not None:
                setattr(sim.faults, name, value)
        if body.expire_tokens:
            sim.expire_tokens()
        for name in ("access_token_ttl_s", "revision_cap", "skus_per_call"):
            value = getattr(body, name)
            if value is not None:
                setattr(sim, name, value)
        if body.call_limit is not None:
            sim.quota.limit = body.call_limit
        if body.call_window_s is not None:
            sim.quota.window_s, sim.quota.window = body.call_window_s, -1
        return _faults(sim)

    @app.post("/_sim/revisions/reset")
    async def next_day() -> JsonObject:
        sim.new_revision_day()
        return {"revisions": {}}

    @app.get("/_sim/requests")
    async def requests() -> list[JsonObject]:
        return [asdict(r) for r in sim.requests]

    @app.delete("/_sim/requests", status_code=204)
    async def clear_requests() -> None:
        sim.requests.clear()

    @app.get("/_sim/violations")
    async def violations() -> JsonObject:
        return sim.violations_report()


def _faults(sim: EbaySimState) -> JsonObject:
    return {**asdict(sim.faults), "access_token_ttl_s": sim.access_token_ttl_s,
            "revision_cap": sim.revision_cap, "skus_per_call": sim.skus_per_call,
            "call_limit": sim.quota.limit, "call_window_s": sim.quota.window_s}


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def _oauth_error(sim: EbaySimState, request: Request, status: int, error: str,
                 description: str) -> JSONResponse:
    sim.record(RequestRecord(sim.next_seq(), now_iso(), request.method, request.url.path,
                             status, "token_refused"))
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def run(port: int, host: str = "127.0.0.1", config: EbaySimConfig | None = None) -> None:
    """Serve the simulator until interrupted (`stocksync simulate ebay --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

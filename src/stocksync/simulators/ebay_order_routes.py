"""HTTP routes of the eBay simulator's orders: getOrders, getPublicKey and the admin
routes that make buyers purchase and sellers cancel (state in simulators/ebay_orders.py).

getOrders needs a user token with a sell.fulfillment scope (else 403 "Access denied", as
eBay answers a token without the scope) and counts against the Fulfillment API's own
quota; getPublicKey needs an application token (client-credentials grant).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

import httpx
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.simulators.ebay_inventory import Answer
from stocksync.simulators.ebay_orders import OrderBook
from stocksync.simulators.ebay_state import (
    FULFILLMENT_SCOPES,
    EbaySimState,
    JsonObject,
    ebay_error,
)

ACCESS_DENIED = 1100
TOO_MANY_REQUESTS = 2001


class Gate(Protocol):
    def __call__(self, request: Request, *, needs: str, counted: bool
                 ) -> Awaitable[JSONResponse | None]: ...


AnswerFn = Callable[[Request, Answer], Response]
RefuseFn = Callable[..., JSONResponse]


class PurchaseIn(BaseModel):
    sku: str
    quantity: int = Field(gt=0)
    marketplace_id: str | None = None  # the offer's marketplace (default: the first)


class OfferIn(BaseModel):
    sku: str
    marketplace_id: str
    available_quantity: int = Field(ge=0)
    published: bool = True


class CancelIn(BaseModel):
    relist: bool = False  # the seller asks eBay to put the units back on the listing


class NotificationsIn(BaseModel):
    url: str | None = None
    # createDestination's verificationToken: when given, eBay validates the endpoint
    # with GET <url>?challenge_code=X before it sends anything there.
    verification_token: str | None = None


def register(app: FastAPI, sim: EbaySimState, book: OrderBook, gate: Gate,
             answer: AnswerFn, refuse: RefuseFn) -> None:
    @app.get("/sell/fulfillment/v1/order")
    async def get_orders(request: Request, orderIds: str | None = None,
                         filter: str | None = None, limit: int | None = None,
                         offset: int | None = None) -> Response:
        if (refused := await gate(request, needs="user", counted=False)) is not None:
            return refused
        token = request.headers.get("Authorization", "")[7:]
        if not sim.token_scopes.get(token, frozenset()) & FULFILLMENT_SCOPES:
            return refuse(request, 403, "unauthorized", ebay_error(
                ACCESS_DENIED, "Access denied", domain="ACCESS",
                long_message="Insufficient permissions to fulfill the request."))
        if not sim.fulfillment_quota.take():
            sim.violate("rate_limited", "getOrders beyond the Fulfillment API quota")
            return refuse(request, 429, "rate_limited", ebay_error(
                TOO_MANY_REQUESTS, "Too many requests", domain="ACCESS"))
        base = str(request.url.remove_query_params(["offset"]))
        status, body = book.search(base, orderIds, filter, limit, offset)
        return answer(request, Answer(status, body))

    @app.get("/commerce/notification/v1/public_key/{kid}")
    async def public_key(kid: str, request: Request) -> Response:
        if (refused := await gate(request, needs="app", counted=False)) is not None:
            return refused
        if kid != book.kid:
            return answer(request, Answer(404, {"errors": [ebay_error(
                195001, "The specified public key was not found.",
                domain="API_NOTIFICATION")]}))
        return answer(request, Answer(200, book.public_key()))

    @app.post("/_sim/offers", status_code=201)
    async def add_offer(body: OfferIn) -> JsonObject:
        """Offer an existing item on one more marketplace (its own listing)."""
        try:
            offer = sim.add_offer(body.sku, body.marketplace_id, body.available_quantity,
                                  published=body.published)
        except KeyError as exc:
            raise HTTPException(404, f"unknown SKU {body.sku!r}") from exc
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"sku": offer.sku, "offerId": offer.offer_id, "listingId": offer.listing_id,
                "marketplaceId": offer.marketplace_id}

    @app.post("/_sim/orders", status_code=201)
    async def purchase(body: PurchaseIn) -> JsonObject:
        if body.sku not in sim.items:
            raise HTTPException(404, f"unknown SKU {body.sku!r}")
        try:
            order = book.purchase(sim, body.sku, body.quantity, body.marketplace_id)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        return {**order.json(), "item": sim.snapshot()["items"][body.sku]}

    @app.post("/_sim/orders/{order_id}/cancel")
    async def cancel(order_id: str, body: CancelIn) -> JsonObject:
        if order_id not in book.orders:
            raise HTTPException(404, f"unknown order {order_id!r}")
        try:
            return book.cancel(sim, order_id, body.relist).json()
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc

    @app.get("/_sim/notifications")
    async def notifications() -> JsonObject:
        return {"url": book.notification_url, "kid": book.kid, "sent": book.outbox,
                "delivered": book.delivered}

    @app.put("/_sim/notifications")
    async def set_notifications(body: NotificationsIn) -> JsonObject:
        verified = None
        if body.url and body.verification_token:
            verified = await _challenge(body.url, body.verification_token)
            if not verified:
                raise HTTPException(409, "the endpoint did not answer eBay's challenge")
        book.notification_url = body.url
        return {"url": book.notification_url, "kid": book.kid, "verified": verified}


async def _challenge(url: str, token: str) -> bool:
    """GET <url>?challenge_code=X must answer {"challengeResponse":
    hex(SHA-256(X + verificationToken + endpoint))}."""
    code = str(uuid.uuid4())
    expected = hashlib.sha256((code + token + url).encode()).hexdigest()
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            response = await client.get(url, params={"challenge_code": code})
        return bool(response.is_success
                    and response.json().get("challengeResponse") == expected)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False

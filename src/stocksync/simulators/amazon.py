"""Protocol-faithful Amazon Selling Partner API simulator (listings stock), a product feature.

    POST  /auth/o2/token                                  Login with Amazon (form or JSON)
    GET   /listings/2021-08-01/items/{sellerId}/{sku}     getListingsItem
    PATCH /listings/2021-08-01/items/{sellerId}/{sku}     patchListingsItem (JSON Patch)
    POST  /feeds/2021-06-30/documents                     createFeedDocument
    GET   /feeds/2021-06-30/documents/{id}                getFeedDocument
    POST  /feeds/2021-06-30/feeds                         createFeed (JSON_LISTINGS_FEED)
    GET   /feeds/2021-06-30/feeds/{feedId}                getFeed
    DELETE /feeds/2021-06-30/feeds/{feedId}               cancelFeed
    PUT/GET /_s3/feed-documents/{id}?X-Amz-Signature=...  the "pre-signed S3" document URLs
    GET   /orders/v0/orders[/{orderId}[/orderItems]]      getOrders, getOrder, getOrderItems
    /_sim/...                                             admin API, see amazon_admin.py and
                                                          amazon_orders.py (orders, ORDER_CHANGE)

Every SP-API call needs `x-amz-access-token` from /auth/o2/token (403 Unauthorized if
missing or expired) and a token from that operation's bucket (429 QuotaExceeded, counted
as a violation). Wire format: /work/shared/channels/amazon.md.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs
from uuid import uuid4

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from stocksync.simulators import amazon_catalog
from stocksync.simulators.amazon_admin import install_admin
from stocksync.simulators.amazon_feeds import FeedStore
from stocksync.simulators.amazon_listings import (
    INCLUDED_DATA,
    MalformedRequest,
    check_patch,
    render_listing,
    submit_patch,
)
from stocksync.simulators.amazon_oauth import mount_oauth
from stocksync.simulators.amazon_orders import install_orders
from stocksync.simulators.amazon_put import delete_listing, put_listing
from stocksync.simulators.amazon_state import AmazonSimConfig, AmazonSimState

__all__ = ["AmazonSimConfig", "AmazonSimState", "create_app", "run"]

LISTINGS = "/listings/2021-08-01/items/{seller_id}/{sku:path}"  # SKUs may contain "/"
FEEDS = "/feeds/2021-06-30"
DOCUMENT_URL = "/_s3/feed-documents/{document_id}"
RATE_HEADER_STATUSES = frozenset({200, 201, 202, 400, 404})  # per the models (amazon.md §3)
DENIED = "Access to requested resource is denied."
QUOTA = "You exceeded your quota for the requested resource."
CANNOT_PARSE = "Request has missing or invalid parameters and cannot be parsed."


def errors(code: str, message: str, details: str = "") -> dict[str, Any]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def create_app(config: AmazonSimConfig | None = None) -> FastAPI:
    """The simulator app; its state is `app.state.sim` (an AmazonSimState), its feeds
    `app.state.feeds` (a FeedStore) and its orders `app.state.orders` (an OrderBook)."""
    config = config or AmazonSimConfig()
    sim = AmazonSimState(config)
    feeds = FeedStore(sim)
    app = FastAPI(title="stocksync Amazon SP-API simulator")
    app.state.sim, app.state.feeds = sim, feeds
    amazon_catalog.install(app, sim)  # listing content (content sync)

    def reply(request: Request, operation: str, status: int, body: dict[str, Any],
              outcome: str, sku: str | None = None) -> JSONResponse:
        problems = body.get("errors") or body.get("issues") or []
        detail = "; ".join(str(p.get("details") or p.get("message")) for p in problems) or None
        sim.record(request.method, request.url.path, operation, status, outcome, sku, detail)
        headers = {"x-amzn-RequestId": str(uuid4())}
        rate = sim.rate_of(operation)
        if status in RATE_HEADER_STATUSES and rate is not None:
            headers["x-amzn-RateLimit-Limit"] = f"{rate:g}" if rate < 1 else f"{rate:.1f}"
        return JSONResponse(body, status_code=status, headers=headers)

    async def gate(request: Request, operation: str, sku: str | None = None
                   ) -> JSONResponse | None:
        """Latency, auth, rate limit and injected failures, in the order Amazon's front
        door applies them; None lets the call through."""
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        sim.advance()
        problem = sim.token_problem(request.headers.get("x-amz-access-token"))
        if problem is not None:
            return reply(request, operation, 403, errors("Unauthorized", DENIED, problem),
                         "unauthorized", sku)
        if sim.faults.force_rate_limit:
            sim.transient_rate_limited += 1
            return reply(request, operation, 429, errors("QuotaExceeded", QUOTA),
                         "throttled", sku)
        if not sim.take_token(operation):
            sim.violate("rate_limit", operation, f"{request.method} {request.url.path}")
            return reply(request, operation, 429, errors("QuotaExceeded", QUOTA),
                         "throttled", sku)
        if sim.faults.fail_next_n > 0:
            sim.faults.fail_next_n -= 1
            return reply(request, operation, sim.faults.fail_status,
                         errors("InternalFailure", "We encountered an internal error. "
                                "Please try again.", "simulated fault"), "fault", sku)
        return None

    def listing_scope(request: Request, operation: str, seller_id: str, sku: str
                      ) -> JSONResponse | None:
        if seller_id != config.seller_id:  # unconfirmed: Amazon's exact answer
            return reply(request, operation, 403, errors(
                "Unauthorized", DENIED, "The seller id does not match the access token."),
                "unauthorized", sku)
        marketplaces = (request.query_params.get("marketplaceIds") or "").split(",")
        if config.marketplace_id not in marketplaces:
            return reply(request, operation, 400, errors(
                "InvalidInput", CANNOT_PARSE, "marketplaceIds must name the marketplace"),
                "bad_request", sku)
        return None

    @app.post("/auth/o2/token")
    async def token(request: Request) -> JSONResponse:
        fields = _fields(await request.body(), request.headers.get("content-type", ""))
        grant = fields.get("grant_type")
        status, body = 200, {}
        if (fields.get("client_id"), fields.get("client_secret")) != (
                config.lwa_client_id, config.lwa_client_secret):
            status, body = 401, {"error": "invalid_client",
                                 "error_description": "Client authentication failed"}
        elif grant == "refresh_token" and fields.get("refresh_token") != config.refresh_token:
            status, body = 400, {"error": "invalid_grant", "error_description":
                                 "The request has an invalid grant parameter : refresh_token"}
        elif grant == "client_credentials" and not str(fields.get("scope", "")).startswith(
                "sellingpartnerapi::"):
            status, body = 400, {"error": "invalid_scope",
                                 "error_description": "The scope is invalid"}
        elif grant not in ("refresh_token", "client_credentials"):
            status, body = 400, {"error": "unsupported_grant_type",
                                 "error_description": "Unsupported grant type"}
        else:
            access_token, lifetime = sim.issue_token()
            body = {"access_token": access_token, "token_type": "bearer",
                    "expires_in": lifetime}
            if grant == "refresh_token":
                body["refresh_token"] = config.refresh_token
        sim.record("POST", "/auth/o2/token", "lwa:token", status,
                   "ok" if status == 200 else "unauthorized", None, body.get("error"))
        return JSONResponse(body, status_code=status)

    @app.get(LISTINGS)
    async def get_listings_item(seller_id: str, sku: str, request: Request) -> JSONResponse:
        op = "getListingsItem"
        if (refused := await gate(request, op, sku) or listing_scope(
                request, op, seller_id, sku)) is not None:
            return refused
        included = set((request.query_params.get("includedData") or "summaries").split(","))
        if not included <= INCLUDED_DATA:
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE,
                                                  "unknown includedData"), "bad_request", sku)
        listing = sim.listings.get(sku)
        if listing is None:
            return reply(request, op, 404, errors(
                "NOT_FOUND", f"SKU '{sku}' not found in marketplace {config.marketplace_id}"),
                "not_found", sku)
        return reply(request, op, 200, render_listing(sim, listing, included), "ok", sku)

    @app.patch(LISTINGS)
    async def patch_listings_item(seller_id: str, sku: str, request: Request) -> JSONResponse:
        op = "patchListingsItem"
        if (refused := await gate(request, op, sku) or listing_scope(
                request, op, seller_id, sku)) is not None:
            return refused
        mode = request.query_params.get("mode")
        if mode not in (None, "VALIDATION_PREVIEW"):
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE,
                                                  "mode must be VALIDATION_PREVIEW"),
                         "bad_request", sku)
        try:
            checked = check_patch(_json(await request.body()))
        except MalformedRequest as exc:
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE, str(exc)),
                         "bad_request", sku)
        answer = submit_patch(sim, sku, checked, preview=mode is not None)
        return reply(request, op, 200, answer,
                     "ok" if answer["status"] != "INVALID" else "invalid", sku)

    @app.put(LISTINGS)
    async def put_listings_item(seller_id: str, sku: str, request: Request) -> JSONResponse:
        op = "putListingsItem"  # create or fully update (create_missing): amazon_put.py
        if (refused := await gate(request, op, sku) or listing_scope(
                request, op, seller_id, sku)) is not None:
            return refused
        try:
            answer = put_listing(sim, sku, _json(await request.body()))
        except MalformedRequest as exc:
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE, str(exc)),
                         "bad_request", sku)
        return reply(request, op, 200, answer,
                     "ok" if answer["status"] != "INVALID" else "invalid", sku)

    @app.delete(LISTINGS)
    async def delete_listings_item(seller_id: str, sku: str, request: Request) -> JSONResponse:
        op = "deleteListingsItem"  # a deleted item's listing ended: amazon_put.py
        if (refused := await gate(request, op, sku) or listing_scope(
                request, op, seller_id, sku)) is not None:
            return refused
        answer = delete_listing(sim, sku)
        if answer is None:
            return reply(request, op, 404, errors("NOT_FOUND", f"SKU '{sku}' not found"),
                         "not_found", sku)
        return reply(request, op, 200, answer, "ok", sku)

    @app.post(f"{FEEDS}/documents")
    async def create_feed_document(request: Request) -> JSONResponse:
        op = "createFeedDocument"
        if (refused := await gate(request, op)) is not None:
            return refused
        body = _json(await request.body())
        content_type = body.get("contentType") if isinstance(body, dict) else None
        if not isinstance(content_type, str) or not content_type:
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE,
                                                  "contentType is required"), "bad_request")
        document = feeds.new_document(content_type)
        return reply(request, op, 201, {"feedDocumentId": document.id,
                                        "url": _document_url(request, feeds, document.id)},
                     "ok")

    @app.get(f"{FEEDS}/documents/{{document_id}}")
    async def get_feed_document(document_id: str, request: Request) -> JSONResponse:
        op = "getFeedDocument"
        if (refused := await gate(request, op)) is not None:
            return refused
        document = feeds.documents.get(document_id)
        if document is None:
            return reply(request, op, 404, errors("NotFound", "The feed document was not "
                                                  "found."), "not_found")
        body = {"feedDocumentId": document.id,
                "url": _document_url(request, feeds, document.id)}
        if document.compression:
            body["compressionAlgorithm"] = document.compression
        return reply(request, op, 200, body, "ok")

    @app.post(f"{FEEDS}/feeds")
    async def create_feed(request: Request) -> JSONResponse:
        op = "createFeed"
        if (refused := await gate(request, op)) is not None:
            return refused
        try:
            feed = feeds.create_feed(_json(await request.body()))
        except MalformedRequest as exc:
            return reply(request, op, 400, errors("InvalidInput", CANNOT_PARSE, str(exc)),
                         "bad_request")
        return reply(request, op, 202, {"feedId": feed.id}, "ok")

    @app.get(f"{FEEDS}/feeds/{{feed_id}}")
    async def get_feed(feed_id: str, request: Request) -> JSONResponse:
        op = "getFeed"
        if (refused := await gate(request, op)) is not None:
            return refused
        feed = feeds.feeds.get(feed_id)
        if feed is None:
            return reply(request, op, 404, errors("NotFound", "The feed was not found."),
                         "not_found")
        return reply(request, op, 200, feed.render(), "ok")

    @app.delete(f"{FEEDS}/feeds/{{feed_id}}")
    async def cancel_feed(feed_id: str, request: Request) -> JSONResponse:
        op = "cancelFeed"
        if (refused := await gate(request, op)) is not None:
            return refused
        feed = feeds.feeds.get(feed_id)
        if feed is None:
            return reply(request, op, 404, errors("NotFound", "The feed was not found."),
                         "not_found")
        if not feeds.cancel(feed):
            return reply(request, op, 400, errors(
                "InvalidInput", f"Feed {feed_id} is {feed.status} and cannot be cancelled."),
                "bad_request")
        return reply(request, op, 200, {}, "ok")

    @app.put(DOCUMENT_URL)
    async def upload(document_id: str, request: Request) -> Response:
        document = feeds.documents.get(document_id)
        content_type = request.headers.get("content-type")
        if (document is None or not feeds.signed(
                document_id, request.query_params.get("X-Amz-Signature"))
                or content_type != document.content_type):
            # S3 checks the signature, which covers the declared Content-Type.
            sim.record("PUT", request.url.path, "s3:PutObject", 403, "unauthorized")
            return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>",
                            status_code=403, media_type="application/xml")
        document.content = await request.body()
        sim.record("PUT", request.url.path, "s3:PutObject", 200, "ok")
        return Response(status_code=200)

    @app.get(DOCUMENT_URL)
    async def download(document_id: str, request: Request) -> Response:
        document = feeds.documents.get(document_id)
        if document is None or document.content is None or not feeds.signed(
                document_id, request.query_params.get("X-Amz-Signature")):
            sim.record("GET", request.url.path, "s3:GetObject", 403, "unauthorized")
            return Response("<Error><Code>AccessDenied</Code></Error>", status_code=403,
                            media_type="application/xml")
        sim.record("GET", request.url.path, "s3:GetObject", 200, "ok")
        return Response(document.content, media_type=document.content_type)

    install_admin(app, sim, feeds)
    install_orders(app, sim, gate, reply)
    mount_oauth(app, config)  # the store-connection flow (issue 14)
    return app


def _document_url(request: Request, feeds: FeedStore, document_id: str) -> str:
    base = str(request.base_url).rstrip("/")
    return (f"{base}{DOCUMENT_URL.format(document_id=document_id)}"
            f"?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300"
            f"&X-Amz-Signature={feeds.signature(document_id)}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _fields(raw: bytes, content_type: str) -> dict[str, Any]:
    """LWA takes the fields form-encoded (docs) or as JSON (the official Java helper)."""
    if "json" in content_type:
        body = _json(raw)
        return body if isinstance(body, dict) else {}
    return {key: values[0] for key, values in parse_qs(raw.decode(errors="replace")).items()}


def run(port: int, host: str = "127.0.0.1", config: AmazonSimConfig | None = None) -> None:
    """Serve the simulator until interrupted (`stocksync simulate amazon --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

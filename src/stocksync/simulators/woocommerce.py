"""Protocol-faithful WooCommerce REST v3 simulator (products and variations stock), a
product feature: `stocksync simulate woocommerce --port N`.

    /wp-json/wc/v3/products[/{id}], /products/batch,
    /products/{id}/variations[/{vid}], /products/{id}/variations/batch,
    /orders[/{id}], /orders/{id}/refunds (GET),
    /webhooks[/{id}]                           see woocommerce_rest.py
    GET  /_sim/state                           per SKU ids, stock and status; orders
    POST /_sim/items                           {sku, quantity, parent_sku?, manage_stock?}
    PUT  /_sim/items/{sku}/stock               {quantity}: a variable product's own stock
    DELETE /_sim/items/{sku}                   the merchant deletes a product
    PUT  /_sim/inventory/{sku}                 {quantity}: merchant stock edit
    POST /_sim/orders, PUT /_sim/orders/{id}   {line_items, status?} / {status}: stock moves
                                               as core does (woocommerce_orders.py)
    POST /_sim/orders/{id}/refunds             {line_items: [{id, quantity}], restock?}
    GET/POST /_sim/faults                      latency_ms, fail_next_n, fail_status,
                                               force_rate_limit, retry_after_s, reject_skus,
                                               batch_limit, rate_limit(_window_s, _headers)
    GET/DELETE /_sim/requests, /_sim/violations
    GET/PUT /_sim/webhooks                     deliveries / {url, secret, topics?, status?}

Wire format: /work/shared/channels/woocommerce.md. Deviation: real WooCommerce accepts
HTTP Basic (and query-string keys) only over HTTPS and wants OAuth 1.0a over plain HTTP
(§1); this simulator serves plain HTTP and accepts Basic or query-string keys.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from stocksync.simulators import woocommerce_catalog
from stocksync.simulators.woocommerce_admin import admin_router
from stocksync.simulators.woocommerce_limits import Monitor, RateWindow, RequestRecord
from stocksync.simulators.woocommerce_oauth import mount_oauth
from stocksync.simulators.woocommerce_resources import order_json, product_json
from stocksync.simulators.woocommerce_rest import WooError, rest_router
from stocksync.simulators.woocommerce_state import (
    JsonObject,
    WooCommerceSimConfig,
    WooCommerceSimState,
)
from stocksync.simulators.woocommerce_webhooks import WebhookDeliverer

__all__ = ["WooCommerceSimConfig", "WooCommerceSimState", "create_app", "run"]

OUTCOME_BY_STATUS = {401: "unauthorized", 404: "not_found", 413: "too_large", 429: "rate_limited"}


def create_app(config: WooCommerceSimConfig | None = None) -> FastAPI:
    """The simulator app; its state is `app.state.sim` (a WooCommerceSimState)."""
    config = config or WooCommerceSimConfig()
    sim = WooCommerceSimState(config)
    monitor = Monitor()
    window = RateWindow(config.rate_limit, config.rate_limit_window_s,
                        config.rate_limit_headers)

    def build_payload(topic: str, resource_id: int) -> JsonObject | None:
        resource, _, event = topic.partition(".")
        if event == "deleted":
            return {"id": resource_id}  # §5.1
        if resource == "product" and resource_id in sim.items:
            return product_json(sim, sim.items[resource_id])
        if resource == "order" and resource_id in sim.orders:
            return order_json(sim, sim.orders[resource_id])
        return None

    webhooks = WebhookDeliverer(config, build_payload)
    sim.webhook_sink = webhooks.notify

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        webhooks.ping_active()
        yield
        await webhooks.close()

    app = FastAPI(title="stocksync WooCommerce simulator", lifespan=lifespan)
    app.state.sim = sim
    app.state.monitor = monitor
    app.state.webhooks = webhooks

    @app.exception_handler(WooError)
    async def woo_error(_: Request, exc: WooError) -> JSONResponse:
        return exc.response()

    @app.middleware("http")
    async def gate(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                   ) -> Response:
        """Host rate limit, faults and authentication in front of every REST call."""
        if not request.url.path.startswith("/wp-json/"):
            return await call_next(request)
        record = monitor.start(request.method, request.url.path, dict(request.query_params))
        request.state.record = record
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        refused, reset = _refusal(sim, monitor, window, record, request)
        response = refused.response() if refused is not None else await call_next(request)
        if reset is not None:
            response.headers.update(window.headers(reset))
        record.status = response.status_code
        if record.outcome == "ok" and response.status_code >= 400:
            record.outcome = ("fault" if response.status_code >= 500 else
                              OUTCOME_BY_STATUS.get(response.status_code, "invalid"))
        return response

    woocommerce_catalog.install(app, sim)  # product content (content sync)
    app.include_router(rest_router(sim, monitor, webhooks))
    app.include_router(admin_router(sim, monitor, window, webhooks))
    mount_oauth(app, config)  # the store-connection flow (issue 14)
    return app


def _refusal(sim: WooCommerceSimState, monitor: Monitor, window: RateWindow,
             record: RequestRecord, request: Request) -> tuple[WooError | None, float | None]:
    """The error a request gets before reaching WordPress, if any, and the seconds until
    the rate window resets (None: the limiter did not count it). The host's limiter sits in
    front of WordPress, so it counts every request, authenticated or not."""
    early = monitor.ignores_retry_after()
    if early:
        monitor.violation(record, "ignored_retry_after",
                          "sent before the Retry-After it was given ran out")
    if sim.faults.force_rate_limit:
        monitor.forced_rate_limited += 1
        record.outcome = "forced_rate_limited"
        monitor.told_to_wait(sim.faults.retry_after_s)
        return _too_many(sim.faults.retry_after_s), None
    allowed, reset = window.take()
    if not allowed:
        monitor.rate_limited += 1
        if not early:
            monitor.violation(record, "rate_limited",
                              f"more than {window.limit} requests in {window.window_s} s")
        monitor.told_to_wait(reset)
        return _too_many(max(1, int(reset + 0.999))), reset
    if sim.faults.fail_next_n > 0:
        sim.faults.fail_next_n -= 1
        return WooError(sim.faults.fail_status, "internal_server_error",
                        "There has been a critical error on this website."), reset
    return _authenticate(sim, request), reset


def _too_many(retry_after: int) -> WooError:
    return WooError(429, "rest_too_many_requests", "Too many requests. Retry later.",
                    headers={"Retry-After": str(retry_after)})


def _authenticate(sim: WooCommerceSimState, request: Request) -> WooError | None:
    """WC_REST_Authentication over "HTTPS": Basic, else consumer_key/consumer_secret in the
    query string; then the key's read/write permission against the method."""
    key, secret = _credentials(request)
    config = sim.config
    if key is None:
        if request.method in ("GET", "HEAD"):
            return WooError(401, "woocommerce_rest_cannot_view",
                            "Sorry, you cannot list resources.")
        return WooError(401, "woocommerce_rest_cannot_edit",
                        "Sorry, you are not allowed to edit this resource.")
    if not hmac.compare_digest(key.encode(), config.consumer_key.encode()):
        return WooError(401, "woocommerce_rest_authentication_error",
                        "Consumer key is invalid.")
    if not hmac.compare_digest((secret or "").encode(), config.consumer_secret.encode()):
        return WooError(401, "woocommerce_rest_authentication_error",
                        "Consumer secret is invalid.")
    reading = request.method in ("GET", "HEAD", "OPTIONS")
    if reading and config.key_permissions == "write":
        return WooError(401, "woocommerce_rest_authentication_error",
                        "The API key provided does not have read permissions.")
    if not reading and config.key_permissions == "read":
        return WooError(401, "woocommerce_rest_authentication_error",
                        "The API key provided does not have write permissions.")
    return None


def _credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        key, _, secret = decoded.partition(":")
        return key, secret
    query = request.query_params
    if "consumer_key" in query:
        return query["consumer_key"], query.get("consumer_secret")
    return None, None


def run(port: int, host: str = "127.0.0.1", config: WooCommerceSimConfig | None = None) -> None:
    """Serve the simulator until interrupted (`stocksync simulate woocommerce --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

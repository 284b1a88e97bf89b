"""Protocol-faithful Shopify Admin GraphQL simulator (inventory), a product feature.

    POST /admin/api/{version}/graphql.json     X-Shopify-Access-Token; see shopify_graphql.py
    GET  /_sim/state                           catalog, levels, throttled_count, bucket
    POST /_sim/products                        {sku, title, price?, quantities?: {loc: n}}
    POST /_sim/locations                       {name}
    PUT  /_sim/inventory/{sku}                 {available, location_id?}: merchant edit
    POST /_sim/orders                          {line_items: [{sku, quantity}], location_id?}
                                               (no location_id: an online order, payload
                                               location_id null, stock from the default)
    POST /_sim/orders/{id}/cancel              {restock: bool}
    POST /_sim/orders/{id}/refunds             {refund_line_items: [{line_item_id, quantity,
                                               restock_type}]}
    POST /_sim/orders/{id}/edits               {add: [{sku, quantity}], remove:
                                               [{line_item_id, quantity, restock}],
                                               increase: [{line_item_id, quantity}]}
    GET/POST /_sim/faults                      latency_ms, fail_next_n, fail_status,
                                               force_throttle, maximum_available, restore_rate
    GET/DELETE /_sim/requests                  every GraphQL call received
    GET/PUT /_sim/webhooks                     delivery log / {url, secret} of the subscription

Wire format: /work/shared/channels/shopify.md. Start it with `run(port)` or mount
`create_app(config)` anywhere (tests run it in a thread via simulators/server.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import asdict
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.simulators import shopify_catalog
from stocksync.simulators.shopify_graphql import execute
from stocksync.simulators.shopify_oauth import mount_oauth
from stocksync.simulators.shopify_operation import parse_api_version
from stocksync.simulators.shopify_state import (
    RequestRecord,
    ShopifySimConfig,
    ShopifySimState,
    gid,
    now_iso,
    parse_gid,
)
from stocksync.simulators.shopify_webhooks import WebhookDeliverer

__all__ = ["ShopifySimConfig", "ShopifySimState", "create_app", "run"]

# Shopify's body for a missing or wrong access token.
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


class ProductIn(BaseModel):
    sku: str = Field(min_length=1)
    title: str = "Simulated product"
    price: str = "0.00"
    quantities: dict[str, int] = Field(default_factory=dict,
                                       description="location id (or GID) -> available")


class LocationIn(BaseModel):
    name: str = Field(min_length=1)


class InventoryIn(BaseModel):
    available: int
    location_id: int | str | None = None


class OrderLineIn(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    line_items: list[OrderLineIn] = Field(min_length=1)
    location_id: int | str | None = None


class CancelIn(BaseModel):
    restock: bool = True


class RefundLineIn(BaseModel):
    line_item_id: int
    quantity: int = Field(gt=0)
    restock_type: str = "no_restock"


class RefundIn(BaseModel):
    refund_line_items: list[RefundLineIn] = Field(min_length=1)


class EditRemoveIn(BaseModel):
    line_item_id: int
    quantity: int = Field(gt=0)
    restock: bool = True


class EditIncreaseIn(BaseModel):
    line_item_id: int
    quantity: int = Field(gt=0)


class EditIn(BaseModel):
    add: list[OrderLineIn] = Field(default_factory=list)
    remove: list[EditRemoveIn] = Field(default_factory=list)
    increase: list[EditIncreaseIn] = Field(default_factory=list)


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    force_throttle: bool | None = None
    maximum_available: float | None = Field(None, gt=0)
    restore_rate: float | None = Field(None, gt=0)


class WebhookIn(BaseModel):
    url: str | None = None
    secret: str | None = None


def create_app(config: ShopifySimConfig | None = None) -> FastAPI:
    """The simulator app; its state is `app.state.sim` (a ShopifySimState)."""
    config = config or ShopifySimConfig()
    sim = ShopifySimState(config)
    webhooks = WebhookDeliverer(config)
    sim.webhook_sink = webhooks.enqueue

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await webhooks.close()

    app = FastAPI(title="stocksync Shopify simulator", lifespan=lifespan)
    app.state.sim = sim
    app.state.webhooks = webhooks
    shopify_catalog.install(app, sim)  # product content (content sync)

    @app.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> JSONResponse:
        api_version = parse_api_version(version)
        if api_version is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("X-Shopify-Access-Token") != config.access_token:
            _record_rejected(sim, version, "unauthorized")
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        raw = await request.body()
        # Latency sits between receiving and executing: a client that gives up meanwhile
        # does not stop the mutation, exactly the case idempotency keys exist for.
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        if sim.faults.fail_next_n > 0:
            sim.faults.fail_next_n -= 1
            _record_rejected(sim, version, "fault")
            return JSONResponse({"errors": "Service Unavailable (simulated fault)"},
                                status_code=sim.faults.fail_status)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return JSONResponse({"errors": {"query": "Required parameter missing or invalid"}},
                                status_code=400)
        return JSONResponse(execute(sim, body, version, api_version))

    @app.get("/_sim/state")
    async def state() -> dict[str, Any]:
        return sim.snapshot()

    @app.post("/_sim/locations", status_code=201)
    async def add_location(body: LocationIn) -> dict[str, Any]:
        location = sim.add_location(body.name)
        return {"id": location.id, "gid": gid("Location", location.id), "name": location.name}

    @app.post("/_sim/products", status_code=201)
    async def add_product(body: ProductIn) -> dict[str, Any]:
        try:
            product = sim.add_product(body.title, [body.model_dump()])
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        variant = sim.variants[product.variant_ids[0]]
        return {"product_id": gid("Product", product.id),
                "variant_id": gid("ProductVariant", variant.id),
                "inventory_item_id": gid("InventoryItem", variant.inventory_item_id),
                "sku": variant.sku}

    @app.put("/_sim/inventory/{sku:path}")  # SKUs may contain "/"
    async def set_inventory(sku: str, body: InventoryIn) -> dict[str, Any]:
        location_id = _location(sim, body.location_id)
        try:
            level = sim.merchant_sets_available(sku, body.available, location_id)
        except KeyError as exc:
            raise HTTPException(404, f"unknown SKU {sku!r}") from exc
        return {"sku": sku, "location_id": location_id, "available": level.available,
                "committed": level.committed, "on_hand": level.on_hand}

    @app.post("/_sim/orders", status_code=201)
    async def place_order(body: OrderIn) -> dict[str, Any]:
        lines = [(line.sku, line.quantity) for line in body.line_items]
        with _order_errors():
            return sim.place_order(lines, _location(sim, body.location_id),
                                   online=body.location_id is None)

    @app.post("/_sim/orders/{order_id}/cancel")
    async def cancel_order(order_id: int, body: CancelIn) -> dict[str, Any]:
        with _order_errors():
            return sim.orders.cancel(order_id, restock=body.restock)

    @app.post("/_sim/orders/{order_id}/refunds", status_code=201)
    async def refund_order(order_id: int, body: RefundIn) -> dict[str, Any]:
        lines = [(r.line_item_id, r.quantity, r.restock_type) for r in body.refund_line_items]
        with _order_errors():
            return sim.orders.refund(order_id, lines)

    @app.post("/_sim/orders/{order_id}/edits", status_code=201)
    async def edit_order(order_id: int, body: EditIn) -> dict[str, Any]:
        add = [(line.sku, line.quantity) for line in body.add]
        remove = [(r.line_item_id, r.quantity, r.restock) for r in body.remove]
        increase = [(i.line_item_id, i.quantity) for i in body.increase]
        with _order_errors():
            return sim.orders.edit(order_id, add, remove, increase)

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return _faults(sim)

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for name in ("latency_ms", "fail_next_n", "fail_status", "force_throttle"):
            value = getattr(body, name)
            if value is not None:
                setattr(sim.faults, name, value)
        sim.bucket.refill()
        if body.maximum_available is not None:
            sim.bucket.maximum_available = body.maximum_available
            sim.bucket.currently_available = min(sim.bucket.currently_available,
                                                 body.maximum_available)
        if body.restore_rate is not None:
            sim.bucket.restore_rate = body.restore_rate
        return _faults(sim)

    @app.get("/_sim/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(record) for record in sim.requests]

    @app.delete("/_sim/requests", status_code=204)
    async def clear_requests() -> None:
        sim.requests.clear()

    @app.get("/_sim/webhooks")
    async def deliveries() -> dict[str, Any]:
        return {"url": webhooks.url, "deliveries": webhooks.snapshot()}

    @app.put("/_sim/webhooks")
    async def subscribe(body: WebhookIn) -> dict[str, Any]:
        webhooks.url, webhooks.secret = body.url, body.secret
        return {"url": webhooks.url}

    mount_oauth(app, config)  # the store-connection flow (issue 14)
    return app


@contextmanager
def _order_errors() -> Iterator[None]:
    try:
        yield
    except KeyError as exc:
        raise HTTPException(404, f"unknown SKU or order {exc.args[0]!r}") from exc
    except ValueError as exc:  # OrderError too
        raise HTTPException(409, str(exc)) from exc


def _location(sim: ShopifySimState, ref: int | str | None) -> int:
    if ref is None:
        return sim.default_location_id
    location_id = parse_gid(ref, "Location")
    if location_id not in sim.locations:
        raise HTTPException(404, f"unknown location {ref!r}")
    return location_id


def _faults(sim: ShopifySimState) -> dict[str, Any]:
    return {**asdict(sim.faults), **sim.bucket.status()}


def _record_rejected(sim: ShopifySimState, version: str, outcome: str) -> None:
    sim.record(RequestRecord(seq=sim.next_request_seq(), at=now_iso(), api_version=version,
                             kind="unknown", root_field=None, operation_name=None,
                             outcome=outcome))


def run(port: int, host: str = "127.0.0.1", config: ShopifySimConfig | None = None) -> None:
    """Serve the simulator until interrupted (`stocksync simulate shopify --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

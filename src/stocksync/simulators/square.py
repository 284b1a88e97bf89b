"""Protocol-faithful Square simulator (Inventory, Catalog search, Orders), a product feature.

    POST /v2/inventory/changes/batch-create    BatchChangeInventory     (INVENTORY_WRITE)
    POST /v2/inventory/counts/batch-retrieve   BatchRetrieveInventoryCounts (INVENTORY_READ)
    POST /v2/catalog/search                    SearchCatalogObjects     (ITEMS_READ)
    POST /v2/orders/search                     SearchOrders             (ORDERS_READ)
    POST /v2/orders/batch-retrieve             BatchRetrieveOrders      (ORDERS_READ)
    POST /v2/inventory/changes/batch-retrieve  BatchRetrieveInventoryChanges (INVENTORY_READ)
        Authorization: Bearer <token>; Square-Version: YYYY-MM-DD (optional, as on Square)
    GET  /_sim/state                  locations, items (ids, counts per state), quantities
    POST /_sim/locations              {name, id?}
    POST /_sim/items                  {sku, name?, quantity?, quantities?: {location: n},
                                       allow_duplicate_sku?, track_inventory?}
    DELETE /_sim/items/{sku}          delete the SKU's variation (a stale mapping)
    PUT  /_sim/inventory/{sku}        {quantity} a Dashboard stock count, or {delta} a sale
                                      (< 0, IN_STOCK -> SOLD) / receipt (> 0, NONE -> IN_STOCK);
                                      location_id?, catalog_object_id? - fires the webhook
    GET/POST /_sim/faults             latency_ms, fail_next_n, fail_status, force_rate_limit,
                                      rate_limit_per_second, rate_limit_burst, retry_after_s,
                                      duplicate_webhooks
    GET/DELETE /_sim/requests         every API call: time, path, status, outcome, codes
    GET/DELETE /_sim/violations       limit violations: count, rate_limited, by_kind, list
    GET/PUT /_sim/webhooks            delivery log / {url, signature_key} of the subscription
    /_sim/orders...                   till sales, API orders, returns: square_orders_admin.py

Wire format: /work/shared/channels/square.md. Start it with `run(port)` or mount
`create_app(config)` anywhere (tests run it in a thread via simulators/server.py).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.simulators import square_catalog
from stocksync.simulators.square_api import (
    Answer,
    batch_change,
    batch_retrieve_counts,
    error,
    refuse,
    search_catalog,
)
from stocksync.simulators.square_inventory import format_quantity, format_time, utc_now
from stocksync.simulators.square_oauth import mount_oauth
from stocksync.simulators.square_orders_admin import add_order_routes
from stocksync.simulators.square_orders_api import (
    batch_retrieve_changes,
    batch_retrieve_orders,
    search_orders,
)
from stocksync.simulators.square_state import (
    RequestRecord,
    SquareSimConfig,
    SquareSimState,
    Variation,
)
from stocksync.simulators.square_webhooks import WebhookDeliverer

__all__ = ["SquareSimConfig", "SquareSimState", "create_app", "run"]

VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}$")
BATCH_CREATE = "/v2/inventory/changes/batch-create"
DEFAULT_VERSION = "2026-08-19"  # answered when the client pins none (square.md §1)
Operation = Callable[[object, int, str], Answer]


class LocationIn(BaseModel):
    name: str = Field(min_length=1)
    id: str | None = None


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    name: str | None = None
    quantity: int | None = Field(None, ge=0, description="IN_STOCK at the first location")
    quantities: dict[str, int] | None = None
    allow_duplicate_sku: bool = False
    track_inventory: bool = True
    price_cents: int = 0


class InventoryIn(BaseModel):
    quantity: int | None = Field(None, ge=0)
    delta: int | None = None
    location_id: str | None = None
    catalog_object_id: str | None = None


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    force_rate_limit: bool | None = None
    rate_limit_per_second: float | None = Field(None, gt=0)
    rate_limit_burst: float | None = Field(None, ge=1)
    retry_after_s: float | None = Field(None, ge=0)
    duplicate_webhooks: bool | None = None


class WebhookIn(BaseModel):
    url: str | None = None
    signature_key: str | None = None


def create_app(config: SquareSimConfig | None = None) -> FastAPI:
    """The simulator app; its state is `app.state.sim` (a SquareSimState)."""
    config = config or SquareSimConfig()
    sim = SquareSimState(config)
    webhooks = WebhookDeliverer(config)
    sim.count_sink = webhooks.enqueue
    sim.event_sink = webhooks.enqueue_event

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await webhooks.close()

    app = FastAPI(title="stocksync Square simulator", lifespan=lifespan)
    app.state.sim = sim
    app.state.webhooks = webhooks

    async def serve(request: Request, scope: str, operation: Operation) -> JSONResponse:
        seq, path, arrived = sim.next_seq(), request.url.path, sim.clock()
        version = request.headers.get("Square-Version")
        raw = await request.body()  # before any latency: the client may hang up meanwhile
        try:
            body: object = json.loads(raw) if raw else {}
        except ValueError:
            body = None
        answer, outcome = await _gate(sim, request, scope, seq, path)
        if answer is None:
            answer = (operation(body, seq, path) if body is not None else
                      refuse(error("BAD_REQUEST", "The request body is not valid JSON.")))
            outcome = ("replayed" if answer.replayed else
                       "ok" if answer.status < 400 else "error")
        kept = body if path == BATCH_CREATE and isinstance(body, dict) else None
        sim.record(RequestRecord(
            seq=seq, at=format_time(utc_now()), elapsed_s=round(arrived - sim.started_at, 4),
            method=request.method, path=path, square_version=version, status=answer.status,
            outcome=outcome, codes=answer.codes, idempotency_key=answer.idempotency_key,
            changes=answer.changes, body=kept))
        headers = {"Square-Version": version or DEFAULT_VERSION}
        if answer.status == 429 and sim.retry_after_s > 0:
            headers["Retry-After"] = f"{sim.retry_after_s:g}"
        return JSONResponse(answer.body, status_code=answer.status, headers=headers)

    @app.post(BATCH_CREATE)
    async def batch_create(request: Request) -> JSONResponse:
        return await serve(request, "INVENTORY_WRITE",
                           lambda body, seq, path: batch_change(sim, body, seq, path))

    @app.post("/v2/inventory/counts/batch-retrieve")
    async def counts(request: Request) -> JSONResponse:
        return await serve(request, "INVENTORY_READ",
                           lambda body, seq, path: batch_retrieve_counts(sim, body, seq, path))

    @app.post("/v2/catalog/search")
    async def catalog_search(request: Request) -> JSONResponse:
        return await serve(request, "ITEMS_READ",
                           lambda body, seq, path: search_catalog(sim, body))

    @app.post("/v2/orders/search")
    async def orders_search(request: Request) -> JSONResponse:
        return await serve(request, "ORDERS_READ",
                           lambda body, seq, path: search_orders(sim, body, seq, path))

    @app.post("/v2/orders/batch-retrieve")
    async def orders_batch(request: Request) -> JSONResponse:
        return await serve(request, "ORDERS_READ",
                           lambda body, seq, path: batch_retrieve_orders(sim, body, seq, path))

    @app.post("/v2/inventory/changes/batch-retrieve")
    async def changes(request: Request) -> JSONResponse:
        return await serve(request, "INVENTORY_READ",
                           lambda body, seq, path: batch_retrieve_changes(sim, body, seq, path))

    add_order_routes(app, sim, _variation)
    square_catalog.install(app, sim, serve)  # catalog writes (content sync)

    @app.get("/_sim/state")
    async def state() -> dict[str, Any]:
        return sim.snapshot()

    @app.post("/_sim/locations", status_code=201)
    async def add_location(body: LocationIn) -> dict[str, Any]:
        return asdict(sim.add_location(body.name, body.id))

    @app.post("/_sim/items", status_code=201)
    async def add_item(body: ItemIn) -> dict[str, Any]:
        quantities = body.quantities if body.quantities is not None else {
            config.location_id: body.quantity or 0}
        try:
            variation = sim.add_item(body.sku, body.name or body.sku, quantities,
                                     body.allow_duplicate_sku, body.track_inventory,
                                     body.price_cents)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0])) from exc
        return {"sku": variation.sku, "catalog_object_id": variation.id,
                "item_id": variation.item_id}

    @app.delete("/_sim/items/{sku:path}")
    async def delete_item(sku: str, catalog_object_id: str | None = None) -> dict[str, Any]:
        variation = _variation(sim, sku, catalog_object_id)
        sim.delete_variation(variation)
        return {"sku": sku, "catalog_object_id": variation.id, "is_deleted": True}

    @app.put("/_sim/inventory/{sku:path}")  # SKUs may contain "/"
    async def set_inventory(sku: str, body: InventoryIn) -> dict[str, Any]:
        if (body.quantity is None) == (body.delta is None):
            raise HTTPException(422, "give exactly one of quantity and delta")
        variation = _variation(sim, sku, body.catalog_object_id)
        location_id = body.location_id or config.location_id
        if location_id not in sim.locations:
            raise HTTPException(404, f"unknown location {location_id!r}")
        now = utc_now()
        if body.quantity is not None:  # a stock count in the Dashboard
            changed = [(variation.id, location_id, "IN_STOCK")] if sim.inventory.physical_count(
                variation.id, location_id, "IN_STOCK", Decimal(body.quantity), now) else []
        else:
            delta = body.delta or 0
            from_state, to_state = ("IN_STOCK", "SOLD") if delta < 0 else ("NONE", "IN_STOCK")
            changed = sim.inventory.adjustment(variation.id, location_id, from_state, to_state,
                                               Decimal(abs(delta)), now) if delta else []
        sim.counts_changed(changed)
        return {"sku": sku, "catalog_object_id": variation.id, "location_id": location_id,
                "quantity": format_quantity(sim.inventory.quantity(variation.id, location_id)),
                "changed": bool(changed)}

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return _faults(sim, webhooks)

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for name in ("latency_ms", "fail_next_n", "fail_status", "force_rate_limit"):
            value = getattr(body, name)
            if value is not None:
                setattr(sim.faults, name, value)
        if body.rate_limit_per_second is not None:
            sim.limiter.rate = body.rate_limit_per_second
        if body.rate_limit_burst is not None:
            sim.limiter.burst = body.rate_limit_burst
            sim.limiter.tokens = min(sim.limiter.tokens, body.rate_limit_burst)
        if body.retry_after_s is not None:
            sim.retry_after_s = body.retry_after_s
        if body.duplicate_webhooks is not None:
            webhooks.duplicate = body.duplicate_webhooks
        return _faults(sim, webhooks)

    @app.get("/_sim/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(record) for record in sim.requests]

    @app.delete("/_sim/requests", status_code=204)
    async def clear_requests() -> None:
        sim.requests.clear()

    @app.get("/_sim/violations")
    async def violations() -> dict[str, Any]:
        return sim.violation_report()

    @app.delete("/_sim/violations", status_code=204)
    async def clear_violations() -> None:
        sim.clear_violations()

    @app.get("/_sim/webhooks")
    async def deliveries() -> dict[str, Any]:
        return {"url": webhooks.url, "deliveries": webhooks.snapshot()}

    @app.put("/_sim/webhooks")
    async def subscribe(body: WebhookIn) -> dict[str, Any]:
        webhooks.url, webhooks.signature_key = body.url, body.signature_key
        return {"url": webhooks.url}

    mount_oauth(app, config)  # the store-connection flow (issue 14)
    return app


async def _gate(sim: SquareSimState, request: Request, scope: str, seq: int, path: str
                ) -> tuple[Answer | None, str]:
    """Authentication, version, rate limit and injected faults, in Square's order."""
    config = sim.config
    if request.headers.get("Authorization", "") != f"Bearer {config.access_token}":
        return refuse(error("UNAUTHORIZED", "This request could not be authorized.",
                            category="AUTHENTICATION_ERROR"), status=401), "unauthorized"
    if scope not in config.scopes:
        return refuse(error("INSUFFICIENT_SCOPES",
                            "The merchant has not given your application sufficient "
                            f"permissions to do that. The app attempted to use scopes: {scope}.",
                            category="AUTHENTICATION_ERROR"), status=403), "forbidden"
    version = request.headers.get("Square-Version")
    if version is not None and not VERSION.match(version):
        return refuse(error("INVALID_SQUARE_VERSION_FORMAT",
                            "The provided Square-Version is incorrectly formatted.")), "error"
    limited = refuse(error("RATE_LIMITED", "Rate limit exceeded. Try again later.",
                           category="RATE_LIMIT_ERROR"), status=429)
    if sim.faults.force_rate_limit:
        sim.forced_rate_limited += 1
        return limited, "forced_rate_limited"
    # Counted on arrival: the limit is about how fast requests come, not how fast we answer.
    if not sim.limiter.take():
        sim.violate(seq, "rate_limited", path, "request beyond the rate limit")
        return limited, "rate_limited"
    # Latency sits between arriving and executing: a client that gives up meanwhile does
    # not stop the change, exactly the case idempotency keys exist for.
    if sim.faults.latency_ms:
        await asyncio.sleep(sim.faults.latency_ms / 1000)
    if sim.faults.fail_next_n > 0:
        sim.faults.fail_next_n -= 1
        status = sim.faults.fail_status
        code = "SERVICE_UNAVAILABLE" if status == 503 else "INTERNAL_SERVER_ERROR"
        return refuse(error(code, "Simulated failure.", category="API_ERROR"),
                      status=status), "fault"
    return None, ""


def _variation(sim: SquareSimState, sku: str, object_id: str | None) -> Variation:
    candidates = sim.variations_by_sku(sku)
    if object_id is not None:
        candidates = [v for v in candidates if v.id == object_id]
    if not candidates:
        raise HTTPException(404, f"unknown SKU {sku!r}")
    if len(candidates) > 1:
        raise HTTPException(409, f"{len(candidates)} variations have SKU {sku!r}: "
                                 "give catalog_object_id")
    return candidates[0]


def _faults(sim: SquareSimState, webhooks: WebhookDeliverer) -> dict[str, Any]:
    return {**asdict(sim.faults), "duplicate_webhooks": webhooks.duplicate,
            "retry_after_s": sim.retry_after_s, **sim.limiter.status()}


def run(port: int, host: str = "127.0.0.1", config: SquareSimConfig | None = None) -> None:
    """Serve the simulator until interrupted (`stocksync simulate square --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

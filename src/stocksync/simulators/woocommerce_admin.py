"""The simulator's admin API under /_sim: seed the catalog, act as the merchant or a
shopper behind stocksync's back, inject faults, read logs and limit violations."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from stocksync.simulators.woocommerce_limits import Monitor, RateWindow
from stocksync.simulators.woocommerce_resources import (
    order_json,
    product_json,
    refund_json,
    snapshot,
)
from stocksync.simulators.woocommerce_state import WooCommerceSimState
from stocksync.simulators.woocommerce_webhooks import WebhookDeliverer


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int | None = 0
    name: str | None = None
    parent_sku: str | None = Field(None, description="make it a variation of this product")
    manage_stock: bool | Literal["parent"] = True
    backorders: Literal["no", "notify", "yes"] = "no"


class InventoryIn(BaseModel):
    quantity: int


class ParentStockIn(BaseModel):
    quantity: int


class OrderLineIn(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class OrderIn(BaseModel):
    line_items: list[OrderLineIn] = Field(min_length=1)
    status: str = "processing"
    price_cents: int = Field(1000, ge=0, description="unit price of every line")


class RefundLineIn(BaseModel):
    id: int = Field(description="order line item id")
    quantity: int = Field(gt=0)


class RefundIn(BaseModel):
    line_items: list[RefundLineIn] = Field(default_factory=list)
    restock: bool = Field(False, description="'Restock refunded items' / api_restock")
    amount_cents: int | None = Field(None, ge=0, description="default: the lines' totals")
    reason: str = ""


class OrderStatusIn(BaseModel):
    status: str


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    force_rate_limit: bool | None = None
    retry_after_s: int | None = Field(None, ge=0)
    reject_skus: list[str] | None = None
    batch_limit: int | None = Field(None, ge=1)
    rate_limit: int | None = Field(None, ge=0, description="requests per window; 0 = off")
    rate_limit_window_s: float | None = Field(None, gt=0)
    rate_limit_headers: bool | None = None


class WebhooksIn(BaseModel):
    url: str
    secret: str
    topics: list[str] | None = None
    status: Literal["active", "paused", "disabled"] = "active"


def admin_router(sim: WooCommerceSimState, monitor: Monitor, window: RateWindow,
                 webhooks: WebhookDeliverer) -> APIRouter:
    router = APIRouter(prefix="/_sim")

    def faults() -> dict[str, Any]:
        return {**asdict(sim.faults), "batch_limit": sim.batch_limit,
                "rate_limit": window.limit, "rate_limit_window_s": window.window_s,
                "rate_limit_headers": window.send_headers}

    @router.get("/state")
    async def state() -> dict[str, Any]:
        return snapshot(sim)

    @router.post("/items", status_code=201)
    async def add_item(body: ItemIn) -> dict[str, Any]:
        try:
            item = sim.add_item(body.sku, body.quantity, name=body.name,
                                parent_sku=body.parent_sku, manage_stock=body.manage_stock,
                                backorders=body.backorders)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        return product_json(sim, item)

    @router.put("/items/{sku:path}/stock")  # a variable product managing stock for variations
    async def set_parent_stock(sku: str, body: ParentStockIn) -> dict[str, Any]:
        try:
            return product_json(sim, sim.set_parent_stock(sku, body.quantity))
        except KeyError as exc:
            raise HTTPException(404, f"no variable product {sku!r}") from exc

    @router.delete("/items/{sku:path}")
    async def delete_item(sku: str) -> dict[str, Any]:
        item = sim.item_by_sku(sku)
        if item is None:
            raise HTTPException(404, f"unknown SKU {sku!r}")
        body = product_json(sim, item)
        sim.delete_item(item)
        return body

    @router.put("/inventory/{sku:path}")  # SKUs may contain "/"
    async def set_inventory(sku: str, body: InventoryIn) -> dict[str, Any]:
        try:
            holder = sim.merchant_sets_stock(sku, body.quantity)
        except KeyError as exc:
            raise HTTPException(404, f"unknown SKU {sku!r}") from exc
        return product_json(sim, holder)

    @router.post("/orders", status_code=201)
    async def place_order(body: OrderIn) -> dict[str, Any]:
        lines = [(line.sku, line.quantity) for line in body.line_items]
        try:
            return order_json(sim, sim.place_order(lines, body.status, body.price_cents))
        except KeyError as exc:
            raise HTTPException(404, f"unknown SKU {exc.args[0]!r}") from exc
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc

    @router.put("/orders/{order_id}")
    async def set_order_status(order_id: int, body: OrderStatusIn) -> dict[str, Any]:
        if order_id not in sim.orders:
            raise HTTPException(404, f"unknown order {order_id}")
        try:
            return order_json(sim, sim.set_order_status(order_id, body.status))
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc

    @router.post("/orders/{order_id}/refunds", status_code=201)
    async def refund_order(order_id: int, body: RefundIn) -> dict[str, Any]:
        """The merchant refunds lines, restocking them or not (wc_create_refund)."""
        if order_id not in sim.orders:
            raise HTTPException(404, f"unknown order {order_id}")
        quantities: dict[int, int] = {}
        for line in body.line_items:
            quantities[line.id] = quantities.get(line.id, 0) + line.quantity
        try:
            refund = sim.refund_order(order_id, quantities, restock=body.restock,
                                      amount_cents=body.amount_cents, reason=body.reason)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        return refund_json(sim, refund)

    @router.get("/faults")
    async def get_faults() -> dict[str, Any]:
        return faults()

    @router.post("/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for name in ("latency_ms", "fail_next_n", "fail_status", "force_rate_limit",
                     "retry_after_s", "reject_skus"):
            value = getattr(body, name)
            if value is not None:
                setattr(sim.faults, name, value)
        if body.batch_limit is not None:
            sim.batch_limit = body.batch_limit
        if body.rate_limit is not None:
            window.limit = body.rate_limit or None
            window.started_at = None  # a new limit starts a fresh window
        if body.rate_limit_window_s is not None:
            window.window_s = body.rate_limit_window_s
        if body.rate_limit_headers is not None:
            window.send_headers = body.rate_limit_headers
        return faults()

    @router.get("/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(record) for record in monitor.requests]

    @router.delete("/requests", status_code=204)
    async def clear_requests() -> None:
        monitor.requests.clear()

    @router.get("/violations")
    async def violations() -> dict[str, Any]:
        return monitor.report()

    @router.delete("/violations", status_code=204)
    async def clear_violations() -> None:
        monitor.clear()

    @router.get("/webhooks")
    async def deliveries() -> dict[str, Any]:
        return webhooks.snapshot()

    @router.put("/webhooks")
    async def subscribe(body: WebhooksIn) -> dict[str, Any]:
        topics = body.topics if body.topics is not None else list(sim.config.webhook_topics)
        created = webhooks.subscribe(body.url, body.secret, topics, body.status)
        return {"webhooks": [w.as_json() for w in created]}

    return router

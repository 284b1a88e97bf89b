"""Admin API of the Amazon simulator (not part of Amazon's API).

    GET    /_sim/state             listings (quantity, ASIN, status), feeds, limits, counters
    POST   /_sim/items             {sku, quantity?, asin?, product_type?,
                                   lead_time_to_ship_max_days?, restock_date?}: seed a listing
    PUT    /_sim/inventory/{sku}   {quantity}: a Seller Central edit behind stocksync's back
    GET/POST /_sim/faults          latency_ms, fail_next_n, fail_status, force_rate_limit,
                                   expire_tokens, rate_limits {op: {rate, burst}},
                                   patch_apply_delay_s, feed_processing_delay_s,
                                   min_feed_interval_s, unknown_sku (accept | invalid),
                                   orders_visible_after_s
    (orders, cancellations, ORDER_CHANGE forwarding: see amazon_orders.py)
    GET/DELETE /_sim/requests      every call received, with its outcome
    GET/DELETE /_sim/violations    429s the client earned, feeds closer than allowed
    GET    /_sim/notifications     LISTINGS_ITEM_MFN_QUANTITY_CHANGE envelopes emitted
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from stocksync.simulators.amazon_feeds import FeedStore
from stocksync.simulators.amazon_state import AmazonSimState


class ItemIn(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int | None = Field(0, description="DEFAULT (merchant) quantity; null = none")
    asin: str | None = None
    product_type: str = "PRODUCT"
    # Other fields of the DEFAULT fulfillment_availability entry the seller set in Seller
    # Central: a replace patch drops them, a merge patch keeps them.
    lead_time_to_ship_max_days: int | None = Field(None, ge=0)
    restock_date: str | None = None


class InventoryIn(BaseModel):
    quantity: int = Field(ge=0)


class RateLimitIn(BaseModel):
    rate: float = Field(gt=0)
    burst: float = Field(ge=1)


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    force_rate_limit: bool | None = None
    expire_tokens: bool = False  # every access token issued so far expires now
    rate_limits: dict[str, RateLimitIn] | None = None  # resets those buckets, full
    patch_apply_delay_s: float | None = Field(None, ge=0)
    feed_processing_delay_s: float | None = Field(None, ge=0)
    min_feed_interval_s: float | None = Field(None, ge=0)
    unknown_sku: Literal["accept", "invalid"] | None = None
    orders_visible_after_s: float | None = Field(None, ge=0)


def install_admin(app: FastAPI, sim: AmazonSimState, feeds: FeedStore) -> None:
    def faults() -> dict[str, Any]:
        return {**asdict(sim.faults),
                "patch_apply_delay_s": sim.patch_apply_delay_s,
                "feed_processing_delay_s": sim.feed_processing_delay_s,
                "min_feed_interval_s": sim.min_feed_interval_s,
                "unknown_sku": sim.unknown_sku,
                "orders_visible_after_s": sim.orders_visible_after_s,
                "rate_limits": {op: {"rate": b.rate, "burst": b.burst}
                                for op, b in sim.buckets.items()}}

    @app.get("/_sim/state")
    async def state() -> dict[str, Any]:
        return {**sim.snapshot(), "feeds": feeds.snapshot()}

    @app.post("/_sim/items", status_code=201)
    async def add_item(body: ItemIn) -> dict[str, Any]:
        sim.advance()
        try:
            extra = {name: value for name in ("lead_time_to_ship_max_days", "restock_date")
                     if (value := getattr(body, name)) is not None}
            listing = sim.add_listing(body.sku, body.quantity, asin=body.asin,
                                      product_type=body.product_type, fulfillment_extra=extra)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        return {"sku": listing.sku, "asin": listing.asin, "quantity": listing.quantity}

    @app.put("/_sim/inventory/{sku:path}")  # SKUs may contain "/"
    async def set_inventory(sku: str, body: InventoryIn) -> dict[str, Any]:
        sim.advance()
        if sku not in sim.listings:
            raise HTTPException(404, f"unknown SKU {sku!r}")
        listing = sim.merchant_sets_quantity(sku, body.quantity)
        return {"sku": sku, "quantity": listing.quantity}

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return faults()

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for name in ("latency_ms", "fail_next_n", "fail_status", "force_rate_limit"):
            if (value := getattr(body, name)) is not None:
                setattr(sim.faults, name, value)
        for name in ("patch_apply_delay_s", "feed_processing_delay_s", "min_feed_interval_s",
                     "unknown_sku", "orders_visible_after_s"):
            if (value := getattr(body, name)) is not None:
                setattr(sim, name, value)
        if body.expire_tokens:
            sim.expire_tokens()
        for operation, limit in (body.rate_limits or {}).items():
            sim.set_rate_limit(operation, limit.rate, limit.burst)
        return faults()

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
        sim.violations.clear()
        sim.transient_rate_limited = 0

    @app.get("/_sim/notifications")
    async def notifications() -> list[dict[str, Any]]:
        sim.advance()
        return list(sim.notifications)

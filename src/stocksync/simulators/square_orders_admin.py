"""Admin routes of the Square simulator for orders (what a till, the Dashboard or an app
does at the seller; semantics in simulators/square_orders.py):

    POST /_sim/orders                  a sale: {lines: [{sku | catalog_object_id, quantity}],
                                       source: "POS" (a till sale, default) | "API"
                                       (CreateOrder, notifies order.created/updated),
                                       occurred_at? (earlier than now: made offline, synced
                                       now), paid? (API only; default true), location_id?}
    POST /_sim/orders/{id}/pay         pay an unpaid API order in full
    POST /_sim/orders/{id}/cancel      cancel an unpaid open order
    POST /_sim/orders/{id}/returns     {lines: [{line_uid, quantity}], restock: bool}
    GET  /_sim/orders                  every order, as SearchOrders would show it
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from stocksync.simulators.square_orders import (
    API,
    POS,
    OrderRefused,
    SaleLine,
    cancel,
    make_return,
    make_sale,
    pay,
)
from stocksync.simulators.square_state import JsonObject, SquareSimState, Variation


class SaleLineIn(BaseModel):
    sku: str | None = None
    catalog_object_id: str | None = None
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=5)


class SaleIn(BaseModel):
    lines: list[SaleLineIn] = Field(min_length=1)
    source: Literal["POS", "API"] = POS
    occurred_at: datetime | None = None
    paid: bool = True
    location_id: str | None = None


class ReturnLineIn(BaseModel):
    line_uid: str
    quantity: Decimal = Field(gt=0, max_digits=12, decimal_places=5)


class ReturnIn(BaseModel):
    lines: list[ReturnLineIn] = Field(min_length=1)
    restock: bool


def add_order_routes(app: FastAPI, sim: SquareSimState,
                     find: Callable[[SquareSimState, str, str | None], Variation]) -> None:
    """Mount the order admin routes; `find` resolves a SKU (or object id) to a variation."""

    @app.post("/_sim/orders", status_code=201)
    async def sale(body: SaleIn) -> dict[str, Any]:
        location_id = body.location_id or sim.config.location_id
        if location_id not in sim.locations:
            raise HTTPException(404, f"unknown location {location_id!r}")
        if body.source == POS and not body.paid:
            raise HTTPException(422, "a till sale is paid at the till")
        if body.occurred_at is not None and body.occurred_at.tzinfo is None:
            raise HTTPException(422, "occurred_at needs a time zone")
        lines = []
        for line in body.lines:
            if line.sku is None and line.catalog_object_id is None:
                raise HTTPException(422, "give sku or catalog_object_id")
            variation = (sim.variations.get(line.catalog_object_id)
                         if line.sku is None and line.catalog_object_id else
                         find(sim, line.sku or "", line.catalog_object_id))
            if variation is None:
                raise HTTPException(404, f"unknown catalog object {line.catalog_object_id!r}")
            lines.append(SaleLine(variation, line.quantity))
        return make_sale(sim, lines, location_id=location_id,
                         source=API if body.source == API else POS,
                         occurred_at=body.occurred_at, paid=body.paid)

    @app.post("/_sim/orders/{order_id}/pay")
    async def pay_order(order_id: str) -> JsonObject:
        return _run(lambda: pay(sim, order_id))

    @app.post("/_sim/orders/{order_id}/cancel")
    async def cancel_order(order_id: str) -> JsonObject:
        return _run(lambda: cancel(sim, order_id))

    @app.post("/_sim/orders/{order_id}/returns", status_code=201)
    async def return_items(order_id: str, body: ReturnIn) -> JsonObject:
        lines = [(line.line_uid, line.quantity) for line in body.lines]
        return _run(lambda: make_return(sim, order_id, lines, body.restock))

    @app.get("/_sim/orders")
    async def orders() -> list[JsonObject]:
        return list(sim.orders.values())


def _run(action: Callable[[], JsonObject]) -> JsonObject:
    try:
        return action()
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    except OrderRefused as exc:
        raise HTTPException(409, str(exc)) from exc

"""Orders API v0 of the Amazon simulator, merchant-fulfilled orders placed and cancelled through
the admin API, and ORDER_CHANGE notifications forwarded the way a stocksync deployment does
(amazon_order_change.py).

    GET  /orders/v0/orders                       getOrders (0.0167/s, burst 20)
    GET  /orders/v0/orders/{orderId}             getOrder (0.5/s, burst 30)
    GET  /orders/v0/orders/{orderId}/orderItems  getOrderItems (0.5/s, burst 30)
    POST /_sim/orders                            {items: [{sku, quantity}], status?,
                                                  fulfillment_channel?}: a buyer checks out
    POST /_sim/orders/{id}/status                {status}: Unshipped (payment authorized),
                                                  Shipped, PartiallyShipped
    POST /_sim/orders/{id}/cancel                {reason: BuyerCanceled | NoInventory}
    GET  /_sim/orders                            every order as getOrder renders it
    PUT  /_sim/order-change-forwarding           {url, secret}: where ORDER_CHANGE goes
    GET  /_sim/order-change-forwards             each forward and its answer

Semantics (channels/amazon_orders.py cites the sources): checkout puts the order in Pending
(or Unshipped when `status` says payment is already authorized) and subtracts the quantity
from the DEFAULT listing at once; a buyer cancellation gives it back, a seller cancellation
for lack of stock does not; Canceled items of a buyer cancellation carry BuyerRequestedCancel.
getOrders shows a change only `orders_visible_after_s` after it happened (Amazon: about two
minutes) and refuses a LastUpdatedBefore later than two minutes ago.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.simulators.amazon_order_change import Forwarder, order_change
from stocksync.simulators.amazon_state import AmazonSimState, JsonObject

LAG = timedelta(minutes=2)  # LastUpdatedBefore / CreatedBefore: at least 2 min before now
MAX_PAGE = 100  # MaxResultsPerPage 1-100, default 100
INVALID = "InvalidInput"
Gate = Callable[[Request, str], Awaitable[JSONResponse | None]]
Reply = Callable[[Request, str, int, dict[str, Any], str], JSONResponse]


@dataclass(slots=True)
class SimOrderItem:
    item_id: str
    sku: str
    asin: str
    quantity: int
    shipped: int = 0
    buyer_cancel_reason: str | None = None


@dataclass(slots=True)
class SimOrder:
    order_id: str
    status: str
    channel: str
    purchased_at: datetime
    updated_at: datetime
    items: list[SimOrderItem] = field(default_factory=list)

    def render(self, marketplace_id: str) -> JsonObject:
        shipped = sum(item.shipped for item in self.items)
        unshipped = 0 if self.status == "Canceled" else sum(
            item.quantity - item.shipped for item in self.items)
        return {"AmazonOrderId": self.order_id, "PurchaseDate": _iso(self.purchased_at),
                "LastUpdateDate": _iso(self.updated_at), "OrderStatus": self.status,
                "FulfillmentChannel": self.channel, "SalesChannel": "Amazon.com",
                "MarketplaceId": marketplace_id, "OrderType": "StandardOrder",
                "NumberOfItemsShipped": shipped, "NumberOfItemsUnshipped": unshipped,
                "IsPrime": False, "IsBusinessOrder": False, "IsReplacementOrder": False}

    def render_items(self) -> list[JsonObject]:
        rendered = []
        for item in self.items:
            body: JsonObject = {"ASIN": item.asin, "SellerSKU": item.sku,
                                "OrderItemId": item.item_id, "Title": f"Item {item.sku}",
                                "QuantityOrdered": item.quantity,
                                "QuantityShipped": item.shipped}
            if item.buyer_cancel_reason is not None:
                body["BuyerRequestedCancel"] = {"IsBuyerRequestedCancel": "true",
                                                "BuyerCancelReason": item.buyer_cancel_reason}
            rendered.append(body)
        return rendered


class OrderBook:
    """The seller's orders, their paging state and their ORDER_CHANGE notifications."""

    def __init__(self, sim: AmazonSimState) -> None:
        self.sim = sim
        self.orders: dict[str, SimOrder] = {}
        # NextToken -> (order ids still to list, page size asked for with the first page)
        self.pages: dict[str, tuple[list[str], int]] = {}
        self.item_pages: dict[str, tuple[str, int]] = {}  # NextToken -> (order, offset)
        self.forwarder = Forwarder(sim.config.order_forward_url,
                                   sim.config.order_forward_secret)
        self._item_seq = 10_000_000_000_000

    # -- the buyer, Amazon and the seller ----------------------------------------------------
    def place(self, lines: list[tuple[str, int]], status: str, channel: str) -> SimOrder:
        for sku, quantity in lines:
            listing = self.sim.listings.get(sku)
            if listing is None:
                raise HTTPException(404, f"unknown SKU {sku!r}")
            if channel == "MFN" and (listing.quantity or 0) < quantity:
                raise HTTPException(409, f"{sku!r} has {listing.quantity or 0} available")
        now = datetime.now(UTC)
        order = SimOrder(_order_id(), status, channel, now, now)
        for sku, quantity in lines:
            self._item_seq += 1
            order.items.append(SimOrderItem(str(self._item_seq), sku,
                                            self.sim.listings[sku].asin or "B0UNKNOWN",
                                            quantity))
            if channel == "MFN":  # taken at checkout, in Pending already
                self.sim.adjust_quantity(sku, -quantity)
        self.orders[order.order_id] = order
        self._changed(order, "OrderStatusChange", "NewOrder")
        return order

    def set_status(self, order: SimOrder, status: str) -> SimOrder:
        allowed = {"Pending": {"Unshipped"}, "Unshipped": {"PartiallyShipped", "Shipped"},
                   "PartiallyShipped": {"Shipped"}}
        if status not in allowed.get(order.status, set()):
            raise HTTPException(409, f"order {order.order_id} is {order.status}")
        if status == "Shipped":
            for item in order.items:
                item.shipped = item.quantity
        elif status == "PartiallyShipped":
            order.items[0].shipped = order.items[0].quantity
        order.status = status
        self._changed(order, "OrderStatusChange", status)
        return order

    def cancel(self, order: SimOrder, reason: str) -> SimOrder:
        if order.status not in ("Pending", "Unshipped"):
            raise HTTPException(409, f"order {order.order_id} is {order.status}")
        for item in order.items:
            if reason == "BuyerCanceled":
                item.buyer_cancel_reason = "CustomerRequest"
                if order.channel == "MFN":  # "Buyer Cancelled" restores the inventory
                    self.sim.adjust_quantity(item.sku, item.quantity)
        order.status = "Canceled"
        self._changed(order, "OrderStatusChange", reason)
        return order

    # -- getOrders ---------------------------------------------------------------------------
    def list_orders(self, params: dict[str, str]) -> tuple[int, JsonObject]:
        token = params.get("NextToken")
        if token:  # NextToken overrides every other criterion
            found = self.pages.pop(token, None)
            if found is None:
                return 400, _error("Invalid NextToken.")
            return 200, self._page(*found, {})
        try:
            ids, echo = self._select(params)
        except ValueError as exc:
            return 400, _error(str(exc))
        size = _int(params.get("MaxResultsPerPage"), MAX_PAGE)
        if not 1 <= size <= MAX_PAGE:
            return 400, _error("MaxResultsPerPage must be 1 - 100.")
        return 200, self._page(ids, size, echo)

    def _select(self, params: dict[str, str]) -> tuple[list[str], JsonObject]:
        marketplaces = (params.get("MarketplaceIds") or "").split(",")
        if self.sim.config.marketplace_id not in marketplaces:
            raise ValueError("MarketplaceIds is required and must name the marketplace.")
        updated, created = params.get("LastUpdatedAfter"), params.get("CreatedAfter")
        if bool(updated) == bool(created):
            raise ValueError("Exactly one of CreatedAfter and LastUpdatedAfter is required.")
        after = _time(updated or created or "", "LastUpdatedAfter" if updated else
                      "CreatedAfter")
        before_name = "LastUpdatedBefore" if updated else "CreatedBefore"
        latest = datetime.now(UTC) - LAG
        before = _time(params[before_name], before_name) if params.get(before_name) else None
        if before is not None and (before < after or before > latest):
            raise ValueError(f"{before_name} must be after the start and at least two "
                             "minutes before the current time.")
        channels = set(filter(None, (params.get("FulfillmentChannels") or "").split(",")))
        statuses = set(filter(None, (params.get("OrderStatuses") or "").split(",")))
        visible_before = datetime.now(UTC) - timedelta(seconds=self.sim.orders_visible_after_s)
        chosen = []
        for order in sorted(self.orders.values(), key=lambda o: (o.updated_at, o.order_id)):
            moment = order.updated_at if updated else order.purchased_at
            if (order.updated_at > visible_before or moment < after
                    or (before is not None and moment > before)
                    or (channels and order.channel not in channels)
                    or (statuses and order.status not in statuses)):
                continue
            chosen.append(order.order_id)
        return chosen, {before_name: _iso(before or latest)}

    def _page(self, ids: list[str], size: int, echo: JsonObject) -> JsonObject:
        payload: JsonObject = {"Orders": [self.orders[i].render(self.sim.config.marketplace_id)
                                          for i in ids[:size]], **echo}
        if len(ids) > size:
            token = secrets.token_urlsafe(24)
            self.pages[token] = (ids[size:], size)
            payload["NextToken"] = token
        return {"payload": payload}

    def items_page(self, order: SimOrder, token: str | None) -> tuple[int, JsonObject]:
        offset = 0
        if token:
            found = self.item_pages.pop(token, None)
            if found is None or found[0] != order.order_id:
                return 400, _error("Invalid NextToken.")
            offset = found[1]
        size = self.sim.order_items_page_size
        items = order.render_items()
        payload: JsonObject = {"AmazonOrderId": order.order_id,
                               "OrderItems": items[offset:offset + size]}
        if offset + size < len(items):
            next_token = secrets.token_urlsafe(24)
            self.item_pages[next_token] = (order.order_id, offset + size)
            payload["NextToken"] = next_token
        return 200, {"payload": payload}

    # -- ORDER_CHANGE ------------------------------------------------------------------------
    def _changed(self, order: SimOrder, change_type: str, reason: str) -> None:
        order.updated_at = datetime.now(UTC)
        notification = order_change(self.sim, order, change_type, reason)
        self.sim.notifications.append(notification)
        self.forwarder.send(notification)


class OrderIn(BaseModel):
    class Line(BaseModel):
        sku: str = Field(min_length=1)
        quantity: int = Field(ge=1)

    items: list[Line] = Field(min_length=1)
    status: Literal["Pending", "Unshipped"] = "Pending"
    fulfillment_channel: Literal["MFN", "AFN"] = "MFN"


class StatusIn(BaseModel):
    status: Literal["Unshipped", "PartiallyShipped", "Shipped"]


class CancelIn(BaseModel):
    reason: Literal["BuyerCanceled", "NoInventory"] = "BuyerCanceled"


class ForwardingIn(BaseModel):
    url: str | None = None
    secret: str | None = None


def install_orders(app: FastAPI, sim: AmazonSimState, gate: Gate, reply: Reply) -> OrderBook:
    book = OrderBook(sim)
    app.state.orders = book

    def not_found(request: Request, op: str, order_id: str) -> JSONResponse:
        return reply(request, op, 404, {"errors": [{
            "code": "NotFound", "message": f"Order {order_id} not found", "details": ""}]},
            "not_found")

    @app.get("/orders/v0/orders")
    async def get_orders(request: Request) -> JSONResponse:
        if (refused := await gate(request, "getOrders")) is not None:
            return refused
        status, body = book.list_orders(dict(request.query_params))
        return reply(request, "getOrders", status, body,
                     "ok" if status == 200 else "bad_request")

    @app.get("/orders/v0/orders/{order_id}")
    async def get_order(order_id: str, request: Request) -> JSONResponse:
        if (refused := await gate(request, "getOrder")) is not None:
            return refused
        order = book.orders.get(order_id)
        if order is None:
            return not_found(request, "getOrder", order_id)
        return reply(request, "getOrder", 200,
                     {"payload": order.render(sim.config.marketplace_id)}, "ok")

    @app.get("/orders/v0/orders/{order_id}/orderItems")
    async def get_order_items(order_id: str, request: Request) -> JSONResponse:
        if (refused := await gate(request, "getOrderItems")) is not None:
            return refused
        order = book.orders.get(order_id)
        if order is None:
            return not_found(request, "getOrderItems", order_id)
        status, body = book.items_page(order, request.query_params.get("NextToken"))
        return reply(request, "getOrderItems", status, body,
                     "ok" if status == 200 else "bad_request")

    def order_or_404(order_id: str) -> SimOrder:
        sim.advance()
        if order_id not in book.orders:
            raise HTTPException(404, f"unknown order {order_id!r}")
        return book.orders[order_id]

    @app.post("/_sim/orders", status_code=201)
    async def place(body: OrderIn) -> JsonObject:
        sim.advance()
        order = book.place([(line.sku, line.quantity) for line in body.items], body.status,
                           body.fulfillment_channel)
        return {**order.render(sim.config.marketplace_id), "OrderItems": order.render_items()}

    @app.post("/_sim/orders/{order_id}/status")
    async def set_status(order_id: str, body: StatusIn) -> JsonObject:
        order = book.set_status(order_or_404(order_id), body.status)
        return order.render(sim.config.marketplace_id)

    @app.post("/_sim/orders/{order_id}/cancel")
    async def cancel(order_id: str, body: CancelIn) -> JsonObject:
        order = book.cancel(order_or_404(order_id), body.reason)
        return order.render(sim.config.marketplace_id)

    @app.get("/_sim/orders")
    async def orders() -> list[JsonObject]:
        return [{**o.render(sim.config.marketplace_id), "OrderItems": o.render_items()}
                for o in book.orders.values()]

    @app.put("/_sim/order-change-forwarding")
    async def forwarding(body: ForwardingIn) -> JsonObject:
        book.forwarder.url, book.forwarder.secret = body.url, body.secret
        return {"url": body.url, "signed": body.secret is not None}

    @app.get("/_sim/order-change-forwards")
    async def forwards() -> list[JsonObject]:
        return list(book.forwarder.log)

    return book


def _order_id() -> str:
    digits = f"{secrets.randbelow(10 ** 17):017d}"
    return f"11{digits[0]}-{digits[1:8]}-{digits[8:15]}"


def _error(details: str) -> JsonObject:
    return {"errors": [{"code": INVALID, "message": "Invalid Input", "details": details}]}


def _int(raw: str | None, default: int) -> int:
    try:
        return int(raw) if raw else default
    except ValueError:
        return 0


def _time(raw: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} must be an ISO 8601 date-time.") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

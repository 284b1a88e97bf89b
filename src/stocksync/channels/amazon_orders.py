"""Orders in from Amazon: the Orders API v0 (getOrders, getOrder, getOrderItems) and the rules
that turn a merchant-fulfilled order's items into sales and restocks.

Sources (amzn/selling-partner-api-models `models/orders-api-model/ordersV0.json`):
- getOrders: `LastUpdatedAfter` (inclusive), `MarketplaceIds` (required), `FulfillmentChannels`,
  `NextToken` (overrides the other criteria); usage plan 0.0167/s, burst 20. "Most updated
  orders data are available two minutes after an order is created or last updated", and a
  `LastUpdatedBefore` must be at least two minutes before now ("Get orders with filtering
  criteria", developer-docs.amazon.com/sp-api/docs/get-orders-with-filtering-criteria).
- getOrder / getOrderItems: 0.5/s, burst 30; items are paged with `NextToken`.
- Order statuses (getOrders `OrderStatuses`): Pending (placed, payment not authorized),
  PendingAvailability (pre-order), Unshipped, PartiallyShipped, Shipped, InvoiceUnconfirmed,
  Canceled, Unfulfillable (Multi-Channel Fulfillment only).
Seller Central "Order processing" (help 200200040): when a buyer checks out, the order goes
to Pending AND its quantity is subtracted from the listing at once. So every status from
Pending on means the merchant-fulfilled quantity was taken.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from stocksync.channels.amazon_auth import RequestRefused, SpApi
from stocksync.channels.base import ChannelError, OrderPage
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, InboundMessage

JsonObject = dict[str, Any]

ORDERS = "/orders/v0/orders"
MERCHANT_FULFILLED = "MFN"
# Statuses in which Amazon has taken the ordered quantity off the listing (see above).
TAKEN = frozenset({"Pending", "PendingAvailability", "Unshipped", "PartiallyShipped",
                   "Shipped", "InvoiceUnconfirmed"})
CANCELED = "Canceled"
ORDER_LEVEL = "OrderLevel"  # ORDER_CHANGE NotificationLevel: the payload lists every item
# getOrders shows most changes two minutes after they happen: each window re-reads the last
# two minutes of the one before, so a late-indexed order is read on the next poll.
VISIBILITY_LAG = timedelta(minutes=2)
# getOrders is 0.0167 requests/s, i.e. one per 60 s sustained. Polling every 120 s spends
# half of that; the other half refills the burst of 20 that NextToken pages draw on (a busy
# window of 3 pages costs 3 tokens, regained within 3 minutes). Latency: up to 120 s plus
# Amazon's own ~2 minute indexing delay; ORDER_CHANGE notifications (ingest/amazon.py) are
# the fast path, this poll the backup Amazon asks for.
ORDER_POLL_SECONDS = 120.0
POLL_BUDGET_S = 8.0  # one poll_orders call stops here (the worker's lease is 15 s)
MAX_PAGE_SIZE = 100  # getOrders MaxResultsPerPage: 1-100, default 100
ITEM_CACHE_SIZE = 2000  # orders whose items are kept, keyed by (id, LastUpdateDate)


@dataclass(frozen=True, slots=True)
class OrderHead:
    """What getOrders / getOrder tell about an order (the fields stocksync uses)."""

    order_id: str
    status: str
    channel: str  # MFN | AFN
    purchased_at: str | None
    updated_at: str | None


@dataclass(frozen=True, slots=True)
class OrderLine:
    item_id: str
    sku: str
    quantity: int  # QuantityOrdered
    buyer_requested_cancel: bool


@dataclass(slots=True)
class PollState:
    """The poll cursor: a LastUpdatedAfter window and where reading it has got to."""

    since: str  # orders purchased before this were in the merchant's stock already
    after: str  # LastUpdatedAfter of the window being read
    window_end: str | None = None  # the next window's start, once this one is requested
    token: str | None = None  # getOrders NextToken of this window
    todo: list[list[str | None]] = field(default_factory=list)  # heads not itemized yet

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, cursor: str) -> PollState:
        """The first cursor is the channel's creation time (ISO-8601); later ones are ours."""
        if not cursor.startswith("{"):
            start = _iso(_parse_time(cursor))
            return cls(since=start, after=start)
        data = json.loads(cursor)
        return cls(since=data["since"], after=data["after"], window_end=data.get("window_end"),
                   token=data.get("token"), todo=list(data.get("todo") or []))


def order_messages(head: OrderHead, lines: Sequence[OrderLine],
                   since: datetime | None = None) -> list[InboundMessage]:
    """Sales for an order whose quantity Amazon took, restocks for one it gave back."""
    if head.channel != MERCHANT_FULFILLED:
        # FBA (AFN) stock is Amazon's, not the merchant's: not in stocksync's ledger.
        return [Ignored(f"order {head.order_id} is fulfilled by Amazon ({head.channel})")]
    purchased = _parse_time(head.purchased_at) if head.purchased_at else None
    if since is not None and purchased is not None and purchased < since:
        return [Ignored(f"order {head.order_id} was placed before the channel was connected")]
    if head.status in TAKEN:
        return [_sale(head, line, purchased) if line.quantity > 0 and line.sku else
                Ignored(f"order item {line.item_id} has no SKU or quantity")
                for line in lines]
    if head.status == CANCELED:
        return [_cancellation(head, line) for line in lines]
    return [Ignored(f"order {head.order_id} is {head.status}")]


def sale_key(order_id: str, item_id: str) -> str:
    return f"amazon:{order_id}:{item_id}"


def _sale(head: OrderHead, line: OrderLine, purchased: datetime | None) -> ChannelSale:
    return ChannelSale(sku=line.sku, quantity=line.quantity,
                       key=sale_key(head.order_id, line.item_id), occurred_at=purchased,
                       reference=head.order_id)


def _cancellation(head: OrderHead, line: OrderLine) -> InboundMessage:
    # Amazon restores the quantity of a cancelled seller-fulfilled order when the buyer
    # cancelled it, but not when the seller cancelled for lack of stock ("Reason for
    # cancellation", Amazon seller support blog, 2011). The Orders API does not report the
    # seller's reason; BuyerRequestedCancel is the one signal it gives, so only those items
    # count as restocked. Any other cancellation may or may not have been restored: leaving
    # it out can undercount stock but never oversells.
    if not line.buyer_requested_cancel:
        return Ignored(f"order item {line.item_id} cancelled without a buyer request: "
                       "Amazon does not say whether it restored the quantity")
    if line.quantity <= 0 or not line.sku:
        return Ignored(f"cancelled order item {line.item_id} carries no quantity")
    key = sale_key(head.order_id, line.item_id)
    return ChannelReturn(sku=line.sku, quantity=line.quantity, key=f"{key}:canceled",
                         sale_key=key, occurred_at=_parse_time(head.updated_at)
                         if head.updated_at else None, reference=head.order_id)


class AmazonOrders:
    """Reads orders for one seller and marketplace through a paced SpApi."""

    def __init__(self, api: SpApi, marketplace_id: str, *, since: datetime | None = None,
                 budget_s: float = POLL_BUDGET_S, page_size: int = MAX_PAGE_SIZE,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.api = api
        self.marketplace_id = marketplace_id
        self.since = since
        self.budget_s = budget_s
        self.page_size = page_size
        self._clock = clock
        self._now = now
        # Items of orders read recently: a window re-read (the two-minute overlap) costs no
        # getOrderItems call for an order that has not changed since.
        self._items: OrderedDict[tuple[str, str | None], list[OrderLine]] = OrderedDict()

    async def poll(self, cursor: str) -> OrderPage:
        state = PollState.decode(cursor)
        since = _parse_time(state.since)
        deadline = self._clock() + self.budget_s
        messages: list[InboundMessage] = []
        try:
            while True:
                if state.todo:
                    if not self._has_time("getOrderItems", deadline):
                        break
                    head = _head_from_row(state.todo[0])
                    messages += order_messages(head, await self.items(head), since)
                    state.todo.pop(0)
                elif state.window_end is not None and state.token is None:
                    state.after, state.window_end = state.window_end, None
                    break  # one window per poll: the next starts order_poll_seconds later
                elif self._has_time("getOrders", deadline):
                    await self._read_page(state)
                else:
                    break
        except ChannelError:
            if not messages:
                raise  # nothing done: the worker backs off and retries the same cursor
        more = bool(state.todo or state.token)
        return OrderPage(messages=messages, cursor=state.encode(), more=more)

    async def fetch(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        """getOrder + getOrderItems per order (for an ORDER_CHANGE notice)."""
        messages: list[InboundMessage] = []
        for order_id in dict.fromkeys(order_ids):
            try:
                answer = await self.api.call("getOrder", "GET", f"{ORDERS}/{_quote(order_id)}")
            except RequestRefused as exc:
                if exc.status == 404:  # not (yet) visible, or another seller's order
                    messages.append(Ignored(f"Amazon does not know order {order_id}"))
                    continue
                raise
            head = order_head(_payload(answer))
            messages += order_messages(head, await self.items(head), self.since)
        return messages

    def from_summary(self, order_id: str, summary: Mapping[str, Any]
                     ) -> list[InboundMessage] | None:
        """An ORDER_CHANGE's summary (ingest/amazon.py `order_summary`) counted without a
        read, when it is enough: an order-level notification (it lists every item) of an
        order whose quantity Amazon took. Cancellations are read (their restock depends on
        the items' details), as are item-level notifications (one item only)."""
        if summary.get("level") != ORDER_LEVEL or summary.get("status") not in TAKEN:
            return None
        head = OrderHead(order_id=order_id, status=str(summary["status"]),
                         channel=str(summary.get("fulfillment") or MERCHANT_FULFILLED),
                         purchased_at=_text(summary.get("purchased_at")),
                         updated_at=_text(summary.get("updated_at")))
        lines = [OrderLine(item_id=str(item["item_id"]), sku=str(item["sku"]),
                           quantity=int(item["quantity"]),
                           buyer_requested_cancel=bool(item.get("buyer_requested_cancel")))
                 for item in summary.get("items") or []]
        return order_messages(head, lines, self.since) if lines else None

    async def items(self, head: OrderHead) -> list[OrderLine]:
        cached = self._items.get((head.order_id, head.updated_at))
        if cached is not None:
            return cached
        lines: list[OrderLine] = []
        params: dict[str, str] = {}
        while True:
            answer = await self.api.call("getOrderItems", "GET",
                                         f"{ORDERS}/{_quote(head.order_id)}/orderItems",
                                         params=params)
            payload = _payload(answer)
            lines += [order_line(item) for item in payload.get("OrderItems") or []]
            token = payload.get("NextToken")
            if not token:
                break
            params = {"NextToken": str(token)}
        self._items[(head.order_id, head.updated_at)] = lines
        while len(self._items) > ITEM_CACHE_SIZE:
            self._items.popitem(last=False)
        return lines

    async def _read_page(self, state: PollState) -> None:
        """The next getOrders page of the window: its orders become the todo list."""
        params: dict[str, str] = {"MarketplaceIds": self.marketplace_id}
        if state.token:
            params["NextToken"] = state.token
            window_end = state.window_end
        else:
            asked_at = self._now()
            params |= {"LastUpdatedAfter": state.after, "MaxResultsPerPage": str(self.page_size),
                       "FulfillmentChannels": MERCHANT_FULFILLED}
            # Never move the window back; never past what Amazon has surely indexed.
            window_end = _iso(max(_parse_time(state.after), asked_at - VISIBILITY_LAG))
        answer = await self.api.call("getOrders", "GET", ORDERS, params=params)
        payload = _payload(answer)
        state.window_end = window_end
        state.token = str(payload["NextToken"]) if payload.get("NextToken") else None
        state.todo = [_head_row(order_head(order)) for order in payload.get("Orders") or []]

    def _has_time(self, operation: str, deadline: float) -> bool:
        """Is there budget left for one more `operation` call, counting the wait for its
        token? getOrders refills one token a minute: a poll that would wait for one returns
        instead and the worker comes back later."""
        remaining = deadline - self._clock()
        return remaining > 0 and self.api.pacer(operation).wait_for_token() < remaining


def _payload(answer: JsonObject) -> JsonObject:
    payload = answer.get("payload")
    if not isinstance(payload, dict):
        raise ChannelError("Amazon answered without a payload")
    return payload


def order_head(order: JsonObject) -> OrderHead:
    order_id = order.get("AmazonOrderId")
    if not isinstance(order_id, str) or not order_id:
        raise ChannelError("Amazon order without an AmazonOrderId")
    return OrderHead(order_id=order_id, status=str(order.get("OrderStatus")),
                     channel=str(order.get("FulfillmentChannel") or MERCHANT_FULFILLED),
                     purchased_at=_text(order.get("PurchaseDate")),
                     updated_at=_text(order.get("LastUpdateDate")))


def _head_row(head: OrderHead) -> list[str | None]:
    return [head.order_id, head.status, head.channel, head.purchased_at, head.updated_at]


def _head_from_row(row: Sequence[str | None]) -> OrderHead:
    order_id, status, channel, purchased_at, updated_at = row
    return OrderHead(str(order_id), str(status), str(channel), purchased_at, updated_at)


def order_line(item: JsonObject) -> OrderLine:
    quantity = item.get("QuantityOrdered")
    cancel = item.get("BuyerRequestedCancel") or {}
    return OrderLine(item_id=str(item.get("OrderItemId") or ""),
                     sku=str(item.get("SellerSKU") or ""),
                     quantity=quantity if isinstance(quantity, int) else 0,
                     # A string "true"/"false" in the model (BuyerRequestedCancel).
                     buyer_requested_cancel=str(cancel.get("IsBuyerRequestedCancel")
                                                ).lower() == "true")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _quote(order_id: str) -> str:
    return quote(order_id, safe="")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

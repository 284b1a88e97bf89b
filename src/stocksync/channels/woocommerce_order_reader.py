"""Reading WooCommerce orders over REST v3: the poll that catches what webhooks missed
(WooCommerce never retries a failed delivery and disables a webhook after repeated
failures, woocommerce.md §5.3) and the fetch of named orders.

Poll: `GET /orders?modified_after=&dates_are_gmt=true&orderby=modified&order=asc`
(collection parameters of WC_REST_CRUD_Controller; `modified` is in the code's `orderby`
enum though the v3 docs table lists only date/id/include/title/slug). One page per call,
always from the cursor, so orders changed while we read never shift a page under us:

- `modified_after` is exclusive and WooCommerce dates have one-second resolution, so the
  query starts one second before the cursor (an order saved in the cursor's second after
  we read it is not lost); re-read orders are harmless, every line is keyed.
- The cursor is the `date_modified_gmt` of the page's last order; a full page means more
  is ready now. Should a whole page share the cursor's second (100+ orders in one
  second), the cursor names the next page of that same query instead: "<time>#<page>".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stocksync.channels.base import OrderPage, Rejected, Unavailable
from stocksync.channels.woocommerce_orders import gmt, order_messages
from stocksync.core.inbound import Ignored, InboundMessage, MalformedWebhook

# (method, path, params) -> (JSON body, headers) of a 2xx answer; the connector's _call.
Call = Callable[..., Awaitable[tuple[object, Any]]]

# One GET a minute: the wc/v3 API has no rate limit of its own and hosts that add one allow
# far more (woocommerce.md §4); webhooks carry orders within seconds, this only catches
# what they missed.
ORDER_POLL_SECONDS = 60.0
ORDERS_PER_PAGE = 100  # WordPress caps per_page at 100 (§1)
OVERLAP = timedelta(seconds=1)
WOO_TIME = "%Y-%m-%dT%H:%M:%S"  # *_gmt form, no offset (dates_are_gmt=true)


@dataclass(frozen=True, slots=True)
class OrderCursor:
    since: datetime  # aware, UTC
    page: int = 1

    @classmethod
    def parse(cls, raw: str) -> OrderCursor:
        """The first cursor is the ISO-8601 time the channel was created; ours add #page."""
        text, _, page = raw.partition("#")
        try:
            since = datetime.fromisoformat(text.strip())
        except ValueError as exc:
            raise Rejected(f"not a WooCommerce order cursor: {raw!r}") from exc
        since = since if since.tzinfo is not None else since.replace(tzinfo=UTC)
        return cls(since.astimezone(UTC), int(page) if page.isdigit() else 1)

    def __str__(self) -> str:
        stamp = self.since.isoformat()
        return stamp if self.page == 1 else f"{stamp}#{self.page}"


async def poll_orders(call: Call, raw_cursor: str) -> OrderPage:
    """The orders changed since the cursor, oldest change first, as messages."""
    cursor = OrderCursor.parse(raw_cursor)
    after = (cursor.since - OVERLAP).astimezone(UTC).strftime(WOO_TIME)
    body, _ = await call("GET", "/orders", params={
        "modified_after": after, "dates_are_gmt": "true", "orderby": "modified",
        "order": "asc", "per_page": str(ORDERS_PER_PAGE), "page": str(cursor.page)})
    rows = _rows(body, "/orders")
    messages: list[InboundMessage] = []
    newest = cursor.since
    for row in rows:
        messages += _messages_of(row)
        changed = _changed_at(row)
        newest = max(newest, changed) if changed is not None else newest
    full = len(rows) >= ORDERS_PER_PAGE
    if full and newest <= cursor.since:
        # The whole page is in the cursor's second: page on through that same query.
        return OrderPage(messages, str(OrderCursor(cursor.since, cursor.page + 1)), True)
    return OrderPage(messages, str(OrderCursor(newest)), full)


async def fetch_orders(call: Call, order_ids: Sequence[str]) -> list[InboundMessage]:
    """The messages of each named order (GET /orders/<id>); unknown ids are ignored."""
    messages: list[InboundMessage] = []
    for order_id in order_ids:
        if not order_id.isdigit():
            messages.append(Ignored(f"{order_id!r} is not a WooCommerce order id"))
            continue
        try:
            body, _ = await call("GET", f"/orders/{order_id}")
        except Rejected as exc:
            if "invalid_id" not in str(exc):
                raise
            messages.append(Ignored(f"order {order_id} no longer exists"))
            continue
        if not isinstance(body, dict):
            raise Unavailable(f"WooCommerce answered /orders/{order_id} with no order")
        messages += _messages_of(body)
    return messages


def _rows(body: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise Unavailable(f"WooCommerce answered {path} with something not a list")
    return [row for row in body if isinstance(row, dict)]


def _messages_of(order: dict[str, Any]) -> list[InboundMessage]:
    """One malformed order must not stall the poll forever: it is skipped, and named."""
    try:
        return order_messages(order)
    except MalformedWebhook as exc:
        return [Ignored(f"order {order.get('id')!r} is malformed: {exc.message}")]


def _changed_at(order: dict[str, Any]) -> datetime | None:
    try:
        return gmt(order, "date_modified_gmt")
    except MalformedWebhook:
        return None

"""Reading Shopify orders back (FetchesOrders, PollsOrders) over the Admin GraphQL API.

Webhooks stay the fast path; this is the safety net. Shopify retries a failed delivery 8
times over 4 hours and then deletes a subscription made through the API (shopify.md §6.4),
so an order can reach stocksync only this way. `orders/edited` names no SKU, so it becomes
an OrderNotice and its order is read here too.

Polling: `orders(first:, after:, query: "updated_at:>'<since>'", sortKey: UPDATED_AT)`
lists only ids and times (requested cost 2 + first); each changed order is then read with
`order(id:)` (ORDER_COST requested, refunded down to what the order holds: an order of
three lines without refunds costs about 7), and an edited order's sales agreements with a
second read (AGREEMENTS_COST). Every 30 s an idle poll actually spends ~2 points against a
restore rate of 50+ points/s, i.e. well under 1% of the bucket; the requested costs only
need the bucket to hold 815 points for a moment, which ShopifyPacer waits for.

The cursor is the newest `updatedAt` seen. Shopify's search index can trail a change
(shopify.md §6.4 asks for reconciliation because deliveries are not guaranteed; the
orders query reads the search index), so each poll asks again from OVERLAP before it and
skips orders it already read at the same `updatedAt` (kept in the cursor, once that stamp
is SETTLE old); a re-read is harmless anyway, since every message is keyed by Shopify's ids.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from stocksync.channels.base import OrderPage, Rejected
from stocksync.channels.shopify_order_messages import (
    IncompleteOrder,
    numeric_id,
    order_messages,
    parse_time,
)
from stocksync.core.inbound import Ignored, InboundMessage

JsonObject = dict[str, Any]
GraphQL = Callable[[str, JsonObject, int], Awaitable[JsonObject]]

# Page sizes written into ORDER and AGREEMENTS_QUERY below (kept equal by a unit test).
LINES, REFUNDS, REFUND_LINES = 100, 10, 20
AGREEMENTS, SALES = 4, 100
# Requested cost by the calculated-cost rules (objects 1, connections 2 + first x node):
# Order 1 + retailLocation 1 + lineItems (2 + 100) + refunds 10 x (1 + 2 + 20 x 3).
ORDER_COST = 1 + 1 + (2 + LINES) + REFUNDS * (1 + 2 + REFUND_LINES * 3)
# Order 1 + agreements (2 + 4 x (1 + sales 2 + 100 x (sale 1 + lineItem 1))).
AGREEMENTS_COST = 1 + 2 + AGREEMENTS * (1 + 2 + SALES * 2)
LIST_PAGE = 50
OVERLAP = timedelta(seconds=120)
SEEN_KEPT = 500  # orders remembered in the cursor as already read at their updatedAt
# updatedAt has one-second resolution: a change made in the same second as our read would
# keep the same stamp. Only an order last updated this long before the read counts as read.
SETTLE = timedelta(seconds=3)

ORDER = """
query StocksyncOrder($id: ID!) {
  order(id: $id) {
    id name createdAt updatedAt cancelledAt edited
    retailLocation { id }
    customAttributes { key value }
    lineItems(first: 100) {
      nodes { id sku quantity currentQuantity customAttributes { key value } }
      pageInfo { hasNextPage }
    }
    refunds(first: 10) {
      id createdAt
      refundLineItems(first: 20) {
        nodes { id quantity restockType location { id } lineItem { id sku } }
        pageInfo { hasNextPage }
      }
    }
  }
}"""
AGREEMENTS_QUERY = """
query StocksyncOrderAgreements($id: ID!, $after: String) {
  order(id: $id) {
    agreements(first: 4, after: $after) {
      nodes {
        id happenedAt reason
        sales(first: 100) {
          nodes { actionType quantity ... on ProductSale { lineItem { id sku } } }
          pageInfo { hasNextPage }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}"""
LIST_ORDERS = """
query StocksyncChangedOrders($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}"""


class ShopifyOrderReader:
    """What ShopifyConnector.fetch_orders / poll_orders do, over its `_graphql`."""

    order_poll_seconds: ClassVar[float] = 30.0

    def __init__(self, graphql: GraphQL, locations: Mapping[str, str], *,
                 page_size: int = LIST_PAGE) -> None:
        self._graphql = graphql
        self.locations = dict(locations)  # Shopify location id -> stocksync location code
        self.page_size = page_size

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        for order_id in order_ids:
            messages += await self._read(numeric_id(order_id))
        return messages

    async def poll_orders(self, cursor: str) -> OrderPage:
        state = _Cursor.parse(cursor)
        query = f"updated_at:>'{_iso(state.since - OVERLAP)}'"
        data = await self._graphql(LIST_ORDERS, {"first": self.page_size, "after": state.after,
                                                 "query": query}, 2 + self.page_size)
        page = data["orders"]
        messages: list[InboundMessage] = []
        settled = datetime.now(UTC) - SETTLE
        for node in page["nodes"]:
            order_id, updated = numeric_id(node["id"]), str(node["updatedAt"])
            stamp, moment = f"{order_id}@{updated}", parse_time(updated)
            if stamp not in state.seen:
                messages += await self._read(order_id)
                if moment is not None and moment < settled:
                    state.seen.append(stamp)
            if moment is not None and moment > state.newest:
                state.newest = moment
        more = bool(page["pageInfo"]["hasNextPage"])
        state.after = page["pageInfo"]["endCursor"] if more else None
        if not more:  # the whole listing was read: start the next one from the newest
            state.since = state.newest
        return OrderPage(messages, state.dump(), more)

    async def _read(self, order_id: str) -> list[InboundMessage]:
        gid = f"gid://shopify/Order/{order_id}"
        order = (await self._graphql(ORDER, {"id": gid}, ORDER_COST))["order"]
        if order is None:  # deleted, or older than the 60 days read_orders can see
            return [Ignored(f"Shopify order {order_id} cannot be read")]
        if len(order.get("refunds") or []) >= REFUNDS:
            raise Rejected(f"Shopify order {order_id} has {REFUNDS} or more refunds; "
                           "stocksync reads at most that many")
        agreements = await self._agreements(gid) if order.get("edited") else None
        try:
            return order_messages(order, agreements, self.locations)
        except IncompleteOrder as exc:
            raise Rejected(str(exc)) from exc

    async def _agreements(self, gid: str) -> list[JsonObject]:
        agreements: list[JsonObject] = []
        after: str | None = None
        while True:
            data = await self._graphql(AGREEMENTS_QUERY, {"id": gid, "after": after},
                                       AGREEMENTS_COST)
            page = (data["order"] or {}).get("agreements") or {}
            agreements += page.get("nodes") or []
            if not (page.get("pageInfo") or {}).get("hasNextPage"):
                return agreements
            after = page["pageInfo"]["endCursor"]


class _Cursor:
    """`since` (ISO, the first cursor is just this), the listing page being read, the newest
    updatedAt seen and the orders already read at their updatedAt, as compact JSON."""

    def __init__(self, since: datetime, after: str | None, newest: datetime,
                 seen: list[str]) -> None:
        self.since, self.after, self.newest, self.seen = since, after, newest, seen

    @classmethod
    def parse(cls, cursor: str) -> _Cursor:
        if not cursor.startswith("{"):
            since = parse_time(cursor)
            if since is None:
                raise Rejected(f"order cursor {cursor!r} is not an ISO-8601 time")
            since = since if since.tzinfo else since.replace(tzinfo=UTC)
            return cls(since, None, since, [])
        raw = json.loads(cursor)
        since = parse_time(raw["since"]) or datetime.now(UTC)
        return cls(since, raw.get("after"), parse_time(raw.get("newest")) or since,
                   list(raw.get("seen") or []))

    def dump(self) -> str:
        # Only orders inside the overlap window can be listed again: forget the rest.
        floor = self.since - OVERLAP
        seen = [s for s in self.seen
                if (parse_time(s.split("@", 1)[1]) or floor) >= floor][-SEEN_KEPT:]
        return json.dumps({"since": _iso(self.since), "after": self.after,
                           "newest": _iso(self.newest), "seen": seen},
                          separators=(",", ":"))


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

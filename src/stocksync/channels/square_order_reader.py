"""Reading Square orders for the connector: SearchOrders (polling), BatchRetrieveOrders
(after an order.created/updated webhook) and BatchRetrieveInventoryChanges (restocks).
What each order means is decided in square_orders.py.

Why polling carries the load: order.created fires only for orders made with the CreateOrder
endpoint ("Creating an order in the Point of Sale app will not publish this event",
developer.squareup.com/reference/square/webhooks/order.created) and order.updated only for
those too, so a till sale reaches stocksync by SearchOrders, within one poll interval.

SearchOrders (developer.squareup.com/docs/orders-api/manage-orders/search-orders): a
date_time_filter on updated_at must be sorted by UPDATED_AT; start and end are inclusive and
a missing end is "the time of the first request for the cursor", so one search paged with
Square's cursor is a stable snapshot; `limit` is at most 1,000 (default 500).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from stocksync.channels.base import OrderPage
from stocksync.channels.square_orders import (
    RESTOCK_AFTER,
    RESTOCK_BEFORE,
    PollCursor,
    Restocks,
    format_time,
    order_messages,
    parse_time,
)
from stocksync.core.inbound import Ignored, InboundMessage

JsonObject = dict[str, Any]
Post = Callable[[str, JsonObject], Awaitable[JsonObject]]
SEARCH_ORDERS = "/v2/orders/search"
BATCH_ORDERS = "/v2/orders/batch-retrieve"
BATCH_CHANGES = "/v2/inventory/changes/batch-retrieve"
ORDERS_PAGE = 500  # SearchOrders default page; max 1,000
ORDERS_PER_BATCH = 100  # BatchRetrieveOrders: "A maximum of 100 orders"
CHANGES_PAGE = 1000  # BatchRetrieveInventoryChanges `limit` maximum
IDS_PER_CHANGES_READ = 100  # no published cap on catalog_object_ids: keep it modest
# Every poll re-reads orders updated this long before the newest one seen: the search may
# lag a write briefly (an order updated a moment before another can be indexed after it),
# and a restock follows its return by seconds. Keys make the re-read harmless.
OVERLAP = timedelta(minutes=2)


class SquareOrderReader:
    """Orders of one location as inbound messages."""

    def __init__(self, post: Post, location_id: str, mapping: Mapping[str, str],
                 untracked: set[str]) -> None:
        self._post = post
        self.location_id = location_id
        self._mapping = mapping  # sku -> variation id (the connector's, kept up to date)
        self._untracked = untracked

    async def poll(self, cursor: str) -> OrderPage:
        position = PollCursor.parse(cursor)
        request: JsonObject = {
            "location_ids": [self.location_id], "limit": ORDERS_PAGE,
            "query": {"filter": {"date_time_filter": {"updated_at": {
                          "start_at": format_time(position.since - OVERLAP)}}},
                      "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}}
        if position.page:
            request["cursor"] = position.page
        page = await self._post(SEARCH_ORDERS, request)
        orders = [o for o in page.get("orders") or [] if isinstance(o, dict)]
        stamps = [t for t in (parse_time(o.get("updated_at")) for o in orders) if t]
        seen = max([*stamps, *([position.seen] if position.seen else [])], default=None)
        messages = await self.messages(orders)
        if page.get("cursor"):
            following = PollCursor(position.since, str(page["cursor"]), seen)
            return OrderPage(messages, following.dump(), more=True)
        since = max(position.since, seen) if seen else position.since
        return OrderPage(messages, PollCursor(since).dump())

    async def fetch(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        wanted = list(dict.fromkeys(order_ids))
        orders: list[JsonObject] = []
        for start in range(0, len(wanted), ORDERS_PER_BATCH):
            page = await self._post(BATCH_ORDERS, {
                "order_ids": wanted[start:start + ORDERS_PER_BATCH],
                "location_id": self.location_id})
            orders += [o for o in page.get("orders") or [] if isinstance(o, dict)]
        found = {str(o.get("id")) for o in orders}
        missing: list[InboundMessage] = [
            Ignored(f"order {order_id} is not at location {self.location_id}")
            for order_id in wanted if order_id not in found]
        return missing + await self.messages(orders)

    async def messages(self, orders: list[JsonObject]) -> list[InboundMessage]:
        sku_of = {object_id: sku for sku, object_id in self._mapping.items()}
        returns = [o for o in orders if o.get("returns")
                   and o.get("location_id") == self.location_id]
        restocks = await self._restocks(returns, sku_of) if returns else Restocks()
        messages: list[InboundMessage] = []
        for order in sorted(orders, key=lambda o: str(o.get("created_at") or "")):
            messages += order_messages(order, location_id=self.location_id, sku_of=sku_of,
                                       untracked=self._untracked, restocks=restocks)
        return messages

    async def _restocks(self, returns: list[JsonObject], sku_of: Mapping[str, str]
                        ) -> Restocks:
        """RETURNED_BY_CUSTOMER -> IN_STOCK adjustments of the returned, mapped variations
        around the returns' times."""
        variations = sorted({str(item.get("catalog_object_id"))
                             for order in returns for ret in order.get("returns") or []
                             for item in ret.get("return_line_items") or []
                             if item.get("catalog_object_id") in sku_of})
        times = [t for t in (parse_time(o.get("created_at")) for o in returns) if t]
        if not variations or not times:
            return Restocks()
        changes: list[object] = []
        for start in range(0, len(variations), IDS_PER_CHANGES_READ):
            changes += await self._changes(variations[start:start + IDS_PER_CHANGES_READ],
                                           min(times) - RESTOCK_BEFORE - OVERLAP,
                                           max(times) + RESTOCK_AFTER + OVERLAP)
        return Restocks.of(changes)

    async def _changes(self, object_ids: list[str], after: datetime, before: datetime
                       ) -> list[object]:
        # updated_after/updated_before bound the changes by when Square recorded them;
        # `states` is not used because whether it matches from_state or to_state is not
        # documented: the restock transition is picked out in square_orders.Restocks.
        request: JsonObject = {"catalog_object_ids": object_ids,
                               "location_ids": [self.location_id], "types": ["ADJUSTMENT"],
                               "updated_after": format_time(after),
                               "updated_before": format_time(before), "limit": CHANGES_PAGE}
        changes: list[object] = []
        while True:
            page = await self._post(BATCH_CHANGES, request)
            changes += page.get("changes") or []
            if not page.get("cursor"):
                return changes
            request = {**request, "cursor": page["cursor"]}

    async def latest_counts(self, object_ids: list[str], now: datetime) -> dict[str, datetime]:
        """occurred_at of the newest IN_STOCK physical count per variation in the last 24 h
        (older ones cannot be newer than any stamp we may send)."""
        latest: dict[str, datetime] = {}
        for start in range(0, len(object_ids), IDS_PER_CHANGES_READ):
            request: JsonObject = {
                "catalog_object_ids": object_ids[start:start + IDS_PER_CHANGES_READ],
                "location_ids": [self.location_id], "types": ["PHYSICAL_COUNT"],
                "updated_after": format_time(now - timedelta(hours=24)),
                "limit": CHANGES_PAGE}
            while True:
                page = await self._post(BATCH_CHANGES, request)
                for change in page.get("changes") or []:
                    count = change.get("physical_count") if isinstance(change, dict) else None
                    moment = parse_time(count.get("occurred_at")) if isinstance(
                        count, dict) and count.get("state") == "IN_STOCK" else None
                    if moment is not None:
                        key = str(count.get("catalog_object_id")) if count else ""
                        latest[key] = max(moment, latest.get(key, moment))
                if not page.get("cursor"):
                    break
                request = {**request, "cursor": page["cursor"]}
        return latest

"""eBay sales in: orders read from the Sell Fulfillment API (getOrders), as inbound messages.

Why these rules (eBay's docs, cited in the report and in tests/fixtures/ebay/SOURCES.md):

- Every order getOrders returns counts. The Fulfillment API lists only orders that
  completed checkout (pending-payment purchases are left out), and eBay takes the units
  off the listing when the buyer commits to buy, so each line item is a sale of
  `quantity` units keyed "ebay:<orderId>:<lineItemId>" (the same key by poll, by fetch
  and after a notification).
- One seller account has one order stream for every marketplace; a channel is one
  marketplace (`marketplace_id`), so it counts the lines whose `listingMarketplaceId` is
  its own (a line without it is counted: missing a sale oversells, the key dedupes).
- A cancelled order (`cancelStatus.cancelState == "CANCELED"`) only puts units back on
  the listing if the seller asked eBay to relist them in the cancellation (Post-Order API
  `relistLineItem`, `RelistStatusEnum.SUCCESS`); the Fulfillment API does not say whether
  that happened. So a cancellation is a return only when the channel is configured with
  `restock_cancellations` (the merchant always relists); otherwise it is ignored and the
  sale stands (under-listing, never overselling).

Cursor: the newest `lastModifiedDate` seen (the first cursor is the channel's creation
time). Each poll reads `lastmodifieddate:[cursor - OVERLAP..]`: eBay's order search is
eventually consistent, and an order modified while we page through offsets can move
between pages; re-reading a few minutes is harmless because every message is keyed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from stocksync.channels.base import OrderPage
from stocksync.channels.ebay_auth import EbaySession, JsonObject, json_body
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, InboundMessage

FULFILLMENT = "/sell/fulfillment/v1"
ORDERS_PAGE = 200  # getOrders `limit`: default 50, maximum 200
MAX_ORDER_IDS = 50  # getOrders `orderIds`: at most 50 per call
OVERLAP = timedelta(minutes=5)
# Poll interval. The Fulfillment API's default quota is a daily call count per
# application (no per-second limit is documented); the figure commonly cited is 100,000
# calls/day (unconfirmed: the call-limits table row could not be retrieved). One poll is
# one call while nothing changed: every 30 s that is 86,400 / 30 = 2,880 calls/day per
# channel, so ~34 channels (marketplaces) on one app leave room for the notification
# fetches. eBay's own daily counter is the real limit; the session paces to it.
ORDER_POLL_SECONDS = 30.0
DEFAULT_FULFILLMENT_CALL_LIMIT = 100_000  # per app per day (unconfirmed, see above)
CANCELED = "CANCELED"
VERSION = "v1"


@dataclass(frozen=True, slots=True)
class OrderCursor:
    """`high`: newest lastModifiedDate seen; `floor`: when the channel was created
    (orders created before it are already in the stock the merchant entered, even when
    eBay modifies them later). While a window is paged, `since` and `offset` say where
    the next page starts. The first cursor is the plain creation time."""

    high: datetime
    floor: datetime
    since: datetime | None = None
    offset: int = 0
    first: bool = False

    def encode(self) -> str:
        parts = [VERSION, _iso(self.high), _iso(self.floor)]
        if self.since is not None:
            parts += [_iso(self.since), str(self.offset)]
        return "|".join(parts)

    @classmethod
    def decode(cls, cursor: str) -> OrderCursor:
        parts = cursor.split("|")
        try:
            if len(parts) == 1:  # the channel's creation time
                created = _parse_time(parts[0])
                return cls(created, created, first=True)
            if parts[0] != VERSION:
                raise ValueError(parts[0])
            if len(parts) == 3:
                return cls(_parse_time(parts[1]), _parse_time(parts[2]))
            _, high, floor, since, offset = parts
            return cls(_parse_time(high), _parse_time(floor), _parse_time(since),
                       int(offset))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an eBay order cursor: {cursor!r}") from exc

    def window_start(self) -> datetime:
        """Where the next window starts: the first one at the creation time exactly."""
        if self.since is not None:
            return self.since
        return self.high if self.first else self.high - OVERLAP


class EbayOrders:
    """getOrders for one channel: one seller account, one marketplace."""

    def __init__(self, session: EbaySession, marketplace_id: str, *,
                 restock_cancellations: bool = False) -> None:
        self.session = session
        self.marketplace_id = marketplace_id
        self.restock_cancellations = restock_cancellations
        self.page_size = ORDERS_PAGE

    async def poll(self, cursor: str) -> OrderPage:
        """One page of orders modified since the cursor (minus OVERLAP)."""
        at = OrderCursor.decode(cursor)
        since = at.window_start()
        # eBay's filter syntax: lastmodifieddate:[<from>..] (open-ended, UTC, millis).
        response = await self.session.call("GET", f"{FULFILLMENT}/order", params={
            "filter": f"lastmodifieddate:[{_iso(since)}..]",
            "limit": self.page_size, "offset": at.offset})
        assert response is not None
        body = json_body(response)
        orders = _orders(body)
        high = max([at.high, *(t for t in map(_modified, orders) if t is not None)])
        messages: list[InboundMessage] = []
        for order in orders:
            created = _optional_time(order.get("creationDate"))
            if created is not None and created < at.floor:
                messages.append(Ignored(f"order {order.get('orderId')} is older than the "
                                        "channel"))
            else:
                messages += self.messages(order)
        got = at.offset + len(orders)
        if body.get("next") and orders and got < int(body.get("total") or got + 1):
            return OrderPage(messages, OrderCursor(high, at.floor, since, got).encode(),
                             more=True)
        return OrderPage(messages, OrderCursor(high, at.floor).encode())

    async def fetch(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        """The orders named (e.g. by an ORDER_CONFIRMATION notification), 50 per call."""
        wanted = list(dict.fromkeys(i for i in order_ids if i))
        messages: list[InboundMessage] = []
        for start in range(0, len(wanted), MAX_ORDER_IDS):
            batch = wanted[start:start + MAX_ORDER_IDS]
            response = await self.session.call("GET", f"{FULFILLMENT}/order",
                                               params={"orderIds": ",".join(batch)})
            assert response is not None
            for order in _orders(json_body(response)):
                messages += self.messages(order)
        return messages

    def messages(self, order: JsonObject) -> list[InboundMessage]:
        """A sale per line item of this channel's marketplace, and a return per line
        when the order was cancelled and the channel counts cancellations as restocks."""
        order_id = str(order.get("orderId") or "")
        if not order_id:
            return [Ignored("an order without orderId")]
        reference = str(order.get("salesRecordReference") or order.get("legacyOrderId")
                        or order_id)
        created = _optional_time(order.get("creationDate"))
        cancel = order.get("cancelStatus") or {}
        cancelled = isinstance(cancel, dict) and cancel.get("cancelState") == CANCELED
        cancelled_at = (_optional_time(cancel.get("cancelledDate")) if cancelled else None
                        ) or _modified(order)
        messages: list[InboundMessage] = []
        for line in order.get("lineItems") or []:
            if not isinstance(line, dict):
                continue
            line_id, sku = str(line.get("lineItemId") or ""), str(line.get("sku") or "")
            quantity = line.get("quantity")
            where = f"order {order_id} line {line_id or '?'}"
            if line.get("listingMarketplaceId", self.marketplace_id) != self.marketplace_id:
                messages.append(Ignored(f"{where} is on {line['listingMarketplaceId']}"))
                continue
            if not line_id or not isinstance(quantity, int) or quantity < 1:
                messages.append(Ignored(f"{where} has no lineItemId or quantity"))
                continue
            if not sku:  # a listing made without a SKU: nothing in stocksync to move
                messages.append(Ignored(f"{where} has no SKU"))
                continue
            key = f"ebay:{order_id}:{line_id}"
            messages.append(ChannelSale(sku=sku, quantity=quantity, key=key,
                                        occurred_at=created, reference=reference))
            if cancelled and self.restock_cancellations:
                messages.append(ChannelReturn(sku=sku, quantity=quantity,
                                              key=f"{key}:cancel", sale_key=key,
                                              occurred_at=cancelled_at,
                                              reference=reference))
            elif cancelled:
                messages.append(Ignored(f"{where} was cancelled; eBay restores the listing "
                                        "only if the seller relisted it"))
        return messages


def _orders(body: JsonObject) -> list[JsonObject]:
    return [o for o in body.get("orders") or [] if isinstance(o, dict)]


def _modified(order: JsonObject) -> datetime | None:
    return _optional_time(order.get("lastModifiedDate"))


def _optional_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return _parse_time(value)
    except ValueError:
        return None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone")
    return parsed.astimezone(UTC)


def _iso(moment: datetime) -> str:
    """eBay's date format: YYYY-MM-DDThh:mm:ss.sssZ (UTC)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

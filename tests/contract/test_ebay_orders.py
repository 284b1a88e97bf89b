"""eBay sales back in: EbayConnector.poll_orders / fetch_orders against the eBay simulator,
and two marketplaces' channels on one account, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stocksync.channels.base import FetchesOrders, OrderPage, PollsOrders, QuantitySet
from stocksync.channels.ebay import EbayConnector
from stocksync.channels.ebay_orders import OrderCursor
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, InboundMessage
from tests.contract import test_ebay_connector as base

ORDERS = "/sell/fulfillment/v1/order"
CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = base.CLIENT_ID, base.CLIENT_SECRET, base.REFRESH_TOKEN
Seller = base.Seller
seller = base.seller
start_seller = base.start_seller


def since(minutes: float = 1.0) -> str:
    """A channel created `minutes` ago: the first cursor."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def keys(messages: list[InboundMessage]) -> set[str]:
    return {m.key for m in messages if isinstance(m, ChannelSale | ChannelReturn)}


def sales(messages: list[InboundMessage]) -> list[ChannelSale]:
    return [m for m in messages if isinstance(m, ChannelSale)]


def test_the_connector_polls_and_fetches_orders(seller: Seller) -> None:
    assert seller.connect(lambda c: _capabilities(c))


async def _capabilities(c: EbayConnector) -> bool:
    return isinstance(c, PollsOrders) and isinstance(c, FetchesOrders)


def test_a_sale_at_ebay_is_polled_once_and_a_repoll_gives_the_same_keys(
        seller: Seller) -> None:
    seller.add("MUG", 5)
    order = seller.buy("MUG", 2)
    line = order["lineItems"][0]
    assert order["item"]["quantity"] == 3 and order["item"]["listed_quantity"] == 3

    async def work(c: EbayConnector) -> tuple[OrderPage, OrderPage, OrderPage]:
        first = await c.poll_orders(since())
        again = await c.poll_orders(first.cursor)  # within the overlap window
        earlier = await c.poll_orders(since(30))
        return first, again, earlier

    first, again, earlier = seller.connect(work)
    sale = ChannelSale(sku="MUG", quantity=2, key=f"ebay:{order['orderId']}:{line['lineItemId']}",
                       occurred_at=datetime.fromisoformat(order["creationDate"]),
                       reference=order["salesRecordReference"])
    assert first.messages == [sale] and not first.more
    assert keys(again.messages) == keys(earlier.messages) == {sale.key}
    assert OrderCursor.decode(first.cursor).high == datetime.fromisoformat(
        order["lastModifiedDate"])


def test_orders_placed_before_the_channel_existed_are_not_sales(seller: Seller) -> None:
    seller.add("CUP", 5)
    seller.buy("CUP", 1)
    page = seller.connect(lambda c: c.poll_orders(since(-1)))  # created after the sale
    assert keys(page.messages) == set()


def test_a_full_window_is_read_page_by_page_with_the_same_keys(seller: Seller) -> None:
    seller.add("PEN", 10)
    placed = {f"ebay:{o['orderId']}:{o['lineItems'][0]['lineItemId']}"
              for o in (seller.buy("PEN", 1) for _ in range(5))}

    async def work(c: EbayConnector) -> tuple[list[OrderPage], list[str]]:
        c.orders.page_size = 2
        pages, cursor = [], since()
        while True:
            page = await c.poll_orders(cursor)
            pages.append(page)
            cursor = page.cursor
            if not page.more:
                return pages, [p.cursor for p in pages]

    pages, _ = seller.connect(work)
    assert [len(sales(p.messages)) for p in pages] == [2, 2, 1]
    assert set().union(*(keys(p.messages) for p in pages)) == placed
    calls = seller.admin.get("/_sim/requests").json()
    assert all(r["status"] == 200 for r in calls if r["path"] == ORDERS)


def test_a_cancellation_eBay_relisted_is_a_return_of_that_sale(seller: Seller) -> None:
    seller.add("BOWL", 4)
    order = seller.buy("BOWL", 3)
    sale_key = f"ebay:{order['orderId']}:{order['lineItems'][0]['lineItemId']}"
    seller.admin.post(f"/_sim/orders/{order['orderId']}/cancel",
                      json={"relist": True}).raise_for_status()
    assert seller.item("BOWL")["listed_quantity"] == 4  # eBay put the units back

    page = seller.connect(lambda c: c.poll_orders(since()), restock_cancellations=True)
    returns = [m for m in page.messages if isinstance(m, ChannelReturn)]
    assert keys(page.messages) == {sale_key, f"{sale_key}:cancel"}
    assert returns == [ChannelReturn(sku="BOWL", quantity=3, key=f"{sale_key}:cancel",
                                     sale_key=sale_key, occurred_at=returns[0].occurred_at,
                                     reference=order["salesRecordReference"])]


def test_a_cancellation_is_no_return_unless_the_merchant_relists(seller: Seller) -> None:
    seller.add("BOWL", 4)
    order = seller.buy("BOWL", 3)
    seller.admin.post(f"/_sim/orders/{order['orderId']}/cancel",
                      json={"relist": False}).raise_for_status()
    assert seller.item("BOWL")["listed_quantity"] == 1  # nothing went back on the listing

    page = seller.connect(lambda c: c.poll_orders(since()))
    assert [type(m) for m in page.messages] == [ChannelSale, Ignored]


def test_each_marketplace_channel_counts_only_its_own_listings(seller: Seller) -> None:
    seller.add("HAT", 10, marketplace_id="EBAY_US")
    seller.admin.post("/_sim/offers", json={"sku": "HAT", "marketplace_id": "EBAY_GB",
                                            "available_quantity": 10}).raise_for_status()
    us, gb = seller.buy("HAT", 1, "EBAY_US"), seller.buy("HAT", 2, "EBAY_GB")

    got_us = seller.connect(lambda c: c.poll_orders(since()), marketplace_id="EBAY_US")
    got_gb = seller.connect(lambda c: c.poll_orders(since()), marketplace_id="EBAY_GB")
    assert [(s.key.split(":")[1], s.quantity) for s in sales(got_us.messages)] == [
        (us["orderId"], 1)]
    assert [(s.key.split(":")[1], s.quantity) for s in sales(got_gb.messages)] == [
        (gb["orderId"], 2)]


def test_fetching_orders_by_id_gives_the_poll_keys_fifty_per_call(seller: Seller) -> None:
    seller.add("INK", 60)
    ids = [seller.buy("INK", 1)["orderId"] for _ in range(51)]

    async def work(c: EbayConnector) -> tuple[list[InboundMessage], OrderPage]:
        return await c.fetch_orders([*ids, ids[0], "99-00000-00000"]), await c.poll_orders(
            since())

    fetched, polled = seller.connect(work)
    assert keys(fetched) == keys(polled.messages) and len(keys(fetched)) == 51
    calls = [r for r in seller.admin.get("/_sim/requests").json() if r["path"] == ORDERS]
    assert len(calls) == 3  # 50 + 1 ids, then the poll


def test_orders_need_the_fulfillment_scope_the_merchant_granted(seller: Seller) -> None:
    token = seller.admin.post("/identity/v1/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET),
                              data={"grant_type": "refresh_token",
                                    "refresh_token": REFRESH_TOKEN,
                                    "scope": "https://api.ebay.com/oauth/api_scope/"
                                             "sell.inventory"}).json()["access_token"]
    refused = seller.admin.get(ORDERS, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["errorId"] == 1100
    with pytest.raises(ValueError, match="not an eBay order cursor"):
        seller.connect(lambda c: c.poll_orders("v9|x"))


def test_two_marketplace_channels_on_one_account_keep_their_own_quantities(
        seller: Seller) -> None:
    seller.add("SCARF", 20, marketplace_id="EBAY_US")
    seller.admin.post("/_sim/offers", json={"sku": "SCARF", "marketplace_id": "EBAY_GB",
                                            "available_quantity": 20}).raise_for_status()

    def push(marketplace: str, quantity: int) -> dict[str, int]:
        async def work(c: EbayConnector) -> dict[str, int]:
            await c.discover_mapping(["SCARF"])
            report = await c.set_quantities([QuantitySet("SCARF", quantity)])
            assert report.acknowledged == {"SCARF": quantity}
            return await c.fetch_quantities(["SCARF"])
        return seller.connect(work, marketplace_id=marketplace)

    assert push("EBAY_US", 3) == {"SCARF": 3}
    assert push("EBAY_GB", 7) == {"SCARF": 7}
    assert push("EBAY_US", 2) == {"SCARF": 2}
    item = seller.item("SCARF")
    shares = {o["marketplaceId"]: o["availableQuantity"] for o in item["offers"]}
    assert shares == {"EBAY_US": 2, "EBAY_GB": 7}
    # The item's all-marketplace quantity is the largest share: each listing shows its
    # own share, and eBay takes every sale off that one total.
    assert item["quantity"] == 7
    seller.buy("SCARF", 2, "EBAY_US")
    assert seller.item("SCARF")["quantity"] == 5
    assert seller.connect(lambda c: _shown(c), marketplace_id="EBAY_GB") == {"SCARF": 5}


async def _shown(c: EbayConnector) -> dict[str, int]:
    await c.discover_mapping(["SCARF"])
    return await c.fetch_quantities(["SCARF"])

"""AmazonConnector reading orders (Orders API v0) from the simulator over real HTTP, and
ORDER_CHANGE notifications forwarded, parsed and fetched."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.amazon_auth import RateLimit
from stocksync.channels.base import FetchesOrders, OrderPage, PollsOrders
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, OrderNotice
from stocksync.ingest.amazon import AmazonNotificationParser
from tests.contract import test_amazon_connector as base
from tests.contract.test_amazon_connector import (
    Seller,
)
from tests.webhook_receiver import WebhookReceiver

# The simulator fixtures of the connector suite, shared.
start_seller = base.start_seller
seller = base.seller

SECRET = "forwarder-secret"


def _start() -> str:
    return (datetime.now(UTC) - timedelta(seconds=5)).isoformat()


def _order(seller: Seller, *lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    answer = seller.admin.post("/_sim/orders", json={
        "items": [{"sku": sku, "quantity": qty} for sku, qty in lines], **extra})
    answer.raise_for_status()
    order: dict[str, Any] = answer.json()
    return order


def _keys(page: OrderPage) -> list[str]:
    return [m.key for m in page.messages if isinstance(m, ChannelSale | ChannelReturn)]


def _poll(seller: Seller, cursor: str, times: int = 1, **kwargs: Any) -> list[OrderPage]:
    async def work(c: AmazonConnector) -> list[OrderPage]:
        pages, position = [], cursor
        for _ in range(times):
            pages.append(await c.poll_orders(position))
            position = pages[-1].cursor
        return pages

    return seller.connect(work, **kwargs)


def test_an_order_placed_at_amazon_is_polled_once_and_a_re_poll_yields_the_same_keys(
        seller: Seller) -> None:
    seller.add("MUG", 5)
    seller.add("CAP", 5)
    cursor = _start()
    order = _order(seller, ("MUG", 2), ("CAP", 1))  # Pending: payment not yet authorized
    assert seller.quantities() == {"MUG": 3, "CAP": 4}  # Amazon takes it at checkout
    first, again = _poll(seller, cursor, times=2)
    items = {item["SellerSKU"]: item["OrderItemId"] for item in order["OrderItems"]}
    oid = order["AmazonOrderId"]
    sales = [m for m in first.messages if isinstance(m, ChannelSale)]
    assert len(sales) == len(first.messages) == 2
    assert [(s.sku, s.quantity, s.key, s.reference) for s in sales] == [
        ("MUG", 2, f"amazon:{oid}:{items['MUG']}", oid),
        ("CAP", 1, f"amazon:{oid}:{items['CAP']}", oid)]
    assert sales[0].occurred_at is not None and not first.more
    # The two-minute overlap re-reads the order: same keys, counted once downstream.
    assert _keys(again) == _keys(first)
    assert len(seller.requests("getOrderItems")) == 1  # unchanged order: items cached
    get_orders = seller.requests("getOrders")
    assert len(get_orders) == 2 and seller.violations()["count"] == 0


def test_cancellation_restocks_only_what_amazon_gives_back(seller: Seller) -> None:
    seller.add("TEE", 5)
    cursor = _start()
    kept = _order(seller, ("TEE", 1), status="Unshipped")
    buyer = _order(seller, ("TEE", 2))
    sold_out = _order(seller, ("TEE", 1), status="Unshipped")
    assert seller.quantities() == {"TEE": 1}
    [placed] = _poll(seller, cursor)
    assert len(_keys(placed)) == 3
    seller.admin.post(f"/_sim/orders/{buyer['AmazonOrderId']}/cancel",
                      json={"reason": "BuyerCanceled"}).raise_for_status()
    seller.admin.post(f"/_sim/orders/{sold_out['AmazonOrderId']}/cancel",
                      json={"reason": "NoInventory"}).raise_for_status()
    seller.admin.post(f"/_sim/orders/{kept['AmazonOrderId']}/status",
                      json={"status": "Shipped"}).raise_for_status()
    assert seller.quantities() == {"TEE": 3}  # the buyer's 2 came back, "No inventory" not
    [after] = _poll(seller, placed.cursor)
    returns = [m for m in after.messages if isinstance(m, ChannelReturn)]
    sale_key = f"amazon:{buyer['AmazonOrderId']}:{buyer['OrderItems'][0]['OrderItemId']}"
    assert returns == [ChannelReturn("TEE", 2, f"{sale_key}:canceled", sale_key=sale_key,
                                     occurred_at=returns[0].occurred_at,
                                     reference=buyer["AmazonOrderId"])]
    ignored = [m for m in after.messages if isinstance(m, Ignored)]
    assert len(ignored) == 1 and "without a buyer request" in ignored[0].reason
    shipped_key = f"amazon:{kept['AmazonOrderId']}:{kept['OrderItems'][0]['OrderItemId']}"
    assert shipped_key in _keys(after)  # still a sale, same key
    assert seller.violations()["count"] == 0


def test_fba_orders_and_orders_placed_before_the_channel_are_not_sales(seller: Seller) -> None:
    seller.add("BOOK", 5)
    early = _order(seller, ("BOOK", 1), status="Unshipped")
    time.sleep(0.01)  # Amazon's dates have milliseconds: not the channel's own millisecond
    cursor = datetime.now(UTC).isoformat()
    _order(seller, ("BOOK", 3), fulfillment_channel="AFN")  # FBA: not asked for at all
    seller.admin.post(f"/_sim/orders/{early['AmazonOrderId']}/status",
                      json={"status": "Shipped"}).raise_for_status()
    [page] = _poll(seller, cursor)
    assert _keys(page) == []
    assert [type(m) for m in page.messages] == [Ignored]  # the early order, now shipped
    assert isinstance(page.messages[0], Ignored)
    assert "before the channel" in page.messages[0].reason
    assert len(seller.requests("getOrders")) == 1


def test_pages_of_orders_and_of_items_are_followed(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(order_items_page_size=1)
    seller.add("PEN", 50)
    cursor = _start()
    orders = [_order(seller, ("PEN", 1), ("PEN", 2)) for _ in range(5)]
    [page] = _poll(seller, cursor, orders_page_size=2)
    expected = {f"amazon:{o['AmazonOrderId']}:{i['OrderItemId']}"
                for o in orders for i in o["OrderItems"]}
    assert set(_keys(page)) == expected and len(_keys(page)) == 10
    assert len(seller.requests("getOrders")) == 3  # 2 + 2 + 1 orders, by NextToken
    assert len(seller.requests("getOrderItems")) == 10  # 2 item pages per order
    assert seller.violations()["count"] == 0


def test_an_order_amazon_indexes_late_is_read_by_the_next_poll(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(orders_visible_after_s=0.5)
    seller.add("LAG", 5)
    cursor = _start()
    order = _order(seller, ("LAG", 1))
    [early] = _poll(seller, cursor)
    assert early.messages == []
    time.sleep(0.6)
    [late] = _poll(seller, early.cursor)
    assert _keys(late) == [f"amazon:{order['AmazonOrderId']}:"
                           f"{order['OrderItems'][0]['OrderItemId']}"]


def test_polling_never_exceeds_the_get_orders_bucket_it_waits_instead(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(rate_limits={"getOrders": (0.0167, 3.0)})
    seller.add("RATE", 5)
    cursor = _start()
    _order(seller, ("RATE", 1))
    pages = _poll(seller, cursor, times=4,
                  rate_limits={"getOrders": RateLimit(0.0167, 3.0)})
    # One token is kept in reserve: two polls read, the next two return without asking
    # (they do not sit a minute waiting for a token) and keep the cursor.
    assert len(seller.requests("getOrders")) == 2
    assert pages[2].messages == [] and pages[3].cursor == pages[1].cursor
    assert seller.violations()["count"] == 0


def test_the_connector_declares_both_order_capabilities(seller: Seller) -> None:
    async def work(c: AmazonConnector) -> None:
        assert isinstance(c, PollsOrders) and isinstance(c, FetchesOrders)
        # getOrders: 0.0167/s = one a minute; every 120 s leaves half for NextToken pages.
        assert c.order_poll_seconds == 120.0

    seller.connect(work)


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Stands in for stocksync's webhook endpoint: keeps what the forwarder posts."""
    with WebhookReceiver("/webhooks/amazon/amazon-us", status=204) as found:
        yield found


def test_order_change_is_forwarded_signed_parsed_and_fetched_with_the_poll_keys(
        seller: Seller, receiver: WebhookReceiver) -> None:
    seller.admin.put("/_sim/order-change-forwarding",
                     json={"url": receiver.url, "secret": SECRET}).raise_for_status()
    seller.add("HAT", 4)
    cursor = _start()
    order = _order(seller, ("HAT", 2))
    [(headers, body)] = receiver.wait_for(1)
    parser = AmazonNotificationParser()
    assert parser.verify(SECRET, headers, body, receiver.url)
    assert not parser.verify("another-secret", headers, body, receiver.url)
    delivery = parser.parse(headers, body, {"seller_id": seller.config.seller_id,
                                            "marketplace_id": seller.config.marketplace_id})
    assert delivery.topic == "ORDER_CHANGE"
    [notice] = delivery.messages
    assert isinstance(notice, OrderNotice) and notice.order_id == order["AmazonOrderId"]
    for _ in range(100):  # the forwarder notes the answer once it has read it
        forwards = seller.admin.get("/_sim/order-change-forwards").json()
        if forwards[0]["status"] is not None:
            break
        time.sleep(0.02)
    assert forwards[0]["notification_id"] == delivery.delivery_id
    assert forwards[0]["status"] == 204

    async def fetch(c: AmazonConnector) -> list[Any]:
        return await c.fetch_orders([order["AmazonOrderId"], "999-0000000-0000000"])

    fetched = seller.connect(fetch)
    [polled] = _poll(seller, cursor)
    sales = [m for m in fetched if isinstance(m, ChannelSale)]
    assert [s.key for s in sales] == _keys(polled) and len(sales) == 1
    assert isinstance(fetched[-1], Ignored)  # an order Amazon does not know
    assert seller.violations()["count"] == 0

    # The notification's own summary counts the same sale without a read.
    async def from_summary(c: AmazonConnector) -> list[Any] | None:
        assert notice.summary is not None
        return c.orders_from_summary(notice.order_id, notice.summary)

    reads = len(seller.requests("getOrder"))
    counted = seller.connect(from_summary)
    assert counted == sales
    assert len(seller.requests("getOrder")) == reads


def test_order_reads_answer_the_fields_the_connector_relies_on(seller: Seller) -> None:
    seller.add("FLD", 3)
    order = _order(seller, ("FLD", 1))

    async def work(c: AmazonConnector) -> list[Any]:
        return await c.fetch_orders([order["AmazonOrderId"]])

    [sale] = seller.connect(work)
    assert isinstance(sale, ChannelSale) and sale.sku == "FLD" and sale.quantity == 1
    bad = seller.admin.get("/orders/v0/orders", params={"MarketplaceIds": "ATVPDKIKX0DER"})
    assert bad.status_code == 403  # no access token: refused before anything else

"""ShopifyConnector.fetch_orders / poll_orders against the Shopify simulator over real HTTP:
an order read back gives exactly the messages (and keys) its webhooks give."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest

from stocksync.channels.base import FetchesOrders, OrderPage, PollsOrders
from stocksync.channels.shopify import ShopifyConnector
from stocksync.channels.shopify_orders import (
    AGREEMENTS,
    AGREEMENTS_COST,
    AGREEMENTS_QUERY,
    LINES,
    ORDER,
    ORDER_COST,
    REFUND_LINES,
    REFUNDS,
    SALES,
    SETTLE,
)
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    InboundMessage,
    OrderNotice,
)
from stocksync.ingest.shopify import ShopifyWebhookParser
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import ShopifySimConfig, ShopifySimState, create_app
from stocksync.simulators.shopify_operation import recognise
from stocksync.simulators.shopify_order_queries import cost_order
from tests.contract.harness import run_connector
from tests.webhook_receiver import WebhookReceiver

TOKEN = "shpat_order_reads"
SECRET = "hush"
PARSER = ShopifyWebhookParser()
T = TypeVar("T")


class Hooks(WebhookReceiver):
    def parsed(self, topic: str, settings: dict[str, str] | None = None
               ) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        for headers, body in self.wait_for_header("x-shopify-topic", topic):
            messages += PARSER.parse(headers, body, settings or {}).messages
        return messages


@dataclass
class Shop:
    admin: httpx.Client
    url: str
    sim: ShopifySimState
    hooks: Hooks
    created: str  # the channel's creation time: the first order cursor

    @property
    def location(self) -> int:
        return self.sim.default_location_id

    def add(self, sku: str, available: int) -> None:
        self.admin.post("/_sim/products", json={
            "sku": sku, "quantities": {str(self.location): available}}).raise_for_status()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.admin.post(path, json=body)
        response.raise_for_status()
        return response.json()

    def connect(self, work: Callable[[ShopifyConnector], Awaitable[T]], **kwargs: Any) -> T:
        return run_connector(lambda client: ShopifyConnector(
            client, self.url, TOKEN, location_id=str(self.location), **kwargs), work)

    def fetch(self, order_id: object, **kwargs: Any) -> list[InboundMessage]:
        return self.connect(lambda c: c.fetch_orders([str(order_id)]), **kwargs)

    def poll(self, cursor: str, **kwargs: Any) -> OrderPage:
        return self.connect(lambda c: c.poll_orders(cursor), **kwargs)


@pytest.fixture
def shop() -> Iterator[Shop]:
    created = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    with Hooks() as hooks:
        app = create_app(ShopifySimConfig(
            access_token=TOKEN, webhook_url=hooks.url, webhook_secret=SECRET,
            webhook_retry_scale=0.0001))
        with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=5) as admin:
            yield Shop(admin, server.url, app.state.sim, hooks, created)


def sales(messages: list[InboundMessage]) -> dict[str, tuple[str, int]]:
    return {m.key: (m.sku, m.quantity) for m in messages if isinstance(m, ChannelSale)}


def returns(messages: list[InboundMessage]) -> dict[str, tuple[str, int, str | None]]:
    return {m.key: (m.sku, m.quantity, m.sale_key)
            for m in messages if isinstance(m, ChannelReturn)}


def test_the_connector_reads_and_polls_orders() -> None:
    connector = ShopifyConnector(httpx.AsyncClient(), "http://shop", TOKEN, location_id="1")
    assert isinstance(connector, FetchesOrders) and isinstance(connector, PollsOrders)
    assert ShopifyConnector.order_poll_seconds == 30


def test_an_online_order_read_back_gives_the_webhooks_sales(shop: Shop) -> None:
    shop.add("TEE", 5)
    shop.add("CAP", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "TEE", "quantity": 2},
                                                      {"sku": "CAP", "quantity": 1}]})
    by_webhook = shop.hooks.parsed("orders/create")
    fetched = shop.fetch(order["id"])
    assert fetched == by_webhook  # same keys, SKUs, quantities, times and reference
    assert sorted(sales(fetched)) == sorted(
        f"shopify:{order['id']}:{line['id']}" for line in order["line_items"])
    polled = shop.poll(shop.created)
    assert polled.messages == by_webhook and not polled.more


def test_a_pos_order_read_back_names_the_mapped_location(shop: Shop) -> None:
    shop.add("MUG", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "MUG", "quantity": 1}],
                                       "location_id": shop.location})
    by_webhook = shop.hooks.parsed("orders/create", {f"location.{shop.location}": "STORE"})
    fetched = shop.fetch(order["id"], locations={str(shop.location): "STORE"})
    assert fetched == by_webhook
    assert [m.location for m in fetched if isinstance(m, ChannelSale)] == ["STORE"]


def test_a_cancelled_order_with_restock_gives_the_refund_lines_returns(shop: Shop) -> None:
    shop.add("BAG", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "BAG", "quantity": 2}]})
    shop.post(f"/_sim/orders/{order['id']}/cancel", {"restock": True})
    fetched = shop.fetch(order["id"])
    assert returns(fetched) == returns(shop.hooks.parsed("refunds/create"))
    assert returns(fetched) == returns(shop.hooks.parsed("orders/cancelled"))
    ((key, (sku, quantity, sale_key)),) = returns(fetched).items()
    assert (sku, quantity, sale_key) == ("BAG", 2, key.split(":refund:")[0])
    # Units a cancellation did not restock come back from neither path.
    other = shop.post("/_sim/orders", {"line_items": [{"sku": "BAG", "quantity": 1}]})
    shop.post(f"/_sim/orders/{other['id']}/cancel", {"restock": False})
    assert returns(shop.fetch(other["id"])) == {}


def test_an_edit_adding_a_line_and_raising_a_quantity_is_sold_once(shop: Shop) -> None:
    shop.add("INK", 9)
    shop.add("NIB", 9)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "INK", "quantity": 2}]})
    ink = order["line_items"][0]["id"]
    before = sales(shop.fetch(order["id"]))
    edit = shop.post(f"/_sim/orders/{order['id']}/edits", {
        "add": [{"sku": "NIB", "quantity": 3}],
        "increase": [{"line_item_id": ink, "quantity": 4}]})
    assert shop.hooks.parsed("orders/edited") == [OrderNotice(order_id=str(order["id"]))]
    after = sales(shop.fetch(order["id"]))
    nib = next(a["id"] for a in edit["order_edit"]["line_items"]["additions"] if a["id"] != ink)
    base = f"shopify:{order['id']}"
    assert after[f"{base}:{ink}"] == before[f"{base}:{ink}"] == ("INK", 2)
    assert after[f"{base}:{nib}"] == ("NIB", 3)
    (increase,) = [k for k in after if k.startswith(f"{base}:{ink}:edit:")]
    assert after[increase] == ("INK", 4)
    assert sales(shop.fetch(order["id"])) == after  # read again: the same keys
    # Counted once per key, stocksync sells exactly what Shopify took from available.
    committed = {v["sku"]: v["levels"][str(shop.location)]["committed"]
                 for v in shop.admin.get("/_sim/state").json()["variants"]}
    sold: dict[str, int] = {}
    for sku, quantity in {**before, **after}.values():
        sold[sku] = sold.get(sku, 0) + quantity
    assert sold == committed == {"INK": 6, "NIB": 3}


def test_units_an_edit_removed_with_restock_return_under_the_refund_keys(
        shop: Shop) -> None:
    shop.add("PEN", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "PEN", "quantity": 3}]})
    line = order["line_items"][0]["id"]
    shop.post(f"/_sim/orders/{order['id']}/edits", {
        "remove": [{"line_item_id": line, "quantity": 1, "restock": True}]})
    fetched = shop.fetch(order["id"])
    assert returns(fetched) == returns(shop.hooks.parsed("refunds/create"))
    assert sales(fetched) == {f"shopify:{order['id']}:{line}": ("PEN", 3)}


def test_polling_pages_through_changed_orders_and_moves_its_cursor(shop: Shop) -> None:
    shop.add("CUP", 20)
    orders = [shop.post("/_sim/orders", {"line_items": [{"sku": "CUP", "quantity": 1}]})
              for _ in range(3)]
    first = shop.poll(shop.created, order_page_size=2)
    assert first.more and len(sales(first.messages)) == 2
    second = shop.poll(first.cursor, order_page_size=2)
    assert not second.more
    assert sorted(sales(first.messages) | sales(second.messages)) == sorted(
        f"shopify:{o['id']}:{o['line_items'][0]['id']}" for o in orders)
    time.sleep(SETTLE.total_seconds() + 0.1)  # stamps of this very second may still change
    again = shop.poll(second.cursor, order_page_size=2)
    again = shop.poll(again.cursor, order_page_size=2)
    assert set(sales(again.messages)) <= set(sales(first.messages) | sales(second.messages))
    shop.admin.delete("/_sim/requests")
    idle = shop.poll(again.cursor, order_page_size=2)  # the overlap is listed again...
    assert idle.messages == [] and idle.more
    idle = shop.poll(idle.cursor, order_page_size=2)
    assert idle.messages == [] and not idle.more
    reads = [r["root_field"] for r in shop.admin.get("/_sim/requests").json()]
    assert reads == ["orders", "orders"]  # ...but no order is read again
    edited = shop.post(f"/_sim/orders/{orders[0]['id']}/cancel", {"restock": True})
    assert edited["cancelled_at"] is not None
    later = shop.poll(idle.cursor)
    assert set(returns(later.messages)) == set(returns(shop.hooks.parsed("refunds/create")))
    assert json.loads(later.cursor)["since"] >= json.loads(second.cursor)["since"]


def test_orders_before_the_first_cursor_are_not_polled(shop: Shop) -> None:
    shop.add("HAT", 5)
    shop.post("/_sim/orders", {"line_items": [{"sku": "HAT", "quantity": 1}]})
    future = (datetime.now(UTC) + timedelta(minutes=10)).isoformat()
    assert shop.poll(future).messages == []


def test_the_connector_requests_the_cost_the_simulator_computes() -> None:
    for query, cost in ((ORDER, ORDER_COST), (AGREEMENTS_QUERY, AGREEMENTS_COST)):
        assert cost_order(recognise({"query": query, "variables": {}}, (2026, 4))) == cost
    assert f"lineItems(first: {LINES})" in ORDER and f"refunds(first: {REFUNDS})" in ORDER
    assert f"refundLineItems(first: {REFUND_LINES})" in ORDER
    assert f"agreements(first: {AGREEMENTS}" in AGREEMENTS_QUERY
    assert f"sales(first: {SALES})" in AGREEMENTS_QUERY

"""Orders in the Shopify simulator over real HTTP, and the webhook parser over what it sends
and over Shopify's published sample payloads (tests/fixtures/shopify/SOURCES.md)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    InboundMessage,
    OrderNotice,
)
from stocksync.ingest.shopify import ShopifyWebhookParser
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import ShopifySimConfig, create_app
from tests.webhook_receiver import WebhookReceiver

SECRET = "hush"
FIXTURES = Path(__file__).parent.parent / "fixtures" / "shopify"
PARSER = ShopifyWebhookParser()


class Hooks(WebhookReceiver):
    def parsed(self, topic: str, count: int = 1) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        found = self.wait_for_header("x-shopify-topic", topic, count)
        for headers, body in found[:count]:
            assert PARSER.verify(SECRET, headers, body, "http://hub/hooks")
            messages += PARSER.parse(headers, body, {}).messages
        return messages


@dataclass
class Shop:
    admin: httpx.Client
    hooks: Hooks
    location: int

    def add(self, sku: str, available: int) -> None:
        self.admin.post("/_sim/products", json={
            "sku": sku, "quantities": {str(self.location): available}}).raise_for_status()

    def level(self, sku: str) -> dict[str, int]:
        variants = self.admin.get("/_sim/state").json()["variants"]
        levels: dict[str, int] = next(v for v in variants if v["sku"] == sku)["levels"][
            str(self.location)]
        return levels

    def post(self, path: str, body: dict[str, Any]) -> Any:
        response = self.admin.post(path, json=body)
        response.raise_for_status()
        return response.json()


@pytest.fixture
def shop() -> Iterator[Shop]:
    with Hooks() as hooks:
        app = create_app(ShopifySimConfig(webhook_url=hooks.url,
                                          webhook_secret=SECRET, webhook_retry_scale=0.0001))
        with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=5) as admin:
            yield Shop(admin, hooks, app.state.sim.default_location_id)


def returns(messages: list[InboundMessage]) -> list[ChannelReturn]:
    return [m for m in messages if isinstance(m, ChannelReturn)]


def test_an_online_order_names_no_location_and_commits_stock(shop: Shop) -> None:
    shop.add("TEE", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "TEE", "quantity": 2}]})
    assert order["location_id"] is None
    assert shop.level("TEE") == {"available": 3, "committed": 2, "on_hand": 5}
    (sale,) = shop.hooks.parsed("orders/create")
    line = order["line_items"][0]["id"]
    assert isinstance(sale, ChannelSale) and sale.location is None
    assert (sale.sku, sale.quantity, sale.key) == ("TEE", 2, f"shopify:{order['id']}:{line}")


def test_a_pos_order_names_its_location(shop: Shop) -> None:
    shop.add("CAP", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "CAP", "quantity": 1}],
                                       "location_id": shop.location})
    assert order["location_id"] == shop.location


def test_a_cancellation_with_restock_returns_the_units_once_across_both_webhooks(
        shop: Shop) -> None:
    shop.add("MUG", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "MUG", "quantity": 2}]})
    shop.post(f"/_sim/orders/{order['id']}/cancel", {"restock": True})
    assert shop.level("MUG") == {"available": 5, "committed": 0, "on_hand": 5}
    by_cancel = returns(shop.hooks.parsed("orders/cancelled"))
    by_refund = returns(shop.hooks.parsed("refunds/create"))
    assert [r.key for r in by_cancel] == [r.key for r in by_refund]  # the same restock
    assert len(by_cancel) == 1
    assert by_cancel[0].quantity == 2 and by_cancel[0].sku == "MUG"
    assert by_cancel[0].sale_key == f"shopify:{order['id']}:{order['line_items'][0]['id']}"


def test_a_cancellation_without_restock_leaves_available_alone(shop: Shop) -> None:
    shop.add("BAG", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "BAG", "quantity": 2}]})
    cancelled = shop.post(f"/_sim/orders/{order['id']}/cancel", {"restock": False})
    assert shop.level("BAG") == {"available": 3, "committed": 0, "on_hand": 3}
    kinds = {line["restock_type"] for line in cancelled["refunds"][0]["refund_line_items"]}
    assert kinds == {"no_restock"}
    assert returns(shop.hooks.parsed("orders/cancelled")) == []
    assert returns(shop.hooks.parsed("refunds/create")) == []


@pytest.mark.parametrize(("restock_type", "available"), [("return", 4), ("no_restock", 3)])
def test_a_refund_restocks_per_its_restock_type(shop: Shop, restock_type: str,
                                                available: int) -> None:
    shop.add("PEN", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "PEN", "quantity": 2}]})
    line = order["line_items"][0]["id"]
    shop.post(f"/_sim/orders/{order['id']}/refunds", {"refund_line_items": [
        {"line_item_id": line, "quantity": 1, "restock_type": restock_type}]})
    assert shop.level("PEN")["available"] == available
    assert len(returns(shop.hooks.parsed("refunds/create"))) == (available - 3)


def test_an_order_edit_commits_additions_and_restocks_removals_through_a_refund(
        shop: Shop) -> None:
    shop.add("INK", 5)
    shop.add("NIB", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "INK", "quantity": 3}]})
    line = order["line_items"][0]["id"]
    edit = shop.post(f"/_sim/orders/{order['id']}/edits", {
        "add": [{"sku": "NIB", "quantity": 2}],
        "remove": [{"line_item_id": line, "quantity": 1, "restock": True}]})
    assert shop.level("NIB") == {"available": 3, "committed": 2, "on_hand": 5}
    assert shop.level("INK") == {"available": 3, "committed": 2, "on_hand": 5}
    changes = edit["order_edit"]["line_items"]
    assert changes["removals"] == [{"id": line, "delta": 1}]
    assert [set(a) for a in changes["additions"]] == [{"id", "delta"}]  # Shopify's shape
    # The edit names no SKU: the ingestor reads the order back (test_shopify_order_reads.py).
    assert shop.hooks.parsed("orders/edited") == [OrderNotice(order_id=str(order["id"]))]
    (restock,) = returns(shop.hooks.parsed("refunds/create"))
    assert (restock.sku, restock.quantity) == ("INK", 1)


def test_refunding_more_than_is_left_on_a_line_is_refused(shop: Shop) -> None:
    shop.add("CUP", 5)
    order = shop.post("/_sim/orders", {"line_items": [{"sku": "CUP", "quantity": 1}]})
    response = shop.admin.post(f"/_sim/orders/{order['id']}/refunds", json={
        "refund_line_items": [{"line_item_id": order["line_items"][0]["id"], "quantity": 2,
                               "restock_type": "cancel"}]})
    assert response.status_code == 409
    assert shop.level("CUP")["available"] == 4


# -- Shopify's published sample payloads ---------------------------------------------------

def sample(name: str, topic: str) -> list[InboundMessage]:
    body = (FIXTURES / name).read_bytes()
    headers = {"x-shopify-topic": topic, "x-shopify-webhook-id": "sample"}
    return PARSER.parse(headers, body, {}).messages


def test_the_sample_order_sells_every_line_without_a_location() -> None:
    sales = sample("orders_create.json", "orders/create")
    assert all(isinstance(m, ChannelSale) and m.location is None for m in sales)
    assert next(m.key for m in sales if isinstance(m, ChannelSale)) == (
        "shopify:820982911946154508:487817672276298554")
    assert {m.sku for m in sales if isinstance(m, ChannelSale)} == {
        "SKU2006-001", "LENS-PROTECT-2YR", "CASE-LEATHER-PREM", "SKU2006-020", "SKU2006-035"}


def test_the_sample_cancellation_restocked_nothing() -> None:
    assert sample("orders_cancelled.json", "orders/cancelled") == [
        Ignored("the cancellation restocked nothing (no refund line restocks)")]


def test_the_sample_refund_is_all_no_restock() -> None:
    messages = sample("refunds_create.json", "refunds/create")
    assert len(messages) == 5 and returns(messages) == []


def test_the_sample_order_edit_asks_for_the_order_to_be_read() -> None:
    messages = sample("orders_edited.json", "orders/edited")
    assert messages == [OrderNotice(order_id="820982911946154508")]
    body = json.loads((FIXTURES / "orders_edited.json").read_text())
    assert body["order_edit"]["line_items"]["additions"] == [
        {"id": 78643924236718232, "delta": 1}]

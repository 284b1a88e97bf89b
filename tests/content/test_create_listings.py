"""create_missing on Shopify, Square and Amazon over HTTP against their simulators: a SKU
the store does not list is published (Shopify: productCreate with its images, then
productVariantsBulkCreate with its SKU and prices, later images replaced; Square: one new
ITEM with its ITEM_VARIATION; Amazon: putListingsItem, refused before sending while the
product type's required attributes are missing) and its quantity follows (on Shopify at
each mapped store location); on Shopify a soft-deleted item's product is archived and a
restored one is active again."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from stocksync.config import Settings
from stocksync.simulators import amazon
from stocksync.simulators.amazon_state import AmazonSimConfig
from tests.conftest import seed
from tests.content.conftest import CONTENT_ON, wait_for
from tests.e2e.channel_stacks import Amazon, Platform, Shopify, Square

# Simulator and stocksync over real HTTP, content and quantity workers: a few seconds.
pytestmark = pytest.mark.slow
SKU = "HAT-RED"


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


def test_a_missing_product_is_created_and_stocked_per_location(
        client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        shop = Shopify(stack)
        a = shop.location
        b = str(shop.post("/_sim/locations", {"name": "Second store"})["id"])
        seed(client, {SKU: {"WH": 4, "NYC": 2}})
        hat = {"title": "Red hat", "description": "<p>Wool</p>", "price": "25.00",
               "compare_at_price": "30.00",
               "images": [{"url": "https://img.example/hat.jpg", "alt": "red hat"}]}
        answer = client.put(f"/v1/items/{SKU}", json=hat)
        assert answer.status_code == 200, answer.text
        settings, credentials = shop.channel()
        settings |= {f"location_map.{a}": "WH", f"location_map.{b}": "NYC"}
        answer = client.post("/v1/channels", json={
            "code": shop.code, "kind": "shopify", "name": "shop", "locations": ["WH", "NYC"],
            "settings": settings, "credentials": credentials})
        assert answer.status_code == 201, answer.text
        answer = client.patch(f"/v1/channels/{shop.code}/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text

        def product() -> dict | None:
            return next((p for p in shop.admin.get("/_sim/catalog").json()["products"]
                         if p["variants"] and p["variants"][0]["sku"] == SKU), None)

        made = wait_for(product)
        assert (made["title"], made["body_html"]) == ("Red hat", "<p>Wool</p>")
        assert (made["variants"][0]["price"], made["variants"][0]["compare_at_price"]) == \
            ("25.00", "30.00")
        assert made["images"] == [{"src": "https://img.example/hat.jpg", "alt": "red hat"}]
        wait_for(lambda: shop.state()["available"].get(SKU) == {a: 4, b: 2})
        # New images replace the old ones (fileUpdate takes them off, productUpdate adds).
        new_images = [{"url": "https://img.example/hat-front.jpg", "alt": "front"},
                      {"url": "https://img.example/hat-side.jpg", "alt": "side"}]
        answer = client.put(f"/v1/items/{SKU}", json={**hat, "images": new_images})
        assert answer.status_code == 200, answer.text
        wait_for(lambda: (product() or {}).get("images") == [
            {"src": i["url"], "alt": i["alt"]} for i in new_images])
        # Soft-deleted: the product is archived and shows nothing; restored: back.
        assert client.delete(f"/v1/items/{SKU}").status_code in (200, 204)
        wait_for(lambda: (product() or {}).get("status") == "archived")
        wait_for(lambda: shop.state()["available"].get(SKU) == {a: 0, b: 0})
        answer = client.post(f"/v1/items/{SKU}/restore")
        assert answer.status_code == 200, answer.text
        wait_for(lambda: (product() or {}).get("status") == "active")
        wait_for(lambda: shop.state()["available"].get(SKU) == {a: 4, b: 2})


def test_a_missing_square_item_is_created_with_its_variation(
        client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        square = Square(stack)
        seed(client, {SKU: {"WH": 6}})
        answer = client.put(f"/v1/items/{SKU}", json={
            "title": "Red hat", "description": "Wool", "price": "25.00", "currency": "USD"})
        assert answer.status_code == 200, answer.text
        square.connect(client, server.url, ["WH"])
        answer = client.patch(f"/v1/channels/{square.code}/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text
        item = wait_for(lambda: square.admin.get("/_sim/catalog").json()["items"].get(SKU))
        assert (item["name"], item["description"], item["price_cents"]) == \
            ("Red hat", "Wool", 2500)
        wait_for(lambda: square.shown(SKU) == 6)


class StrictAmazon(Amazon):
    """Amazon refusing a patch of a SKU the seller has no listing of (NOT_FOUND)."""

    def __init__(self, stack: ExitStack) -> None:
        Platform.__init__(self, stack, amazon.create_app(AmazonSimConfig(
            feed_processing_delay_s=0.2, unknown_sku="invalid")))


def test_an_amazon_listing_is_checked_then_put(client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        store = StrictAmazon(stack)
        seed(client, {SKU: {"WH": 5}})
        item = {"title": "Red hat", "price": "25.00", "currency": "USD",
                "barcodes": ["4006381333931"]}
        assert client.put(f"/v1/items/{SKU}", json=item).status_code == 200
        store.connect(client, server.url, ["WH"])
        answer = client.patch(f"/v1/channels/{store.code}/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text

        def content() -> dict:
            rows = client.get(f"/v1/channels/{store.code}/skus").json()
            return next((r.get("content") or {} for r in rows if r["sku"] == SKU), {})

        refused = wait_for(lambda: content().get("refused"))
        assert "requires brand" in refused and "no brand" in refused, refused
        assert SKU not in store.admin.get("/_sim/catalog").json()["items"]  # not sent
        answer = client.put(f"/v1/items/{SKU}", json={**item, "brand": "Acme"})
        assert answer.status_code == 200, answer.text
        listing = wait_for(lambda: store.admin.get("/_sim/catalog").json()["items"].get(SKU))
        assert listing["item_name"][0]["value"] == "Red hat"
        wait_for(lambda: store.shown(SKU) == 5)

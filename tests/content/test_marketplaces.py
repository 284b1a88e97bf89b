"""Content sync to eBay, Amazon and Square over HTTP against their simulators, and a
per-channel override set by set_channel_content reaching eBay and Shopify (with eBay's
80-character title limit refused before sending)."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from stocksync.app.content_overrides import set_channel_content
from stocksync.config import Settings
from tests.conftest import Tenant, seed
from tests.content.conftest import in_sync, sync_content, wait_for
from tests.e2e.channel_stacks import Amazon, Ebay, Platform, Shopify, Square

# Simulators and stocksync over real HTTP, waiting for webhooks and pacers: several
# seconds per test, so they are marked slow; SQLite only (see conftest.sqlite_only).
pytestmark = pytest.mark.slow


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


SKU = "MUG-BLU"


def catalog_of(p: Platform) -> dict:
    return p.admin.get("/_sim/catalog").json()


@pytest.fixture
def marketplaces(client: httpx.Client, server) -> dict[str, Platform]:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        stores = {"ebay": Ebay(stack), "amazon": Amazon(stack), "square": Square(stack),
                  "shopify": Shopify(stack)}
        seed(client, {SKU: {"WH": 4}})
        for p in stores.values():
            p.add(SKU)
            p.connect(client, server.url, ["WH"])
            sync_content(client, p.code)
        yield stores


def test_title_and_price_reach_ebay_amazon_and_square(
        client: httpx.Client, marketplaces: dict[str, Platform]) -> None:
    answer = client.put(f"/v1/items/{SKU}", json={
        "title": "Blue mug", "description": "Stoneware, 350 ml", "price": "12.50",
        "currency": "USD", "images": [{"url": "https://img.example/mug.jpg", "alt": "mug"}]})
    assert answer.status_code == 200, answer.text
    ebay, amazon, square = (marketplaces[k] for k in ("ebay", "amazon", "square"))
    wait_for(lambda: (catalog_of(ebay)["items"][SKU].get("title") == "Blue mug"
                      and (catalog_of(ebay)["items"][SKU]["price"] or {}).get("value") == "12.50"))
    item = catalog_of(ebay)["items"][SKU]
    assert item["description"] == "Stoneware, 350 ml"
    assert item["imageUrls"] == ["https://img.example/mug.jpg"]
    wait_for(lambda: catalog_of(amazon)["items"].get(SKU, {}).get("item_name"))
    listing = catalog_of(amazon)["items"][SKU]
    assert listing["item_name"][0]["value"] == "Blue mug"
    assert listing["purchasable_offer"][0]["our_price"][0]["schedule"][0][
        "value_with_tax"] == 12.5
    assert listing["main_product_image_locator"][0]["media_location"] == \
        "https://img.example/mug.jpg"
    wait_for(lambda: catalog_of(square)["items"][SKU]["name"] == "Blue mug")
    assert catalog_of(square)["items"][SKU]["price_cents"] == 1250
    for code in ("ebay-us", "amazon-us", "square"):
        wait_for(lambda code=code: in_sync(client, code, [SKU]))


def test_an_override_reaches_ebay_and_shopify(client: httpx.Client, tenant: Tenant,
                                              marketplaces: dict[str, Platform]) -> None:
    svc = client.app_svc  # type: ignore[attr-defined]
    ebay, shop = marketplaces["ebay"], marketplaces["shopify"]
    tenant_id = tenant.id
    set_channel_content(svc, tenant_id, SKU, "ebay-us",
                        {"title": "Blue stoneware mug 350ml",
                         "aspects": {"Colour": ["Blue"], "Material": ["Stoneware"]}},
                        source="ai:test")
    set_channel_content(svc, tenant_id, SKU, "shop", {"description": "<p>For Shopify</p>"},
                        source="ai:test")
    wait_for(lambda: catalog_of(ebay)["items"][SKU].get("title") == "Blue stoneware mug 350ml")
    assert catalog_of(ebay)["items"][SKU]["aspects"] == {"Colour": ["Blue"],
                                                        "Material": ["Stoneware"]}
    wait_for(lambda: next(p for p in catalog_of(shop)["products"]
                          if p["variants"][0]["sku"] == SKU)["body_html"] == "<p>For Shopify</p>")
    # Only that channel: the item itself keeps its own title.
    assert client.get(f"/v1/items/{SKU}").json()["title"] == SKU
    # Over eBay's 80 characters: refused before sending, with the reason, per SKU.
    answer = client.put(f"/v1/channels/ebay-us/content/{SKU}", json={"title": "x" * 81})
    assert answer.status_code == 200, answer.text
    row = wait_for(lambda: next((r for r in client.get("/v1/channels/ebay-us/skus").json()
                                 if (r.get("content") or {}).get("refused")), None))
    assert "80 characters" in row["content"]["refused"]
    assert catalog_of(ebay)["items"][SKU]["title"] == "Blue stoneware mug 350ml"
    # The override dropped (a rejected AI draft): the item's own title goes back.
    answer = client.put(f"/v1/channels/ebay-us/content/{SKU}", json={"title": None})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: catalog_of(ebay)["items"][SKU]["title"] == SKU)


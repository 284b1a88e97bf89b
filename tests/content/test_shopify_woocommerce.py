"""Content sync end to end over HTTP: stocksync -> Shopify and WooCommerce simulators and
back (products/update, product.updated): an edit shows once, a newer channel edit is
accepted and not echoed, an older one is ignored."""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from stocksync.config import Settings
from tests.conftest import seed
from tests.content.conftest import in_sync, sync_content, wait_for
from tests.e2e.channel_stacks import Platform, Shopify, WooCommerce

# Simulators and stocksync over real HTTP, waiting for webhooks and pacers: several
# seconds per test, so they are marked slow; SQLite only (see conftest.sqlite_only).
pytestmark = pytest.mark.slow


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


SKU = "TEE-RED-M"


def _shopify_product(p: Platform) -> dict:
    products = p.admin.get("/_sim/catalog").json()["products"]
    return next(x for x in products if x["variants"][0]["sku"] == SKU)


def _woo_item(p: Platform) -> dict:
    return p.admin.get("/_sim/catalog").json()["items"][SKU]


def _writes(p: Platform) -> int:
    return int(p.admin.get("/_sim/catalog").json()["writes"])


@pytest.fixture
def stores(client: httpx.Client, server) -> tuple[Platform, Platform]:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        shop, woo = Shopify(stack), WooCommerce(stack)
        seed(client, {SKU: {"WH": 3}})
        for p in (shop, woo):
            p.add(SKU)
            p.connect(client, server.url, ["WH"])
            sync_content(client, p.code)
        yield shop, woo


def test_an_edit_shows_once_on_every_channel(client: httpx.Client,
                                             stores: tuple[Platform, Platform]) -> None:
    shop, woo = stores
    wait_for(lambda: in_sync(client, shop.code, [SKU]) and in_sync(client, woo.code, [SKU]))
    time.sleep(1.0)  # the first sync's writes and their webhooks are through
    before = {p.code: _writes(p) for p in stores}
    answer = client.put(f"/v1/items/{SKU}", json={
        "title": "Red tee", "description": "<p>Soft cotton</p>", "price": "19.90",
        "compare_at_price": "25.00", "currency": "USD"})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: _shopify_product(shop)["title"] == "Red tee"
             and _shopify_product(shop)["variants"][0]["price"] == "19.90")
    wait_for(lambda: _woo_item(woo)["name"] == "Red tee"
             and _woo_item(woo)["sale_price"] == "19.90")
    product = _shopify_product(shop)
    assert product["body_html"] == "<p>Soft cotton</p>"
    assert product["variants"][0]["compare_at_price"] == "25.00"
    assert _woo_item(woo)["regular_price"] == "25.00"
    wait_for(lambda: in_sync(client, shop.code, [SKU]) and in_sync(client, woo.code, [SKU]))
    time.sleep(1.5)  # echoes (products/update, product.updated) have come back by now
    # Once: Shopify one productUpdate and one productVariantsBulkUpdate; WooCommerce one
    # batch; the channels' own webhooks about it sent nothing back.
    assert _writes(shop) - before[shop.code] == 2
    assert _writes(woo) - before[woo.code] == 1
    assert client.get(f"/v1/items/{SKU}").json()["title"] == "Red tee"


def test_newer_channel_edit_is_accepted_and_not_echoed_an_older_one_ignored(
        client: httpx.Client, stores: tuple[Platform, Platform]) -> None:
    shop, woo = stores
    wait_for(lambda: in_sync(client, shop.code, [SKU]) and in_sync(client, woo.code, [SKU]))
    later = (datetime.now(UTC) + timedelta(seconds=2)).isoformat(timespec="seconds")
    edited = shop.admin.put(f"/_sim/catalog/{SKU}", json={"title": "Shopify title",
                                                         "updated_at": later})
    assert edited.status_code == 200, edited.text
    wait_for(lambda: client.get(f"/v1/items/{SKU}").json()["title"] == "Shopify title")
    # ...and it travels on to WooCommerce, but not back to Shopify.
    writes = _writes(shop)
    wait_for(lambda: _woo_item(woo)["name"] == "Shopify title")
    wait_for(lambda: in_sync(client, shop.code, [SKU]) and in_sync(client, woo.code, [SKU]))
    time.sleep(1.0)
    assert _writes(shop) == writes
    assert _shopify_product(shop)["title"] == "Shopify title"
    # A delivery stamped before stocksync's newer value reached the channel (a late
    # webhook): nothing changes in stocksync and nothing is sent back.
    writes = _writes(woo)
    earlier = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    edited = woo.admin.put(f"/_sim/catalog/{SKU}", json={"name": "Old name",
                                                        "date_modified_gmt": earlier})
    assert edited.status_code == 200, edited.text
    time.sleep(1.5)  # the delivery was read by now
    assert client.get(f"/v1/items/{SKU}").json()["title"] == "Shopify title"
    assert _writes(woo) == writes + 1  # the merchant's own edit only

"""create_missing over HTTP: a SKU WooCommerce does not list is refused with the reason
until the channel asks for it, then published with its title, prices and image, and its
quantity follows (the quantity pusher had parked it as unknown there), deleting the item
unpublishes it and restoring publishes it again; on eBay a listing
missing what its category requires is refused before sending, then published once the
item specific is there."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from stocksync.app.content_overrides import set_channel_content
from stocksync.config import Settings
from tests.conftest import Tenant, seed
from tests.content.conftest import CONTENT_ON, sync_content, wait_for
from tests.e2e.channel_stacks import Ebay, WooCommerce

# Simulator and stocksync over real HTTP: a few seconds (see test_shopify_woocommerce.py).
pytestmark = pytest.mark.slow
SKU = "CAP-GRN"


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


def _content(client: httpx.Client) -> dict:
    rows = client.get("/v1/channels/woo/skus").json()
    return next((r.get("content") or {} for r in rows if r["sku"] == SKU), {})


def test_a_missing_product_is_refused_then_published(client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        woo = WooCommerce(stack)
        seed(client, {SKU: {"WH": 3}})
        answer = client.put(f"/v1/items/{SKU}", json={
            "title": "Green cap", "price": "15.00", "compare_at_price": "20.00",
            "images": [{"url": "https://img.example/cap.jpg", "alt": "green cap"}]})
        assert answer.status_code == 200, answer.text
        woo.connect(client, server.url, ["WH"])
        sync_content(client, woo.code)
        refused = wait_for(lambda: _content(client).get("refused"))
        assert "create_missing" in refused
        answer = client.patch("/v1/channels/woo/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text
        item = wait_for(lambda: woo.admin.get("/_sim/catalog").json()["items"].get(SKU))
        assert (item["name"], item["regular_price"], item["sale_price"]) == \
            ("Green cap", "20.00", "15.00")
        assert item["images"][0]["src"] == "https://img.example/cap.jpg"
        wait_for(lambda: woo.shown(SKU) == 3)
        wait_for(lambda: _content(client).get("in_sync"))
        # Soft-deleted: the product becomes a draft (unpublished); restored: published.
        status = lambda: woo.admin.get("/_sim/catalog").json()["items"][SKU]["status"]  # noqa: E731
        assert client.delete(f"/v1/items/{SKU}").status_code in (200, 204)
        wait_for(lambda: status() == "draft")
        assert client.post(f"/v1/items/{SKU}/restore").status_code == 200
        wait_for(lambda: status() == "publish")
        wait_for(lambda: woo.shown(SKU) == 3)


class EbayCategory(Ebay):
    def channel(self) -> tuple[dict[str, str], dict[str, str]]:
        settings, credentials = super().channel()
        return {**settings, "category_id": "11450"}, credentials


def _ebay_content(client: httpx.Client) -> dict:
    rows = client.get("/v1/channels/ebay-us/skus").json()
    return next((r.get("content") or {} for r in rows if r["sku"] == SKU), {})


def test_an_ebay_listing_is_checked_before_it_is_published(
        client: httpx.Client, server, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        ebay = EbayCategory(stack)
        seed(client, {SKU: {"WH": 3}})
        answer = client.put(f"/v1/items/{SKU}", json={
            "title": "Green cap", "price": "15.00", "currency": "USD",
            "images": [{"url": "https://img.example/cap.jpg"}]})
        assert answer.status_code == 200, answer.text
        ebay.connect(client, server.url, ["WH"])
        answer = client.patch("/v1/channels/ebay-us/content", json={
            "types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text
        # eBay's category needs a Brand: refused before anything is sent, with the reason.
        refused = wait_for(lambda: _ebay_content(client).get("refused"))
        assert "item specific Brand" in refused
        assert SKU not in ebay.admin.get("/_sim/catalog").json()["items"]
        svc = client.app_svc  # type: ignore[attr-defined]
        set_channel_content(svc, tenant.id, SKU, "ebay-us", {"aspects": {"Brand": ["Acme"]}},
                            source="test")
        item = wait_for(lambda: ebay.admin.get("/_sim/catalog").json()["items"].get(SKU))
        assert item["title"] == "Green cap" and item["aspects"] == {"Brand": ["Acme"]}
        assert item["price"] == {"value": "15.00", "currency": "USD"}
        wait_for(lambda: ebay.shown(SKU) == 3)

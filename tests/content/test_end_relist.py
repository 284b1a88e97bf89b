"""Deleting an item ends its listing and restoring it lists it again, over HTTP against
the simulators, on a channel with create_missing: eBay (withdrawOffer, then publishOffer of
the SKU's offer), Amazon (deleteListingsItem, then putListingsItem) and Square (the
channel's location in the variation's absent_at_location_ids, then out of it). On Amazon
and Square the relisted SKU shows its stock again; on eBay it is wanted again and waits
for the revision pacing of the offer."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from stocksync.app.content_overrides import set_channel_content
from stocksync.config import Settings
from tests.conftest import Tenant, seed
from tests.content.conftest import CONTENT_ON, wait_for
from tests.content.test_create_listings import StrictAmazon
from tests.content.test_create_missing import EbayCategory
from tests.e2e.channel_stacks import Square

# Simulator and stocksync over real HTTP, content and quantity workers: a few seconds.
pytestmark = pytest.mark.slow
SKU = "SCARF-BLU"


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


def _delete_then_restore(client: httpx.Client) -> None:
    assert client.delete(f"/v1/items/{SKU}").status_code in (200, 204)


def test_ebay_withdraws_the_offer_and_publishes_it_again(
        client: httpx.Client, server, tenant: Tenant) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        ebay = EbayCategory(stack)
        seed(client, {SKU: {"WH": 3}})
        answer = client.put(f"/v1/items/{SKU}", json={
            "title": "Blue scarf", "price": "19.00", "currency": "USD",
            "images": [{"url": "https://img.example/scarf.jpg"}]})
        assert answer.status_code == 200, answer.text
        ebay.connect(client, server.url, ["WH"])
        set_channel_content(client.app_svc, tenant.id, SKU, "ebay-us",  # type: ignore[attr-defined]
                            {"aspects": {"Brand": ["Acme"]}}, source="test")
        answer = client.patch("/v1/channels/ebay-us/content", json={
            "types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text

        def listed() -> bool | None:
            item = ebay.admin.get("/_sim/catalog").json()["items"].get(SKU)
            return None if item is None else bool(item["listed"])

        wait_for(lambda: listed() is True)
        wait_for(lambda: ebay.shown(SKU) == 3)
        _delete_then_restore(client)
        wait_for(lambda: listed() is False)
        withdrawn = [r for r in ebay.admin.get("/_sim/requests").json()
                     if str(r.get("path", "")).endswith("/withdraw")]
        assert len(withdrawn) == 1, withdrawn
        assert client.post(f"/v1/items/{SKU}/restore").status_code == 200
        wait_for(lambda: listed() is True)
        # The restored quantity waits for eBay revision pacing (the relisted offer still
        # counts the old listing's revisions today): wanted again, not yet asserted shown.
        rows = client.get("/v1/channels/ebay-us/skus").json()
        assert [r["wanted"] for r in rows if r["sku"] == SKU] == [3]


def test_amazon_deletes_the_listing_and_puts_it_again(
        client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        store = StrictAmazon(stack)
        seed(client, {SKU: {"WH": 5}})
        assert client.put(f"/v1/items/{SKU}", json={
            "title": "Blue scarf", "price": "19.00", "currency": "USD", "brand": "Acme",
            "barcodes": ["4006381333931"]}).status_code == 200
        store.connect(client, server.url, ["WH"])
        answer = client.patch(f"/v1/channels/{store.code}/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text

        def listing() -> dict | None:
            found: dict | None = store.admin.get("/_sim/catalog").json()["items"].get(SKU)
            return found

        wait_for(lambda: listing() is not None)
        wait_for(lambda: store.shown(SKU) == 5)
        _delete_then_restore(client)
        wait_for(lambda: listing() is None)
        assert client.post(f"/v1/items/{SKU}/restore").status_code == 200
        listed = wait_for(listing)
        assert listed["item_name"][0]["value"] == "Blue scarf"
        wait_for(lambda: store.shown(SKU) == 5)


def test_square_stops_selling_the_variation_at_the_location_and_back(
        client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        square = Square(stack)
        location = square.channel()[0]["location_id"]
        seed(client, {SKU: {"WH": 6}})
        assert client.put(f"/v1/items/{SKU}", json={
            "title": "Blue scarf", "price": "19.00", "currency": "USD"}).status_code == 200
        square.connect(client, server.url, ["WH"])
        answer = client.patch(f"/v1/channels/{square.code}/content",
                              json={"types": CONTENT_ON, "create_missing": True})
        assert answer.status_code == 200, answer.text

        def absent() -> list[str] | None:
            item = square.admin.get("/_sim/catalog").json()["items"].get(SKU)
            return None if item is None else list(item["absent_at"])

        wait_for(lambda: absent() == [])
        wait_for(lambda: square.shown(SKU) == 6)
        _delete_then_restore(client)
        wait_for(lambda: absent() == [location])
        assert client.post(f"/v1/items/{SKU}/restore").status_code == 200
        wait_for(lambda: absent() == [])
        wait_for(lambda: square.shown(SKU) == 6)
        assert square.admin.get("/_sim/catalog").json()["items"][SKU]["name"] == "Blue scarf"

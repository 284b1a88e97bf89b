"""Location mapping (issue 14 point 4) over HTTP against the Shopify simulator: each store
location gets its own group's quantity, an order placed at store location B is taken from
the stocksync location mapped to B, and refusals of a map that cannot work. The pure rules
(keys, groups, per-location quantities) are tested at the bottom."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from stocksync.channels.registry import check, location_map
from stocksync.config import Settings
from stocksync.core.channel_rules import (
    ChannelRules,
    SkuState,
    leg_key,
    leg_of_location,
    leg_quantities,
    location_legs,
    split_key,
)
from stocksync.core.channels import ChannelKind
from stocksync.core.errors import InvalidInput
from stocksync.core.inbound import ChannelSale
from stocksync.ingest.shopify import ShopifyWebhookParser
from tests.conftest import seed
from tests.content.conftest import wait_for
from tests.e2e.channel_stacks import Shopify

SKU = "TEE-BLA-M"


@pytest.fixture
def db_settings(sqlite_only: Settings) -> Settings:
    return sqlite_only


def _available(client: httpx.Client) -> dict[str, Any]:
    rows = client.get(f"/v1/stock/{SKU}").json()["locations"]
    return {r["location"]: r["available"] for r in rows}


# Simulator and stocksync over real HTTP, with a webhook round trip: ~3-6 s on the shared
# machine, so marked slow; SQLite only (the projector's storage is covered elsewhere).
@pytest.mark.slow
def test_two_shopify_locations_get_their_own_quantity_and_orders_follow_the_map(
        client: httpx.Client, server) -> None:  # type: ignore[no-untyped-def]
    with ExitStack() as stack:
        shop = Shopify(stack)
        a = shop.location
        b = str(shop.post("/_sim/locations", {"name": "Brooklyn store"})["id"])
        seed(client, {SKU: {"WH": 5, "NYC": 3, "NYC2": 1}})
        shop.post("/_sim/products", {"sku": SKU, "quantities": {a: 0, b: 0}})
        settings, credentials = shop.channel()
        settings |= {f"location_map.{a}": "WH", f"location_map.{b}": "NYC, NYC2",
                     f"location.{b}": "NYC"}
        answer = client.post("/v1/channels", json={
            "code": shop.code, "kind": "shopify", "name": "two stores",
            "locations": ["WH", "NYC", "NYC2"], "settings": settings,
            "credentials": credentials})
        assert answer.status_code == 201, answer.text
        shop.tap.target = server.url + answer.json()["webhook_path"]
        shop.subscribe()

        def shown() -> dict[str, int]:
            return shop.state()["available"].get(SKU, {})

        wait_for(lambda: shown() == {a: 5, b: 4})
        keys = {r["sku"] for r in client.get(f"/v1/channels/{shop.code}/skus").json()}
        assert keys == {f"{SKU}@{a}", f"{SKU}@{b}"}

        # A sale at the Brooklyn store (location B): taken from NYC, B's first location.
        shop.post("/_sim/orders", {"line_items": [{"sku": SKU, "quantity": 2}],
                                   "location_id": int(b)})
        wait_for(lambda: _available(client).get("NYC") == 1)
        assert _available(client) == {"WH": 5, "NYC": 1, "NYC2": 1}
        wait_for(lambda: shown() == {a: 5, b: 2})
        # A receipt at WH moves only store location A.
        answer = client.post("/v1/movements", json={"type": "receive", "sku": SKU,
                                                    "location": "WH", "quantity": 4})
        assert answer.status_code == 201, answer.text
        wait_for(lambda: shown() == {a: 9, b: 2})
        # A reconciliation compares each store location (keys SKU@<store id>): a
        # difference planted at store location B is found there and corrected there.
        report = client.post(f"/v1/channels/{shop.code}/reconcile").json()
        assert (report["mismatches"], report["missing"]) == ([], []), report
        assert report["compared"] == 2, report
        answer = shop.admin.put(f"/_sim/inventory/{SKU}", json={"available": 10,
                                                                "location_id": int(b)})
        assert answer.is_success, answer.text
        report = client.post(f"/v1/channels/{shop.code}/reconcile",
                             params={"apply": "true"}).json()
        assert [(m["sku"], m["expected"], m["actual"]) for m in report["mismatches"]] == [
            (f"{SKU}@{b}", 2, 10)] and report["applied"] == 1, report
        assert shown() == {a: 9, b: 2}
        report = client.post(f"/v1/channels/{shop.code}/reconcile").json()
        assert report["mismatches"] == [], report


def test_a_location_map_that_cannot_work_is_refused() -> None:
    base = {"shop_url": "https://x.myshopify.com", "location_id": "1"}
    creds = {"access_token": "t"}
    check(ChannelKind.SHOPIFY, base | {"location_map.1": "WH", "location_map.2": "NYC"},
          creds, creating=True)
    with pytest.raises(InvalidInput, match="both store locations"):
        check(ChannelKind.SHOPIFY, base | {"location_map.1": "WH", "location_map.2": "WH,NYC"},
              creds, creating=True)
    with pytest.raises(InvalidInput, match="Shopify only"):
        check(ChannelKind.WOOCOMMERCE, {"store_url": "https://w", "location_map.1": "WH"},
              {"consumer_key": "k", "consumer_secret": "s"}, creating=True)


def test_keys_groups_and_quantities_per_store_location() -> None:
    legs = location_legs({"location_map.11": "WH", "location_map.22": "NYC, NYC2",
                          "location_id": "11", "location.33": "X"})
    assert legs == {"11": ("WH",), "22": ("NYC", "NYC2")}
    assert split_key(leg_key("A-1", "22")) == ("A-1", "22") and split_key("A-1") == ("A-1", None)
    assert leg_of_location(legs, "NYC2") == "22" and leg_of_location(legs, "X") is None
    rules = ChannelRules(locations=("WH", "NYC", "NYC2"), safety_buffer=1, max_quantity=6)
    state = SkuState("A-1", {"WH": 4, "NYC": 5, "NYC2": 3})
    # The buffer and the cap apply per store location.
    assert leg_quantities(rules, legs, state) == {"A-1@11": 3, "A-1@22": 6}
    assert leg_quantities(rules, legs, SkuState("A-1", {"WH": 4}, deleted=True)) == {
        "A-1@11": 0, "A-1@22": 0}
    # Orders at a mapped store location: its group's first location unless told otherwise.
    assert location_map({"location_map.22": "NYC,NYC2"}) == {"22": "NYC"}
    assert location_map({"location_map.22": "NYC,NYC2", "location.22": "NYC2"}) == {
        "22": "NYC2"}


def test_a_webhook_order_at_a_mapped_store_location_takes_its_groups_location() -> None:
    """orders/create (Shopify's published sample, placed at store location 1002): without a
    `location.1002` setting the sale comes from the first location of 1002's group, as the
    order poll does (`location_map`); an explicit `location.<id>` still wins, and a store
    location that is not mapped leaves the choice to the ingestor."""
    order = json.loads((Path(__file__).parents[1] / "fixtures" / "shopify" /
                        "orders_create.json").read_bytes()) | {"location_id": 1002}
    headers = {"x-shopify-topic": "orders/create", "x-shopify-webhook-id": "sample"}
    mapped = {"location_map.1001": "WH", "location_map.1002": "NYC,NYC2"}

    def locations(settings: dict[str, str]) -> set[str | None]:
        messages = ShopifyWebhookParser().parse(headers, json.dumps(order).encode(),
                                                settings).messages
        return {m.location for m in messages if isinstance(m, ChannelSale)}

    assert locations(mapped) == {"NYC"} == {location_map(mapped)["1002"]}
    assert locations(mapped | {"location.1002": "NYC2"}) == {"NYC2"}
    assert locations({"location_map.1001": "WH"}) == {None}

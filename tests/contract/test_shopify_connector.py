"""ShopifyConnector against the Shopify simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest

from stocksync.channels.base import QuantitySet, RateLimited, level_times
from stocksync.channels.shopify import ShopifyConnector, verify_webhook
from stocksync.simulators.shopify import ShopifySimConfig, ShopifySimState, create_app
from tests.contract.conftest import Serve
from tests.contract.connector_contract import KeyedConnectorContract
from tests.contract.harness import SimulatorHarness, run_connector
from tests.webhook_receiver import WebhookReceiver

TOKEN = "shpat_contract_test"
SECRET = "hush"
T = TypeVar("T")
# 15 mutations x 10 points + discovery + reads: ~320 requested points through a bucket of
# 100 refilled at 50 points/s, so at least ~3 s of waiting.
PUSH_ROUNDS = 15


@dataclass
class Shop(SimulatorHarness):
    sim: ShopifySimState

    @property
    def location_id(self) -> str:
        return f"gid://shopify/Location/{self.sim.default_location_id}"

    def add(self, sku: str, available: int) -> str:
        response = self.admin.post("/_sim/products", json={
            "sku": sku, "title": f"Product {sku}",
            "quantities": {str(self.sim.default_location_id): available}})
        response.raise_for_status()
        return str(response.json()["inventory_item_id"])

    def available(self, sku: str) -> int:
        levels = self.state()["available"][sku]
        return int(levels[str(self.sim.default_location_id)])

    def requests(self, root_field: str | None = None) -> list[dict[str, Any]]:
        return self.requests_where("root_field", root_field)

    def connect(self, work: Callable[[ShopifyConnector], Awaitable[T]], **kwargs: Any) -> T:
        token, timeout = kwargs.pop("token", TOKEN), kwargs.pop("timeout", 5.0)
        return run_connector(lambda client: ShopifyConnector(
            client, self.url, token, location_id=self.location_id, **kwargs), work, timeout)


@pytest.fixture
def start_shop(serve: Serve) -> Callable[..., Shop]:
    def start(**config: Any) -> Shop:
        app = create_app(ShopifySimConfig(access_token=TOKEN, **config))
        server, admin = serve(app)
        return Shop(server, admin, app.state.sim)

    return start


@pytest.fixture
def shop(start_shop: Callable[..., Shop]) -> Shop:
    return start_shop()


def graphql(shop: Shop, query: str, variables: dict[str, Any],
            version: str = "2026-04") -> dict[str, Any]:
    response = shop.admin.post(f"/admin/api/{version}/graphql.json",
                               json={"query": query, "variables": variables},
                               headers={"X-Shopify-Access-Token": TOKEN})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_seeded_catalog_is_mapped_by_sku_pushed_and_read_back(
        start_shop: Callable[..., Shop], tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({
        "locations": [{"id": 5001, "name": "Main"}],
        "products": [{"title": "Tee", "sku": "TEE-1", "quantities": {"5001": 4}},
                     {"title": "Hoodie", "variants": [
                         {"sku": "HOOD-S", "quantities": {"5001": 1}},
                         {"sku": "HOOD-M", "quantities": {"5001": 9}}]}]}))
    shop = start_shop(seed_path=seed)

    async def work(c: ShopifyConnector) -> tuple[dict[str, str], Any, dict[str, int]]:
        found = await c.discover_mapping(["TEE-1", "HOOD-S", "HOOD-M", "NOT-IN-SHOP"])
        report = await c.set_quantities([QuantitySet("TEE-1", 7), QuantitySet("HOOD-S", 0),
                                         QuantitySet("HOOD-M", 12, known=9),
                                         QuantitySet("NOT-IN-SHOP", 3)])
        return found, report, await c.fetch_quantities(["TEE-1", "HOOD-S", "HOOD-M"])

    found, report, fetched = shop.connect(work)
    assert set(found) == {"TEE-1", "HOOD-S", "HOOD-M"}
    assert all(item.startswith("gid://shopify/InventoryItem/") for item in found.values())
    assert report.acknowledged == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert set(report.rejected) == {"NOT-IN-SHOP"}
    assert fetched == {"TEE-1": 7, "HOOD-S": 0, "HOOD-M": 12}
    assert [shop.available(s) for s in ("TEE-1", "HOOD-S", "HOOD-M")] == [7, 0, 12]


def test_discovery_pages_through_variants_and_shrinks_pages_to_a_small_bucket(
        start_shop: Callable[..., Shop]) -> None:
    shop = start_shop(maximum_available=40, restore_rate=1000)
    skus = [f"SKU-{n:02}" for n in range(30)]
    for sku in skus:
        shop.add(sku, 1)

    mapping = shop.connect(lambda c: c.discover_mapping())

    assert set(mapping) == set(skus)
    pages = shop.requests("productVariants")
    # 250 per page cannot fit 40 points; the answer tells the bucket size: 19 + 11 variants.
    assert [(r["outcome"], r["codes"]) for r in pages] == [
        ("error", ["MAX_COST_EXCEEDED"]), ("ok", []), ("ok", [])]
    assert shop.sim.throttled_count == 0


def test_a_crossed_compare_and_set_reports_the_change_and_leaves_the_sale(
        shop: Shop) -> None:
    shop.add("MUG", 10)
    shop.add("CUP", 5)

    async def push_over_a_sale(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["MUG", "CUP"])
        # A customer buys 3 mugs online; stocksync has not counted that order yet.
        shop.admin.post("/_sim/orders", json={"line_items": [{"sku": "MUG", "quantity": 3}]}
                        ).raise_for_status()
        return await c.set_quantities([QuantitySet("MUG", 9, known=10),
                                       QuantitySet("CUP", 6, known=5)])

    before = datetime.now(UTC)
    report = shop.connect(push_over_a_sale)
    assert report.changed == {"MUG": 7}  # what Shopify shows now; nothing overwritten
    # Stamped when it was read (after the push was sent), so an order placed between
    # the push and the read is known to be in the value and is not counted twice.
    assert report.changed_read_at is not None and report.changed_read_at > before
    # And, better, as of when Shopify says the level last changed (the sale; updatedAt is
    # to the second): a read that waited cannot make a later sale look like part of it.
    as_of = report.changed_as_of["MUG"]
    assert before.replace(microsecond=0) <= as_of <= report.changed_read_at
    assert report.acknowledged == {"CUP": 6}  # the rest of the batch still went through
    assert shop.available("MUG") == 7 and shop.available("CUP") == 6
    mutations = shop.requests("inventorySetQuantities")
    assert [m["codes"] for m in mutations] == [["CHANGE_FROM_QUANTITY_STALE"], []]
    resent = mutations[1]["variables"]["input"]["quantities"]
    assert [q["quantity"] for q in resent] == [6]


def test_levels_read_say_when_shopify_last_changed_them(shop: Shop) -> None:
    """InventoryQuantity.updatedAt: every change up to it is in the value read and none
    after it, however long the read waited in the pacer or the pool (app/ingest.py)."""
    shop.add("MUG", 10)
    shop.add("CUP", 5)

    async def read_after_a_sale(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["MUG", "CUP"])
        time.sleep(1.1)  # the next change lands in a later second than the catalog's
        sold = datetime.now(UTC).replace(microsecond=0)
        shop.admin.post("/_sim/orders", json={"line_items": [{"sku": "MUG", "quantity": 2}]}
                        ).raise_for_status()
        with level_times() as changed_at:
            found = await c.fetch_quantities(["MUG", "CUP"])
        outside = await c.fetch_quantities(["MUG"])  # no collector: nothing recorded
        return found, changed_at, outside, sold

    found, changed_at, outside, sold = shop.connect(read_after_a_sale)
    assert found == {"MUG": 8, "CUP": 5} and outside == {"MUG": 8}
    assert set(changed_at) == {"MUG", "CUP"}
    assert changed_at["MUG"] >= sold > changed_at["CUP"]


def test_a_crossed_compare_and_set_already_at_the_wanted_value_is_reported_not_acked(
        shop: Shop) -> None:
    """The value was read, not set: it may include a sale whose order is still to come, so
    the pusher must see it as the channel's change (app/channel_changes.py)."""
    shop.add("BOWL", 10)

    async def push(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["BOWL"])
        shop.admin.put("/_sim/inventory/BOWL", json={"available": 4}).raise_for_status()
        return await c.set_quantities([QuantitySet("BOWL", 4, known=10)])

    report = shop.connect(push)
    assert report.acknowledged == {} and report.changed == {"BOWL": 4}


SET = """mutation Set($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)%s {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { code field message }
  }
}"""


def set_input(item: str, location: str, quantity: int, change_from: int | None
              ) -> dict[str, Any]:
    return {"input": {"name": "available", "reason": "correction", "quantities": [{
        "inventoryItemId": item, "locationId": location, "quantity": quantity,
        "changeFromQuantity": change_from}]}}


def test_replaying_an_idempotency_key_returns_the_first_result_without_a_second_effect(
        shop: Shop) -> None:
    item = shop.add("CAP", 5)
    keyed = SET % ' @idempotent(key: "0b7f3c9e-2f1d-4c55-9a57-1d2a7e0c9b11")'
    first = graphql(shop, keyed, set_input(item, shop.location_id, 6, 5))
    shop.admin.put("/_sim/inventory/CAP", json={"available": 9}).raise_for_status()

    replay = graphql(shop, keyed, set_input(item, shop.location_id, 6, 5))

    assert replay["data"] == first["data"]
    assert first["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shop.available("CAP") == 9  # the replay changed nothing
    assert [r["replayed"] for r in shop.requests("inventorySetQuantities")] == [False, True]
    other = graphql(shop, keyed, set_input(item, shop.location_id, 8, 9))
    codes = [e["code"] for e in other["data"]["inventorySetQuantities"]["userErrors"]]
    assert codes == ["IDEMPOTENCY_KEY_PARAMETER_MISMATCH"]


def test_2026_04_requires_an_idempotency_key_and_change_from_quantity(shop: Shop) -> None:
    item = shop.add("BAG", 5)
    no_key = graphql(shop, SET % "", set_input(item, shop.location_id, 6, 5))
    assert no_key["data"] == {"inventorySetQuantities": None}
    assert no_key["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    missing = set_input(item, shop.location_id, 6, 5)
    del missing["input"]["quantities"][0]["changeFromQuantity"]
    no_change_from = graphql(shop, SET % ' @idempotent(key: "k-1")', missing)
    assert "changeFromQuantity" in no_change_from["errors"][0]["message"]
    assert shop.available("BAG") == 5


def test_after_a_restart_an_identical_push_is_not_swallowed_by_an_old_idempotency_result(
        shop: Shop) -> None:
    shop.add("VASE", 3)

    async def push(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["VASE"])
        return await c.set_quantities([QuantitySet("VASE", 5, known=3)])

    shop.connect(push, key_namespace="tenant-1:shop")
    shop.admin.put("/_sim/inventory/VASE", json={"available": 3}).raise_for_status()
    time.sleep(2.1)  # the first result is now clearly older than any new request
    # A restarted process with the same namespace builds the same key for 3 -> 5 again.
    report = shop.connect(push, key_namespace="tenant-1:shop")

    assert report.acknowledged == {"VASE": 5}
    assert shop.available("VASE") == 5
    mutations = shop.requests("inventorySetQuantities")
    assert [m["replayed"] for m in mutations] == [False, True, False]


def test_a_replayed_push_never_sets_over_a_sale_made_since_it_was_applied(
        shop: Shop) -> None:
    """The first attempt was applied (its answer lost, or a restart with the same key);
    Shopify sold a unit since. Confirming the replay must not set 5 again over that
    sale: it reports the change and waits for the order."""
    shop.add("JUG", 6)

    async def push(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["JUG"])
        return await c.set_quantities([QuantitySet("JUG", 5, known=6)])

    shop.connect(push, key_namespace="tenant-1:shop")
    shop.admin.put("/_sim/inventory/JUG", json={"available": 4}).raise_for_status()  # a sale
    time.sleep(2.1)  # the first result is now clearly older than any new request
    report = shop.connect(push, key_namespace="tenant-1:shop")

    assert report.acknowledged == {}
    assert report.changed == {"JUG": 4}
    assert shop.available("JUG") == 4


def test_with_a_small_bucket_the_connector_waits_instead_of_being_throttled(
        start_shop: Callable[..., Shop]) -> None:
    shop = start_shop(maximum_available=100, restore_rate=50)
    skus = [f"BOX-{n}" for n in range(12)]
    for sku in skus:
        shop.add(sku, 0)
    rate_limited = 0

    async def many_pushes(c: ShopifyConnector) -> dict[str, int]:
        nonlocal rate_limited
        await c.discover_mapping(skus)
        known: dict[str, int | None] = dict.fromkeys(skus)
        for round_no in range(1, PUSH_ROUNDS + 1):
            changes = [QuantitySet(sku, round_no + i, known[sku]) for i, sku in enumerate(skus)]
            while True:
                try:
                    report = await c.set_quantities(changes)
                    break
                except RateLimited as exc:  # what the pusher would do
                    rate_limited += 1
                    await asyncio.sleep(exc.retry_after)
            known.update(report.acknowledged)
        return await c.fetch_quantities(skus)

    started = time.monotonic()
    fetched = shop.connect(many_pushes)
    assert fetched == {sku: PUSH_ROUNDS + i for i, sku in enumerate(skus)}
    assert shop.sim.throttled_count == 0 and rate_limited == 0
    assert time.monotonic() - started > 2.0  # it really had to wait for the bucket


def test_throttled_responses_raise_rate_limited_with_the_bucket_deficit(shop: Shop) -> None:
    shop.add("PEN", 1)
    shop.admin.post("/_sim/faults", json={"force_throttle": True}).raise_for_status()

    async def push(c: ShopifyConnector) -> None:
        c.mapping["PEN"] = shop.sim.snapshot()["variants"][0]["inventory_item_id"]
        await c.set_quantities([QuantitySet("PEN", 2, known=1)])

    with pytest.raises(RateLimited) as caught:
        shop.connect(push)
    assert caught.value.retry_after == pytest.approx(10 / 50, abs=0.1)  # 10 points at 50/s
    assert shop.sim.throttled_count == 1


def test_api_version_2025_01_uses_compare_quantity_and_reports_its_stale_code(
        shop: Shop) -> None:
    shop.add("OLD", 3)

    async def work(c: ShopifyConnector) -> Any:
        await c.discover_mapping(["OLD"])
        first = await c.set_quantities([QuantitySet("OLD", 8)])
        shop.admin.put("/_sim/inventory/OLD", json={"available": 1}).raise_for_status()
        return first, await c.set_quantities([QuantitySet("OLD", 6, known=8)])

    first, second = shop.connect(work, api_version="2025-01")
    assert first.acknowledged == {"OLD": 8}
    assert second.acknowledged == {} and second.changed == {"OLD": 1}
    assert shop.available("OLD") == 1
    mutations = shop.requests("inventorySetQuantities")
    sent = [m["variables"]["input"]["quantities"][0] for m in mutations]
    assert [q["compareQuantity"] for q in sent] == [3, 8]
    assert not any("changeFromQuantity" in q for q in sent)
    assert [m["codes"] for m in mutations] == [[], ["COMPARE_QUANTITY_STALE"]]


def test_webhooks_are_signed_retried_and_verifiable(start_shop: Callable[..., Shop]) -> None:
    with WebhookReceiver(fail_first=2) as receiver:
        shop = start_shop(webhook_url=receiver.url, webhook_secret=SECRET,
                          webhook_retry_scale=0.0001)
        shop.add("SOCK", 10)
        shop.admin.put("/_sim/inventory/SOCK", json={"available": 6}).raise_for_status()
        receiver.wait_for(3)  # two failures, then delivered
        shop.admin.post("/_sim/orders", json={"line_items": [{"sku": "SOCK", "quantity": 2}]}
                        ).raise_for_status()
        receiver.wait_for(5)

    attempts = receiver.received[:3]
    assert len({h["x-shopify-webhook-id"] for h, _ in attempts}) == 1  # retries reuse the id
    assert len({body for _, body in attempts}) == 1  # and the original payload
    headers, body = attempts[-1]
    assert headers["x-shopify-topic"] == "inventory_levels/update"
    assert headers["x-shopify-shop-domain"] == "stocksync-sim.myshopify.com"
    assert headers["x-shopify-api-version"] == "2026-04"
    assert {"x-shopify-event-id", "x-shopify-triggered-at"} <= set(headers)
    assert json.loads(body)["available"] == 6
    assert verify_webhook(SECRET, body, headers["x-shopify-hmac-sha256"])
    assert not verify_webhook(SECRET, body.replace(b"6", b"60"), headers["x-shopify-hmac-sha256"])
    order_deliveries = {h["x-shopify-topic"]: (h, b) for h, b in receiver.received[3:]}
    assert set(order_deliveries) == {"orders/create", "inventory_levels/update"}
    order_headers, order_body = order_deliveries["orders/create"]
    assert json.loads(order_body)["line_items"][0]["sku"] == "SOCK"
    assert verify_webhook(SECRET, order_body, order_headers["x-shopify-hmac-sha256"])
    level_headers, _ = order_deliveries["inventory_levels/update"]
    assert level_headers["x-shopify-event-id"] == order_headers["x-shopify-event-id"]
    assert shop.available("SOCK") == 4


def test_verify_webhook_matches_the_reference_vector() -> None:
    body = b'{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6}'
    assert verify_webhook("hush", body, "qienOfUDGdDSvZPD0z6cgrv262O9Tq7ekMF4YZ+pslA=")
    assert not verify_webhook("hush!", body, "qienOfUDGdDSvZPD0z6cgrv262O9Tq7ekMF4YZ+pslA=")


class TestShopifyContract(KeyedConnectorContract):
    harness: ClassVar[str] = "shop"
    wrong_credentials: ClassVar[dict[str, str]] = {"token": "shpat_wrong"}
    refusal: ClassVar[str] = "INVALID_QUANTITY_NEGATIVE"

    def shown(self, sim: Shop, sku: str) -> int:
        return sim.available(sku)

    def pushes(self, sim: Shop) -> list[tuple[str, str]]:
        return [(m["idempotency_key"], "replayed" if m["replayed"] else "applied")
                for m in sim.requests("inventorySetQuantities")]

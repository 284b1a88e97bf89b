"""A stock change reaches every channel, exactly, through failures and throttling."""

from __future__ import annotations

import httpx
import sqlalchemy as sa

from tests.conftest import METRICS_HEADERS, LiveServer, seed
from tests.e2e.conftest import GENERIC_SECRET, SHOPIFY_TOKEN, Sims, add_channels, eventually


def test_a_movement_reaches_both_channels_with_the_right_value(
        client: httpx.Client, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 10, "NYC": 4}, "TEE-2": {"WH": 3}})
    sims.add_products(["TEE-1", "TEE-2"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: sims.shopify_available("TEE-1") == 10, what="initial sync to Shopify")
    eventually(lambda: sims.generic_quantities().get("TEE-2") == 3, what="initial generic")
    r = client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                           "quantity": 2})
    assert r.status_code == 201
    eventually(lambda: sims.shopify_available("TEE-1") == 8, what="sale on Shopify")
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 8, what="sale on portal")
    status = client.get("/v1/channels/shop").json()["status"]
    assert status["pending"] == 0 and status["last_push_at"] is not None
    assert status["cursor"] == status["head"]


def test_a_deleted_item_goes_to_zero_and_comes_back_on_restore(
        client: httpx.Client, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 5}})
    sims.add_products(["TEE-1"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 5)
    client.delete("/v1/items/TEE-1")
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 0, what="deleted -> 0")
    eventually(lambda: sims.shopify_available("TEE-1") == 0, what="deleted -> 0 on Shopify")
    client.post("/v1/items/TEE-1/restore")
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 5, what="restored")


def test_rules_shape_what_each_channel_shows(client: httpx.Client, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 40, "NYC": 10}, "HAT-1": {"WH": 7}})
    sims.add_products(["TEE-1", "HAT-1"])
    add_channels(client, sims, ["WH", "NYC"], shopify_rules={
        "safety_buffer": 2, "allocation_percent": 50, "max_quantity": 20,
        "include": ["TEE-*"]})
    eventually(lambda: sims.shopify_available("TEE-1") == 20, what="(50-2)*50% capped at 20")
    eventually(lambda: sims.generic_quantities() == {"TEE-1": 50, "HAT-1": 7})
    assert sims.shopify_available("HAT-1") == 0  # filtered out: never pushed
    r = client.patch("/v1/channels/shop", json={"rules": {"safety_buffer": 45}})
    assert r.status_code == 200, r.text
    eventually(lambda: sims.shopify_available("TEE-1") == 5, what="rules change re-syncs")


def test_a_channel_that_fails_catches_up_while_the_other_keeps_flowing(
        client: httpx.Client, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 50}})
    sims.add_products(["TEE-1"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 50)
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": True})
    for _ in range(5):
        client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                           "quantity": 3})
    eventually(lambda: sims.shopify_available("TEE-1") == 35, what="Shopify keeps flowing")
    assert sims.generic_quantities()["TEE-1"] == 50
    eventually(lambda: client.get("/v1/channels/portal").json()["status"]["last_error"]
               is not None, what="the failure is visible")
    assert client.get("/v1/channels/portal").json()["status"]["pending"] == 1
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": False, "fail_next_n": 2})
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 35, timeout=40,
               what="the portal catches up to the exact final value")


def test_under_a_throttled_shop_the_connector_waits_and_converges(
        client: httpx.Client, sims: Sims) -> None:
    skus = [f"SKU-{i:03d}" for i in range(60)]
    seed(client, {sku: {"WH": 100} for sku in skus})
    sims.add_products(skus)
    httpx.post(sims.shopify.url + "/_sim/faults",
               json={"maximum_available": 100, "restore_rate": 50})
    add_channels(client, sims, ["WH"])
    for i, sku in enumerate(skus * 2):
        client.post("/v1/movements", json={"type": "sale", "sku": sku, "location": "WH",
                                           "quantity": 1 + i % 3})
    expected = {sku: 100 - (1 + i % 3) - (1 + (i + 60) % 3) for i, sku in enumerate(skus)}
    eventually(lambda: all(sims.shopify_available(s) == q for s, q in expected.items()),
               timeout=60, what="convergence under throttling")
    assert sims.shopify_state()["throttled_count"] <= 2  # transient at most


def test_credentials_are_write_only_and_encrypted_at_rest(
        server: LiveServer, client: httpx.Client, sims: Sims) -> None:
    add_channels(client, sims, ["WH"]) if client.put(
        "/v1/locations/WH", json={"name": "WH"}).status_code in (200, 201) else None
    for body in (client.get("/v1/channels").text, client.get("/v1/channels/shop").text,
                 client.get("/v1/channels/portal").text):
        assert SHOPIFY_TOKEN not in body and GENERIC_SECRET not in body
    assert client.get("/v1/channels/shop").json()["has_credentials"] is True
    with server.svc.engine.connect() as conn:
        raw = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM channels"))
                       for v in row)
    assert SHOPIFY_TOKEN not in raw and GENERIC_SECRET not in raw


def test_propagation_is_measured_in_metrics(server: LiveServer, client: httpx.Client,
                                            sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 5}})
    sims.add_products(["TEE-1"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: sims.shopify_available("TEE-1") == 5)
    text = httpx.get(server.url + "/metrics", headers=METRICS_HEADERS).text
    assert "stocksync_propagation_seconds_count" in text
    assert "stocksync_channel_api_seconds" in text and 'channel="shop"' in text


def test_bad_channel_input_is_refused_with_the_field(client: httpx.Client, sims: Sims) -> None:
    client.put("/v1/locations/WH", json={"name": "WH"})
    base = {"code": "shop", "kind": "shopify", "name": "S", "locations": ["WH"],
            "settings": {"shop_url": sims.shopify.url, "location_id": "1"},
            "credentials": {"access_token": SHOPIFY_TOKEN}}
    r = client.post("/v1/channels", json={**base, "credentials": {}})
    assert r.status_code == 422 and "credentials.access_token" in r.json()["message"]
    r = client.post("/v1/channels", json={**base, "locations": ["NOPE"]})
    assert r.status_code == 422 and r.json()["details"]["location"] == "NOPE"
    r = client.post("/v1/channels", json={**base, "kind": "carrier-pigeon"})
    assert r.status_code == 422
    assert client.post("/v1/channels", json=base).status_code == 201
    assert client.post("/v1/channels", json=base).status_code == 422
    assert client.get("/v1/channels/nope").status_code == 404

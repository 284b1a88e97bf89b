"""Two Shopify stores synced both ways through stocksync settle and never ping-pong; a
Shopify order placed in a store is sold in the ledger and reaches the other store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig
from tests.conftest import LiveServer, seed, settle
from tests.e2e.conftest import SHOPIFY_TOKEN, eventually

WEBHOOK_SECRET = "shopify-client-secret"


@dataclass
class Store:
    sim: ServerThread
    location: str

    def available(self, sku: str) -> int | None:
        state = httpx.get(self.sim.url + "/_sim/state").json()
        return state["available"].get(sku, {}).get(self.location)

    def mutations(self) -> int:
        return sum(r["kind"] == "mutation" for r in httpx.get(
            self.sim.url + "/_sim/requests").json())

    def webhooks(self) -> int:
        return len(httpx.get(self.sim.url + "/_sim/webhooks").json()["deliveries"])


@pytest.fixture
def stores(server: LiveServer, client: httpx.Client) -> Iterator[tuple[Store, Store]]:
    seed(client, {"TEE-1": {"WH": 10}})
    config = ShopifySimConfig(access_token=SHOPIFY_TOKEN, webhook_retry_scale=0.0001)
    with ServerThread(shopify_app(config)) as a, ServerThread(shopify_app(config)) as b:
        made = []
        for code, sim in (("store-a", a), ("store-b", b)):
            location = str(httpx.get(sim.url + "/_sim/state").json()["locations"][0]["id"])
            httpx.post(sim.url + "/_sim/products", json={"sku": "TEE-1",
                                                         "quantities": {location: 0}})
            r = client.post("/v1/channels", json={
                "code": code, "kind": "shopify", "name": code, "locations": ["WH"],
                "settings": {"shop_url": sim.url, "location_id": location},
                "credentials": {"access_token": SHOPIFY_TOKEN,
                                "webhook_secret": WEBHOOK_SECRET},
                "rules": {"external_changes": "accept"}})
            assert r.status_code == 201, r.text
            httpx.put(sim.url + "/_sim/webhooks", json={
                "url": server.url + r.json()["webhook_path"], "secret": WEBHOOK_SECRET})
            made.append(Store(sim, location))
        yield made[0], made[1]


def quiet(a: Store, b: Store, seconds: float = 1.5) -> bool:
    """No more pushes or webhooks on either side for `seconds`."""
    before = (a.mutations(), b.mutations(), a.webhooks(), b.webhooks())
    time.sleep(seconds)
    return (a.mutations(), b.mutations(), a.webhooks(), b.webhooks()) == before


def test_an_edit_in_one_store_reaches_the_other_and_nothing_ping_pongs(
        server: LiveServer, client: httpx.Client, stores: tuple[Store, Store]) -> None:
    a, b = stores
    eventually(lambda: a.available("TEE-1") == 10 and b.available("TEE-1") == 10,
               what="initial sync")
    r = httpx.put(a.sim.url + "/_sim/inventory/TEE-1", json={"available": 7})
    assert r.status_code == 200, r.text
    eventually(lambda: b.available("TEE-1") == 7, what="the edit reaches store B")
    eventually(lambda: client.get("/v1/stock/TEE-1").json()["on_hand"] == 7)
    eventually(lambda: quiet(a, b), timeout=20, what="both sides to settle")
    assert a.available("TEE-1") == 7 and b.available("TEE-1") == 7
    settle(server.svc)
    adjustments = client.get("/v1/events", params={"type": "stock.adjusted"}).json()["events"]
    assert [e["quantity"] for e in adjustments] == [-3]  # accepted once, echoes ignored
    assert adjustments[0]["source"] == "shopify:store-a"


def test_an_order_in_a_store_is_sold_once_and_reaches_the_other(
        server: LiveServer, client: httpx.Client, stores: tuple[Store, Store]) -> None:
    a, b = stores
    eventually(lambda: a.available("TEE-1") == 10 and b.available("TEE-1") == 10)
    r = httpx.post(b.sim.url + "/_sim/orders", json={"line_items": [{"sku": "TEE-1",
                                                                      "quantity": 2}]})
    assert r.status_code == 201, r.text
    eventually(lambda: client.get("/v1/stock/TEE-1").json()["on_hand"] == 8,
               what="the order is sold in the ledger")
    eventually(lambda: a.available("TEE-1") == 8, what="store A shows it")
    eventually(lambda: quiet(a, b), timeout=20)
    assert client.get("/v1/stock/TEE-1").json()["on_hand"] == 8
    assert b.available("TEE-1") == 8
    settle(server.svc)
    sold = client.get("/v1/events", params={"type": "stock.sold"}).json()["events"]
    assert len(sold) == 1 and sold[0]["source"] == "shopify:store-b"

"""One POS sale reaches all six channel types; under sustained load no simulator records a
limit violation (rate limits, eBay's revision cap, Amazon's feed cadence)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from stocksync.simulators import amazon, ebay, square, woocommerce
from stocksync.simulators.amazon_state import AmazonSimConfig
from stocksync.simulators.server import ServerThread
from tests.conftest import LiveServer, seed
from tests.e2e.conftest import Sims, add_channels, eventually

SKUS = [f"MK-{i:02d}" for i in range(6)]


@dataclass
class Market:
    code: str
    sim: ServerThread
    shown: Callable[[dict[str, Any], str], int | None]

    def quantity(self, sku: str) -> int | None:
        return self.shown(httpx.get(self.sim.url + "/_sim/state").json(), sku)

    def violations(self) -> dict[str, Any]:
        return httpx.get(self.sim.url + "/_sim/violations").json()


@pytest.fixture
def markets(client: httpx.Client) -> Iterator[list[Market]]:
    client.put("/v1/locations/NYC", json={"name": "New York"})
    with ExitStack() as stack:
        sims = {
            "ebay": stack.enter_context(ServerThread(ebay.create_app())),
            "amazon": stack.enter_context(ServerThread(amazon.create_app(
                AmazonSimConfig(feed_processing_delay_s=0.2)))),
            "woo": stack.enter_context(ServerThread(woocommerce.create_app())),
            "square": stack.enter_context(ServerThread(square.create_app())),
        }
        for sim in sims.values():
            for sku in SKUS:
                assert httpx.post(sim.url + "/_sim/items",
                                  json={"sku": sku, "quantity": 0}).status_code == 201
        channels = [
            ("ebay-us", "ebay", {"api_url": sims["ebay"].url},
             {"client_id": "stocksync-sim-app", "client_secret": "stocksync-sim-cert",
              "refresh_token": "v^1.1#i^1#stocksync-sim-refresh"}),
            ("amazon-us", "amazon", {"endpoint": sims["amazon"].url,
                                     "token_url": sims["amazon"].url + "/auth/o2/token",
                                     "seller_id": "A1STOCKSYNCSIM",
                                     "marketplace_id": "ATVPDKIKX0DER"},
             {"lwa_client_id": "amzn1.application-oa2-client.stocksyncsim",
              "lwa_client_secret": "stocksync-sim-client-secret",
              "refresh_token": "Atzr|stocksync-sim-refresh-token"}),
            ("woo", "woocommerce", {"store_url": sims["woo"].url},
             {"consumer_key": "ck_stocksync_simulator",
              "consumer_secret": "cs_stocksync_simulator"}),
            ("square", "square", {"base_url": sims["square"].url,
                                  "location_id": "LSTOCKSYNC001"},
             {"access_token": "EAAAEstocksyncSimulatorAccessToken"}),
        ]
        for code, kind, settings, credentials in channels:
            r = client.post("/v1/channels", json={
                "code": code, "kind": kind, "name": code, "locations": ["NYC"],
                "settings": settings, "credentials": credentials})
            assert r.status_code == 201, r.text
        yield [
            Market("ebay-us", sims["ebay"],
                   lambda s, sku: s["items"].get(sku, {}).get("quantity")),
            Market("amazon-us", sims["amazon"], lambda s, sku: s["quantities"].get(sku)),
            Market("woo", sims["woo"], lambda s, sku: s["quantities"].get(sku)),
            Market("square", sims["square"],
                   lambda s, sku: s["quantities"].get(sku, {}).get("LSTOCKSYNC001")),
        ]


def pos_sale(server: LiveServer, client: httpx.Client, lines: list[tuple[str, int]],
             txn: str) -> None:
    r = client.get("/v1/channels/till")
    if r.status_code == 404:
        client.post("/v1/channels", json={
            "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
            "settings": {"store.1": "NYC"}, "credentials": {"webhook_secret": "s"}})
        r = client.get("/v1/channels/till")
    body = json.dumps({"event": "POS_TRANSACTION_COMPLETE",
                       "timestamp": datetime.now(UTC).isoformat(),
                       "store_id": "1", "transaction_id": txn,
                       "line_items": [{"sku": s, "quantity_change": q} for s, q in lines]}
                      ).encode()
    signature = hmac.new(b"s", body, hashlib.sha256).hexdigest()
    assert httpx.post(server.url + r.json()["webhook_path"], content=body, headers={
        "X-POS-Signature": f"sha256={signature}"}).status_code == 200


def test_one_pos_sale_reaches_all_six_channel_types(
        server: LiveServer, client: httpx.Client, sims: Sims, markets: list[Market]) -> None:
    seed(client, {sku: {"NYC": 20} for sku in SKUS})
    sims.add_products(SKUS)
    add_channels(client, sims, ["NYC"])
    everywhere: list[Callable[[str], int | None]] = [
        sims.shopify_available, lambda s: sims.generic_quantities().get(s),
        *(m.quantity for m in markets)]
    eventually(lambda: all(q(sku) == 20 for q in everywhere for sku in SKUS), timeout=60,
               what="initial sync to six channels")
    pos_sale(server, client, [("MK-03", -3)], "T-six")
    eventually(lambda: all(q("MK-03") == 17 for q in everywhere), timeout=30,
               what="the sale on every channel")
    assert all(q("MK-02") == 20 for q in everywhere)


def test_sustained_load_breaks_no_platform_limit(
        server: LiveServer, client: httpx.Client, markets: list[Market]) -> None:
    seed(client, {sku: {"NYC": 500} for sku in SKUS})
    eventually(lambda: all(m.quantity(sku) == 500 for m in markets for sku in SKUS),
               timeout=60, what="initial sync")
    for i in range(150):
        assert client.post("/v1/movements", json={
            "type": "sale", "sku": SKUS[i % len(SKUS)], "location": "NYC",
            "quantity": 1 + i % 3}).status_code == 201
    expected = {sku: client.get(f"/v1/stock/{sku}").json()["available"] for sku in SKUS}
    eventually(lambda: all(m.quantity(sku) == expected[sku] for m in markets for sku in SKUS),
               timeout=90, what="every marketplace converges on the drops")
    for m in markets:
        v = m.violations()
        assert v["count"] == 0, (m.code, v)
    # An increase can wait on eBay (its daily revision budget); everywhere else it goes.
    client.post("/v1/movements", json={"type": "receive", "sku": "MK-00", "location": "NYC",
                                       "quantity": 10})
    now = expected["MK-00"] + 10
    others = [m for m in markets if m.code != "ebay-us"]
    eventually(lambda: all(m.quantity("MK-00") == now for m in others), timeout=30)
    ebay_market = next(m for m in markets if m.code == "ebay-us")
    assert ebay_market.quantity("MK-00") == expected["MK-00"]  # held back, not lost
    rows = {r["sku"]: r for r in client.get("/v1/channels/ebay-us/skus").json()}
    assert rows["MK-00"]["wanted"] == now and rows["MK-00"]["pushed"] == expected["MK-00"]
    assert all(0 < r["revisions_left_today"] < 250 for r in rows.values())
    # ...while a drop to zero goes at once.
    client.post("/v1/movements", json={"type": "count", "sku": "MK-01", "location": "NYC",
                                       "quantity": 0})
    eventually(lambda: ebay_market.quantity("MK-01") == 0, timeout=30, what="drop to zero")

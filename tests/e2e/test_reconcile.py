"""Drift made behind stocksync's back is found by a dry run, fixed by apply, and the drift
metric follows."""

from __future__ import annotations

import httpx

from tests.conftest import METRICS_HEADERS, LiveServer, Tenant, seed
from tests.e2e.conftest import Sims, add_channels, eventually


def drift_metric(server: LiveServer, tenant: Tenant, channel: str) -> float | None:
    for line in httpx.get(server.url + "/metrics", headers=METRICS_HEADERS).text.splitlines():
        if line.startswith("stocksync_channel_drift_ratio{") and \
                f'channel="{channel}"' in line and f'tenant="{tenant.id}"' in line:
            return float(line.split()[-1])
    return None


def test_drift_is_reported_exactly_then_fixed_by_apply(server: LiveServer,
                                                       client: httpx.Client, tenant: Tenant,
                                                       sims: Sims) -> None:
    skus = ["A-1", "A-2", "A-3", "A-4"]
    seed(client, {sku: {"WH": 10} for sku in skus})
    client.put("/v1/items/GONE-1", json={})
    client.post("/v1/movements", json={"type": "receive", "sku": "GONE-1", "location": "WH",
                                       "quantity": 3})
    sims.add_products([*skus, "GONE-1", "STRANGER-9"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: all(sims.shopify_available(s) == 10 for s in skus)
               and sims.shopify_available("GONE-1") == 3, what="initial sync")
    client.delete("/v1/items/GONE-1")
    eventually(lambda: sims.shopify_available("GONE-1") == 0, what="deleted SKU goes to 0")
    # Behind stocksync's back (no webhooks here, so stocksync cannot know): two wrong
    # quantities, and the deleted SKU put back on sale.
    httpx.put(sims.shopify.url + "/_sim/inventory/GONE-1", json={"available": 3})
    httpx.put(sims.shopify.url + "/_sim/inventory/A-2", json={"available": 7})
    httpx.put(sims.shopify.url + "/_sim/inventory/A-4", json={"available": 12})

    dry = client.post("/v1/channels/shop/reconcile")
    assert dry.status_code == 201, dry.text
    report = dry.json()
    assert report["mode"] == "dry_run" and report["error"] is None
    assert report["mismatches"] == [{"sku": "A-2", "expected": 10, "actual": 7},
                                    {"sku": "A-4", "expected": 10, "actual": 12}]
    assert report["status_mismatches"] == [{"sku": "GONE-1", "expected": 0, "actual": 3}]
    assert report["untracked"] == ["STRANGER-9"]
    assert report["missing"] == [] and report["compared"] == 5
    assert report["drift_rate"] == 3 / 5
    assert drift_metric(server, tenant, "shop") == 3 / 5
    assert sims.shopify_available("A-2") == 7  # a dry run changes nothing
    stored = client.get(f"/v1/reconciliations/{report['id']}").json()
    assert stored["mismatches"] == report["mismatches"]

    applied = client.post("/v1/channels/shop/reconcile", params={"apply": "true"}).json()
    assert applied["applied"] == 3
    assert [sims.shopify_available(s) for s in ("A-2", "A-4", "GONE-1")] == [10, 10, 0]
    again = client.post("/v1/channels/shop/reconcile").json()
    assert again["mismatches"] == [] and again["status_mismatches"] == []
    assert drift_metric(server, tenant, "shop") == 0.0


def test_missing_listings_are_reported(server: LiveServer, client: httpx.Client,
                                       sims: Sims) -> None:
    seed(client, {"HERE-1": {"WH": 2}, "HERE-2": {"WH": 2}})
    sims.add_products(["HERE-1"])
    add_channels(client, sims, ["WH"])
    report = client.post("/v1/channels/shop/reconcile").json()
    assert report["missing"] == ["HERE-2"]
    assert client.post("/v1/channels/portal/reconcile").status_code == 201

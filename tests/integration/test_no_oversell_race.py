"""Concurrent buyers of one SKU never take more than there is, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer, Tenant, seed, settle

ON_HAND = 50
RESERVATIONS = 200
SALES = 100


def test_200_reservations_and_100_sales_race_for_50_units(server: LiveServer,
                                                           client: httpx.Client,
                                                           tenant: Tenant) -> None:
    seed(client, {"HOT": {"WH": ON_HAND}})
    calls = (["reserve"] * RESERVATIONS) + (["sale"] * SALES)
    random.Random(7).shuffle(calls)
    local = threading.local()
    lowest_seen = [ON_HAND]

    def call(kind: str) -> int:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=server.url, headers=tenant.headers, timeout=60)
        c: httpx.Client = local.c
        if kind == "reserve":
            r = c.post("/v1/reservations", json={"sku": "HOT", "quantity": 1, "location": "WH"})
        else:
            r = c.post("/v1/movements", json={"type": "sale", "sku": "HOT", "location": "WH",
                                              "quantity": 1})
        assert r.status_code in (201, 409), r.text
        if r.status_code == 409:
            assert r.json()["error"] == "insufficient_stock"
            assert r.json()["details"]["available"] >= 0
        else:
            lowest_seen[0] = min(lowest_seen[0], c.get("/v1/stock/HOT").json()["available"])
        return r.status_code

    with ThreadPoolExecutor(max_workers=48) as pool:
        statuses = list(pool.map(call, calls))
    taken = statuses.count(201)
    assert taken == ON_HAND
    stock = client.get("/v1/stock/HOT").json()
    assert stock["available"] == 0 and lowest_seen[0] >= 0
    sold = ON_HAND - stock["on_hand"]  # sales leave on_hand; holds stay in it as reserved
    assert sold + stock["reserved"] == ON_HAND
    settle(server.svc)
    report = server.svc.verify()
    assert report.ok, [m.describe() for m in report.mismatches]
    events = client.get("/v1/events", params={"limit": 1000}).json()["events"]
    moved = sum(e["quantity"] for e in events if e["type"] in ("stock.reserved", "stock.sold"))
    assert moved == ON_HAND

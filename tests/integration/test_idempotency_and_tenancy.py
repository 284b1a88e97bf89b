"""Idempotency-Key semantics and tenant isolation, on both databases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer, Tenant, new_tenant, seed, settle


def test_same_key_same_body_returns_the_original_response_once(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 10}})
    body = {"sku": "SKU-1", "quantity": 2, "location": "WH"}
    first = client.post("/v1/reservations", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/reservations", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/v1/stock/SKU-1").json()["reserved"] == 2


def test_same_key_with_a_different_body_is_422(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 10}})
    h = {"Idempotency-Key": "k-2"}
    client.post("/v1/movements", json={"type": "sale", "sku": "SKU-1", "location": "WH",
                                       "quantity": 1}, headers=h)
    r = client.post("/v1/movements", json={"type": "sale", "sku": "SKU-1", "location": "WH",
                                           "quantity": 2}, headers=h)
    assert r.status_code == 422 and r.json()["error"] == "idempotency_key_reused"
    assert client.get("/v1/stock/SKU-1").json()["on_hand"] == 9


def test_a_refusal_is_replayed_too(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 1}})
    h = {"Idempotency-Key": "k-3"}
    body = {"type": "sale", "sku": "SKU-1", "location": "WH", "quantity": 2}
    assert client.post("/v1/movements", json=body, headers=h).status_code == 409
    client.post("/v1/movements", json={"type": "receive", "sku": "SKU-1", "location": "WH",
                                       "quantity": 5})
    again = client.post("/v1/movements", json=body, headers=h)
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") == "true"


def test_twenty_concurrent_requests_with_one_key_have_one_effect(
        server: LiveServer, client: httpx.Client, tenant: Tenant) -> None:
    seed(client, {"SKU-1": {"WH": 100}})
    body = {"type": "sale", "sku": "SKU-1", "location": "WH", "quantity": 3}

    def send(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, headers=tenant.headers, timeout=30) as c:
            return c.post("/v1/movements", json=body, headers={"Idempotency-Key": "burst"})

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(send, range(20)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.text for r in responses}) == 1
    assert client.get("/v1/stock/SKU-1").json()["on_hand"] == 97
    settle(server.svc)
    sales = client.get("/v1/events", params={"type": "stock.sold"}).json()["events"]
    assert len(sales) == 1


def test_tenant_b_can_neither_read_nor_change_tenant_a(server: LiveServer,
                                                       client: httpx.Client) -> None:
    seed(client, {"SKU-A": {"WH": 5}})
    res = client.post("/v1/reservations", json={"sku": "SKU-A", "quantity": 1}).json()
    settle(server.svc)
    other = new_tenant(server.svc, "other")
    with httpx.Client(base_url=server.url, headers=other.headers, timeout=30) as b:
        assert b.get("/v1/items/SKU-A").status_code == 404
        assert b.get("/v1/stock/SKU-A").status_code == 404
        assert b.get("/v1/stock", params={"sku": "SKU-A"}).json()["items"] == []
        assert b.get("/v1/events").json()["events"] == []
        assert b.get(f"/v1/reservations/{res['id']}").status_code == 404
        assert b.post(f"/v1/reservations/{res['id']}/release").status_code == 404
        assert b.delete("/v1/items/SKU-A").status_code == 404
        r = b.post("/v1/movements", json={"type": "sale", "sku": "SKU-A", "location": "WH",
                                          "quantity": 1})
        assert r.status_code == 404
        assert b.get("/v1/locations").json() == []
        # B's own key for the same Idempotency-Key does not see A's stored response
        h = {"Idempotency-Key": "shared"}
        client.put("/v1/locations/WH2", json={"name": "A's"}, headers=h)
        assert b.put("/v1/locations/WH2", json={"name": "B's"}, headers=h).status_code == 201
    assert client.get("/v1/stock/SKU-A").json() | {} and \
        client.get("/v1/stock/SKU-A").json()["reserved"] == 1
    assert client.get(f"/v1/reservations/{res['id']}").json()["status"] == "active"
    assert {loc["name"] for loc in client.get("/v1/locations").json()} == {"WH", "A's"}


def test_keys_older_than_the_retention_are_purged_and_younger_ones_kept(
        server: LiveServer, client: httpx.Client) -> None:
    from datetime import timedelta

    from stocksync.bootstrap import sql_service

    client.put("/v1/locations/WH", json={"name": "WH"}, headers={"Idempotency-Key": "old"})
    svc = server.svc
    hours = svc.settings.idempotency_ttl_hours
    assert hours >= 24
    later = sql_service(svc.engine, svc.settings, lambda: svc.clock() + timedelta(hours=hours - 1))
    assert later.purge_idempotency_keys() == 0
    much_later = sql_service(svc.engine, svc.settings,
                           lambda: svc.clock() + timedelta(hours=hours + 1))
    assert much_later.purge_idempotency_keys() == 1

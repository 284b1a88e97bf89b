"""The v1 HTTP contract for items, locations, movements and stock, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import httpx

from tests.conftest import LiveServer, seed, settle


def test_health_needs_no_key_and_reports_the_database(server: LiveServer) -> None:
    r = httpx.get(server.url + "/v1/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_is_published_with_the_v1_paths(server: LiveServer) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    for path in ("/v1/movements", "/v1/reservations", "/v1/reservations/{reservation_id}/commit",
                 "/v1/stock", "/v1/events", "/v1/items/{sku}", "/v1/locations/{code}"):
        assert path in paths, path


def test_item_is_created_replaced_soft_deleted_and_restored(client: httpx.Client) -> None:
    body = {"title": "Crew Tee", "brand": "Northwind", "barcodes": ["4006381333931"],
            "images": [{"url": "https://img.example/tee.jpg", "alt": "tee"}],
            "price": "24.00", "compare_at_price": "30.00", "currency": "USD",
            "attributes": {"fit": "regular"}}
    r = client.put("/v1/items/TEE-1", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["barcodes"] == ["4006381333931"]
    assert client.put("/v1/items/TEE-1", json={**body, "title": "Crew Tee 2"}).status_code == 200
    assert client.get("/v1/items/TEE-1").json()["title"] == "Crew Tee 2"
    r = client.delete("/v1/items/TEE-1")
    assert r.status_code == 200 and r.json()["deleted"] is True
    assert [i["sku"] for i in client.get("/v1/items").json()] == []
    assert client.get("/v1/items/TEE-1").json()["deleted"] is True
    r = client.post("/v1/items/TEE-1/restore")
    assert r.status_code == 200 and r.json()["deleted"] is False
    types = [e["type"] for e in _events(client)]
    assert types == ["item.deleted", "item.restored"]


def _events(client: httpx.Client) -> list[dict[str, object]]:
    settle(client.app_svc)  # type: ignore[attr-defined]
    return client.get("/v1/events", params={"limit": 1000}).json()["events"]


def test_bad_item_input_is_refused_with_the_field_named(client: httpx.Client) -> None:
    r = client.put("/v1/items/TEE-1", json={"barcodes": ["4006381333932"]})
    assert r.status_code == 422
    assert r.json()["error"] == "validation_error"
    assert r.json()["details"]["errors"][0]["field"].startswith("barcodes")
    r = client.put("/v1/items/BAD%20SKU", json={})
    assert r.status_code == 422
    r = client.put("/v1/items/TEE-1", json={"titel": "typo"})
    assert r.status_code == 422 and r.json()["details"]["errors"][0]["field"] == "titel"


def test_movements_change_stock_and_a_transfer_moves_both_legs(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 10, "NYC": 0}})
    moves = [
        {"type": "adjust", "sku": "SKU-1", "location": "WH", "quantity": -2, "reason": "damaged"},
        {"type": "sale", "sku": "SKU-1", "location": "WH", "quantity": 1},
        {"type": "transfer", "sku": "SKU-1", "location": "WH", "to_location": "NYC",
         "quantity": 3},
    ]
    for move in moves:
        r = client.post("/v1/movements", json=move)
        assert r.status_code == 201, r.text
    stock = client.get("/v1/stock/SKU-1").json()
    per = {lv["location"]: lv["on_hand"] for lv in stock["locations"]}
    assert per == {"WH": 4, "NYC": 3}
    assert stock["available"] == 7


def test_a_count_sets_on_hand_and_an_older_count_is_recorded_as_a_conflict(
        client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 10}})
    newer = {"type": "count", "sku": "SKU-1", "location": "WH", "quantity": 7,
             "occurred_at": "2026-01-02T10:00:00Z"}
    assert client.post("/v1/movements", json=newer).status_code == 201
    older = {**newer, "quantity": 99, "occurred_at": "2026-01-01T10:00:00Z"}
    r = client.post("/v1/movements", json=older)
    assert r.status_code == 409 and r.json()["error"] == "stale_update"
    assert client.get("/v1/stock/SKU-1").json()["on_hand"] == 7
    events = _events(client)
    assert events[-1]["type"] == "conflict.detected"
    version = client.get("/v1/stock/SKU-1").json()["locations"][0]["version"]
    r = client.post("/v1/movements", json={**newer, "occurred_at": "2026-01-03T00:00:00Z",
                                           "expected_version": version - 1})
    assert r.status_code == 409
    r = client.post("/v1/movements", json={**newer, "occurred_at": "2026-01-03T00:00:00Z",
                                           "expected_version": version, "quantity": 5})
    assert r.status_code == 201
    assert client.get("/v1/stock/SKU-1").json()["on_hand"] == 5


def test_bad_movements_get_4xx_and_leave_the_ledger_unchanged(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 5}})
    before = _events(client)
    cases = [
        ({"type": "sale", "sku": "NOPE", "location": "WH", "quantity": 1}, 404, "unknown_sku"),
        ({"type": "sale", "sku": "SKU-1", "location": "XX", "quantity": 1}, 404,
         "unknown_location"),
        ({"type": "sale", "sku": "SKU-1", "location": "WH", "quantity": 0}, 422, None),
        ({"type": "receive", "sku": "SKU-1", "location": "WH", "quantity": -3}, 422, None),
        ({"type": "sale", "sku": "SKU-1", "location": "WH", "quantity": 6}, 409,
         "insufficient_stock"),
        ({"type": "teleport", "sku": "SKU-1", "location": "WH", "quantity": 1}, 422, None),
        ({"type": "sale", "sku": "SKU-1", "location": "WH"}, 422, None),
    ]
    for body, status, code in cases:
        r = client.post("/v1/movements", json=body)
        assert r.status_code == status, (body, r.text)
        assert set(r.json()) == {"error", "message", "details"}
        if code:
            assert r.json()["error"] == code
    r = client.post("/v1/movements", content=b'{"type": "sale",',
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"
    r = client.post("/v1/movements", content=b"x" * (2 * 1024 * 1024),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert _events(client) == before
    assert client.get("/v1/stock/SKU-1").json()["available"] == 5


def test_insufficient_stock_reports_the_current_available(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 3}})
    r = client.post("/v1/movements", json={"type": "sale", "sku": "SKU-1", "location": "WH",
                                           "quantity": 4})
    assert r.status_code == 409
    assert r.json()["details"]["available"] == 3


def test_wrong_or_missing_key_is_401(server: LiveServer, client: httpx.Client) -> None:
    for headers in ({}, {"Authorization": "Bearer sk_wrong"}, {"Authorization": "Basic x"}):
        r = httpx.get(server.url + "/v1/items", headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_stock_read_of_many_skus_and_as_of_history(client: httpx.Client) -> None:
    seed(client, {"A": {"WH": 5}, "B": {"WH": 2}})
    settle(client.app_svc)  # type: ignore[attr-defined]
    head = client.get("/v1/stock", params={"sku": ["A"]}).json()["as_of_sequence"]
    time.sleep(0.01)
    client.post("/v1/movements", json={"type": "sale", "sku": "A", "location": "WH",
                                       "quantity": 2})
    settle(client.app_svc)  # type: ignore[attr-defined]
    r = client.get("/v1/stock", params={"sku": ["A", "B", "ZZZ"]}).json()
    assert {i["sku"]: i["available"] for i in r["items"]} == {"A": 3, "B": 2}
    assert r["unknown"] == ["ZZZ"] and r["as_of_sequence"] == head + 1
    past = client.get("/v1/stock/A", params={"as_of_sequence": head}).json()
    assert past["on_hand"] == 5 and past["as_of_sequence"] == head
    r = client.get("/v1/stock/A", params={"as_of_sequence": head + 100})
    assert r.status_code == 422


def test_events_page_after_a_position(client: httpx.Client) -> None:
    seed(client, {"A": {"WH": 1}})
    for _ in range(5):
        client.post("/v1/movements", json={"type": "receive", "sku": "A", "location": "WH",
                                           "quantity": 1})
    settle(client.app_svc)  # type: ignore[attr-defined]
    first = client.get("/v1/events", params={"after": 0, "limit": 4}).json()
    rest = client.get("/v1/events", params={"after": first["next_after"]}).json()
    seqs = [e["sequence"] for e in first["events"] + rest["events"]]
    assert seqs == list(range(1, 7)) and rest["head"] == 6
    assert client.app_svc.verify().ok  # type: ignore[attr-defined]

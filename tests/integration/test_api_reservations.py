"""Reservations over HTTP: hold, commit, release, expire, pick a location; on both databases."""

from __future__ import annotations

import time

import httpx

from tests.conftest import seed, settle


def _stock(client: httpx.Client, sku: str) -> dict[str, int]:
    s = client.get(f"/v1/stock/{sku}").json()
    return {"on_hand": s["on_hand"], "reserved": s["reserved"], "available": s["available"]}


def test_a_reservation_holds_stock_and_commit_takes_it_out(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 10}})
    r = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 3, "location": "WH",
                                              "kind": "checkout"})
    assert r.status_code == 201, r.text
    res = r.json()
    assert res["status"] == "active" and res["location"] == "WH"
    assert _stock(client, "SKU-1") == {"on_hand": 10, "reserved": 3, "available": 7}
    r = client.post(f"/v1/reservations/{res['id']}/commit")
    assert r.status_code == 200 and r.json()["status"] == "committed"
    assert _stock(client, "SKU-1") == {"on_hand": 7, "reserved": 0, "available": 7}
    # committing again is harmless; releasing a committed hold is refused
    assert client.post(f"/v1/reservations/{res['id']}/commit").json()["status"] == "committed"
    r = client.post(f"/v1/reservations/{res['id']}/release")
    assert r.status_code == 409 and r.json()["error"] == "reservation_not_active"
    assert _stock(client, "SKU-1")["on_hand"] == 7


def test_release_gives_the_stock_back(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 4}})
    res = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 4}).json()
    assert client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 1}).status_code == 409
    assert client.post(f"/v1/reservations/{res['id']}/release").json()["status"] == "released"
    assert _stock(client, "SKU-1") == {"on_hand": 4, "reserved": 0, "available": 4}
    assert client.get(f"/v1/reservations/{res['id']}").json()["status"] == "released"


def test_reserving_more_than_available_is_refused_with_available(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 2, "NYC": 3}})
    r = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 4})
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "insufficient_stock" and body["details"]["available"] == 3


def test_without_a_location_the_one_with_most_available_is_picked(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 2, "NYC": 5}})
    first = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 2}).json()
    assert first["location"] == "NYC"
    second = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 2}).json()
    assert second["location"] in ("NYC", "WH")
    third = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 2})
    assert third.status_code == 201


def test_a_one_second_hold_expires_within_two_seconds(client: httpx.Client) -> None:
    seed(client, {"SKU-1": {"WH": 5}})
    res = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 5,
                                                "ttl_seconds": 1}).json()
    assert _stock(client, "SKU-1")["available"] == 0
    start = time.monotonic()
    expired_event = None
    while time.monotonic() - start < 2.0 and expired_event is None:
        time.sleep(0.05)
        settle(client.app_svc)  # type: ignore[attr-defined]
        events = client.get("/v1/events", params={"type": "stock.expired"}).json()["events"]
        expired_event = events[0] if events else None
    assert expired_event is not None, "no stock.expired event within 2 s of a 1 s TTL"
    assert expired_event["data"]["reservation_id"] == res["id"]
    assert client.get(f"/v1/reservations/{res['id']}").json()["status"] == "expired"
    assert _stock(client, "SKU-1") == {"on_hand": 5, "reserved": 0, "available": 5}
    r = client.post(f"/v1/reservations/{res['id']}/commit")
    assert r.status_code == 409


def test_reads_never_count_an_expired_hold_even_before_the_expirer(
        svc_without_workers_client: httpx.Client) -> None:
    client = svc_without_workers_client
    seed(client, {"SKU-1": {"WH": 3}})
    res = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 3,
                                                "ttl_seconds": 1}).json()
    time.sleep(1.1)
    assert _stock(client, "SKU-1")["available"] == 3
    assert client.get(f"/v1/reservations/{res['id']}").json()["status"] == "expired"
    # and a new hold may take that stock at once: the due hold is expired on the spot
    r = client.post("/v1/reservations", json={"sku": "SKU-1", "quantity": 3})
    assert r.status_code == 201, r.text
    settle(client.app_svc)  # type: ignore[attr-defined]
    assert client.app_svc.verify().ok  # type: ignore[attr-defined]


def test_unknown_reservation_is_404(client: httpx.Client) -> None:
    assert client.get("/v1/reservations/nope").status_code == 404
    assert client.post("/v1/reservations/nope/commit").status_code == 404

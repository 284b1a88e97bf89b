"""POS webhooks over HTTP: a captured body cannot sell twice, a stale one is refused, and a
sale the merchant can fix (unmapped store, unknown or deleted SKU) is kept and parked, never
lost, then applies once replayed (both databases)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stocksync.ingest.pos import REPLAY_WINDOW, pos_signature
from tests.conftest import LiveServer, seed

SECRET = "till-secret-42"


def eventually(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def body(lines: list[tuple[str, int]], store: str = "12", txn: str | None = None,
         at: datetime | None = None) -> bytes:
    payload: dict[str, Any] = {
        "event": "POS_TRANSACTION_COMPLETE",
        "timestamp": (at or datetime.now(UTC)).isoformat(), "store_id": store,
        "line_items": [{"sku": s, "quantity_change": q} for s, q in lines]}
    if txn:
        payload["transaction_id"] = txn
    return json.dumps(payload).encode()


def send(server: LiveServer, path: str, raw: bytes, delivery: str | None = None
         ) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-POS-Signature": pos_signature(SECRET, raw)}
    if delivery:
        headers["X-POS-Delivery-Id"] = delivery
    return httpx.post(server.url + path, content=raw, headers=headers)


def on_hand(client: httpx.Client, sku: str) -> int:
    return int(client.get(f"/v1/stock/{sku}").json()["on_hand"])


def settled(client: httpx.Client) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = client.get("/v1/inbox").json()
    return rows if rows and all(r["status"] != "pending" for r in rows) else None


@pytest.fixture
def till(client: httpx.Client) -> Iterator[str]:
    seed(client, {"TEE-1": {"NYC": 20}, "OLD-1": {"NYC": 5}})
    r = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "NYC till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"}, "credentials": {"webhook_secret": SECRET}})
    assert r.status_code == 201, r.text
    yield r.json()["webhook_path"]


def test_a_captured_body_resent_with_new_delivery_ids_sells_once(
        server: LiveServer, client: httpx.Client, till: str) -> None:
    raw = body([("TEE-1", -1)])  # no transaction_id
    first = send(server, till, raw, delivery="d-1")
    assert first.json()["status"] == "accepted", first.text
    for forged in ("d-2", "d-3", None):
        again = send(server, till, raw, delivery=forged)
        assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text
    eventually(lambda: settled(client), "the sale applied")
    assert on_hand(client, "TEE-1") == 19


def test_a_body_signed_longer_ago_than_the_replay_window_is_refused(
        server: LiveServer, client: httpx.Client, till: str) -> None:
    stale = body([("TEE-1", -1)], txn="T-old",
                 at=datetime.now(UTC) - REPLAY_WINDOW - timedelta(minutes=1))
    r = send(server, till, stale)
    assert r.status_code == 401 and r.json()["error"] == "invalid_signature"
    assert client.get("/v1/inbox", params={"status": "pending"}).json() == []


def test_an_unmapped_store_is_parked_then_applied_once_mapped_and_replayed(
        server: LiveServer, client: httpx.Client, till: str) -> None:
    r = send(server, till, body([("TEE-1", -2)], store="99", txn="T-99"))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    parked = eventually(lambda: client.get("/v1/inbox", params={"status": "failed"}).json(),
                        "the delivery dead-lettered")
    assert "'store.99'" in parked[0]["last_error"], parked[0]
    assert on_hand(client, "TEE-1") == 20
    fixed = client.patch("/v1/channels/till", json={"settings": {"store.12": "NYC",
                                                                 "store.99": "NYC"}})
    assert fixed.status_code == 200, fixed.text
    assert client.post(f"/v1/inbox/{parked[0]['id']}/replay").status_code == 200
    eventually(lambda: on_hand(client, "TEE-1") == 18, "the replayed sale")


@pytest.mark.parametrize(("sku", "error"), [("NOPE-1", "no item with SKU NOPE-1"),
                                            ("OLD-1", "item OLD-1 is deleted")])
def test_a_sale_of_an_unknown_or_deleted_sku_is_accepted_and_parked(
        server: LiveServer, client: httpx.Client, till: str, sku: str, error: str) -> None:
    assert client.delete("/v1/items/OLD-1").status_code in (200, 204)
    r = send(server, till, body([(sku, -1)], txn=f"T-{sku}"))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    parked = eventually(lambda: client.get("/v1/inbox", params={"status": "failed"}).json(),
                        "the delivery dead-lettered")
    assert error in parked[0]["last_error"]

"""Webhooks in: stored before the ack, applied exactly once, in any order; bad ones refused."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.conftest import METRICS_HEADERS, LiveServer, seed, settle
from tests.e2e.conftest import eventually

POS_SECRET = "till-secret-789"


def pos_body(lines: list[tuple[str, int]], txn: str, store: str = "12") -> bytes:
    return json.dumps({
        "event": "POS_TRANSACTION_COMPLETE", "timestamp": datetime.now(UTC).isoformat(),
        "store_id": store, "transaction_id": txn,
        "line_items": [{"sku": s, "quantity_change": q} for s, q in lines]}).encode()


def pos_headers(body: bytes, secret: str = POS_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-POS-Signature": f"sha256={digest}"}


@pytest.fixture
def pos_path(client: httpx.Client) -> Iterator[str]:
    seed(client, {"TEE-1": {"NYC": 20}, "HAT-1": {"NYC": 5}})
    r = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "NYC till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"}, "credentials": {"webhook_secret": POS_SECRET}})
    assert r.status_code == 201, r.text
    yield r.json()["webhook_path"]


def on_hand(client: httpx.Client, sku: str) -> int:
    return int(client.get(f"/v1/stock/{sku}").json()["on_hand"])


def test_a_pos_sale_is_acknowledged_and_applied(server: LiveServer, client: httpx.Client,
                                                pos_path: str) -> None:
    body = pos_body([("TEE-1", -2), ("HAT-1", -1)], "T-1")
    r = httpx.post(server.url + pos_path, content=body, headers=pos_headers(body))
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text
    eventually(lambda: on_hand(client, "TEE-1") == 18 and on_hand(client, "HAT-1") == 4,
               what="the sale applied")
    settle(server.svc)
    sold = client.get("/v1/events", params={"type": "stock.sold"}).json()["events"]
    assert {e["source"] for e in sold} == {"pos:till"}
    # The delivery is marked done just after its effects commit.
    eventually(lambda: [d["delivery_id"] for d in client.get(
        "/v1/inbox", params={"status": "done"}).json()] == ["T-1"], what="marked done")


def test_each_delivery_replayed_in_shuffled_order_has_exactly_one_effect(
        server: LiveServer, client: httpx.Client, pos_path: str) -> None:
    deliveries = [pos_body([("TEE-1", -1)], f"T-{i}") for i in range(6)]
    deliveries.append(pos_body([("TEE-1", 3)], "T-return"))  # a return: +3
    sends = [d for d in deliveries for _ in range(random.Random(1).randint(2, 9))]
    random.Random(2).shuffle(sends)
    statuses = [httpx.post(server.url + pos_path, content=b, headers=pos_headers(b)).json()
                ["status"] for b in sends]
    assert statuses.count("accepted") == len(deliveries)
    assert statuses.count("duplicate") == len(sends) - len(deliveries)
    eventually(lambda: on_hand(client, "TEE-1") == 20 - 6 + 3, what="7 deliveries applied")
    eventually(lambda: len(client.get("/v1/inbox", params={"status": "done"}).json()) == 7)
    settle(server.svc)
    events = client.get("/v1/events", params={"sku": "TEE-1", "limit": 1000}).json()["events"]
    assert sum(e["type"] == "stock.sold" for e in events) == 6
    assert sum(e["type"] == "stock.adjusted" for e in events) == 1


def bad_signatures(server: LiveServer) -> float:
    for line in httpx.get(server.url + "/metrics", headers=METRICS_HEADERS).text.splitlines():
        if line.startswith('stocksync_webhooks_total{kind="pos",outcome="bad_signature"}'):
            return float(line.split()[-1])
    return 0.0


def test_forged_or_missing_signatures_get_401_and_change_nothing(
        server: LiveServer, client: httpx.Client, pos_path: str) -> None:
    counted_before = bad_signatures(server)
    body = pos_body([("TEE-1", -5)], "T-forged")
    for headers in (pos_headers(body, "wrong-secret"), {"Content-Type": "application/json"},
                    pos_headers(body.replace(b"-5", b"-6"))):
        r = httpx.post(server.url + pos_path, content=body, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "invalid_signature"
    tampered = body.replace(b"-5", b"-9")
    r = httpx.post(server.url + pos_path, content=tampered, headers=pos_headers(body))
    assert r.status_code == 401
    assert client.get("/v1/inbox").json() == []
    assert on_hand(client, "TEE-1") == 20
    assert bad_signatures(server) == counted_before + 4


def test_malformed_bodies_get_4xx_naming_the_field(server: LiveServer, client: httpx.Client,
                                                   pos_path: str) -> None:
    bad = [b"not json", json.dumps({"event": "POS_TRANSACTION_COMPLETE",
                                    "timestamp": datetime.now(UTC).isoformat(), "store_id": "12",
                                    "line_items": [{"sku": "TEE-1",
                                                    "quantity_change": "two"}]}).encode()]
    for body in bad:
        r = httpx.post(server.url + pos_path, content=body, headers=pos_headers(body))
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "malformed_webhook" and r.json()["message"]
    assert "quantity_change" in httpx.post(server.url + pos_path, content=bad[1],
                                           headers=pos_headers(bad[1])).json()["message"]
    assert httpx.post(server.url + "/webhooks/pos/wh_nope", content=bad[0]).status_code == 404
    assert client.get("/v1/inbox").json() == []


def test_a_failing_delivery_is_dead_lettered_and_can_be_replayed_once_fixed(
        server: LiveServer, client: httpx.Client, pos_path: str) -> None:
    body = pos_body([("NEW-1", -1)], "T-unknown")
    assert httpx.post(server.url + pos_path, content=body,
                      headers=pos_headers(body)).status_code == 200
    eventually(lambda: client.get("/v1/inbox", params={"status": "failed"}).json() != [],
               what="dead letter")
    failed = client.get("/v1/inbox", params={"status": "failed"}).json()[0]
    assert "NEW-1" in failed["last_error"]
    seed(client, {"NEW-1": {"NYC": 4}})
    r = client.post(f"/v1/inbox/{failed['id']}/replay")
    assert r.status_code == 200 and r.json()["status"] == "pending"
    eventually(lambda: on_hand(client, "NEW-1") == 3, what="replayed delivery applied")
    client.post(f"/v1/inbox/{failed['id']}/replay")  # replaying again: still one effect
    eventually(lambda: client.get("/v1/inbox", params={"status": "done"}).json() != [])
    assert on_hand(client, "NEW-1") == 3


def test_an_oversold_till_sale_is_recorded_as_a_conflict(server: LiveServer,
                                                         client: httpx.Client,
                                                         pos_path: str) -> None:
    body = pos_body([("HAT-1", -9)], "T-over")
    httpx.post(server.url + pos_path, content=body, headers=pos_headers(body))
    eventually(lambda: client.get("/v1/inbox", params={"status": "failed"}).json() != [])
    settle(server.svc)
    conflicts = client.get("/v1/events", params={"type": "conflict.detected"}).json()["events"]
    assert conflicts and conflicts[0]["data"]["requested"] == 9
    assert on_hand(client, "HAT-1") == 5

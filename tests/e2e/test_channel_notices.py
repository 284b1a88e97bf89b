"""Inventory notices from a channel arrive in any order: a late one changes nothing (the
channel is read again). Applied deliveries are forgotten only after the retention window."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import httpx

from stocksync.bootstrap import sql_service
from stocksync.simulators.server import ServerThread
from stocksync.simulators.square import create_app as square_app
from tests.conftest import LiveServer, seed, settle
from tests.e2e.conftest import eventually

SIGNATURE_KEY = "square-signature-key"


def square_notice(event_id: str, object_id: str, quantity: int, at: str) -> bytes:
    return json.dumps({
        "merchant_id": "MLSTOCKSYNCSIM", "type": "inventory.count.updated",
        "event_id": event_id, "created_at": at,
        "data": {"type": "inventory_counts", "id": event_id, "object": {"inventory_counts": [{
            "calculated_at": at, "catalog_object_id": object_id,
            "catalog_object_type": "ITEM_VARIATION", "location_id": "LSTOCKSYNC001",
            "quantity": str(quantity), "state": "IN_STOCK"}]}}}).encode()


def signed(url: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(SIGNATURE_KEY.encode(), url.encode() + body, hashlib.sha256).digest()
    return {"x-square-hmacsha256-signature": base64.b64encode(digest).decode(),
            "Content-Type": "application/json"}


def connect_square(server: LiveServer, client: httpx.Client, sim: str, sku: str,
                   quantity: int, **extra: object) -> tuple[str, str]:
    """A Square channel for `sku`, pushed to once: (catalog object id, webhook URL)."""
    object_id = httpx.post(sim + "/_sim/items", json={"sku": sku, "quantity": 0}
                           ).json()["catalog_object_id"]
    r = client.post("/v1/channels", json={
        "code": "square", "kind": "square", "name": "Square", "locations": ["WH"],
        "settings": {"base_url": sim, "location_id": "LSTOCKSYNC001"},
        "credentials": {"access_token": "EAAAEstocksyncSimulatorAccessToken",
                        "signature_key": SIGNATURE_KEY}, **extra})
    assert r.status_code == 201, r.text
    eventually(lambda: httpx.get(sim + "/_sim/state").json()["quantities"]
               .get(sku, {}).get("LSTOCKSYNC001") == quantity, what="initial push")
    return object_id, server.url + r.json()["webhook_path"]


def test_an_older_channel_notice_changes_nothing(
        server: LiveServer, client: httpx.Client) -> None:
    seed(client, {"TEE-1": {"WH": 10}})
    with ServerThread(square_app()) as sim:
        object_id, url = connect_square(server, client, sim.url, "TEE-1", 10,
                                        rules={"external_changes": "accept"})
        # The merchant counts 7 in the Square dashboard at 12:00 …
        httpx.put(sim.url + "/_sim/inventory/TEE-1", json={"quantity": 7})
        newer = square_notice("evt-new", object_id, 7, "2026-11-26T12:00:00Z")
        assert httpx.post(url, content=newer, headers=signed(url, newer)).status_code == 200
        eventually(lambda: client.get("/v1/stock/TEE-1").json()["on_hand"] == 7,
                   what="the dashboard change accepted")
        # … and a notice from 11:00 (9 units) arrives late.
        older = square_notice("evt-old", object_id, 9, "2026-11-26T11:00:00Z")
        assert httpx.post(url, content=older, headers=signed(url, older)).status_code == 200

        def applied() -> bool:
            rows = client.get("/v1/inbox", params={"status": "done"}).json()
            return any(r["delivery_id"] == "evt-old" for r in rows)

        # Its value is a hint: Square is read again (7), so the late notice changes nothing
        # and, being explained, is no conflict either. (Only where the channel cannot be
        # read is an older payload recorded as conflict.detected.)
        eventually(applied, what="the late notice processed")
        settle(server.svc)
        assert client.get("/v1/stock/TEE-1").json()["on_hand"] == 7
        assert not client.get("/v1/events", params={"type": "conflict.detected"}
                              ).json()["events"]


def test_the_echo_of_our_own_set_is_not_read_back(
        server: LiveServer, client: httpx.Client) -> None:
    """Every set stocksync makes comes back as a notice: those are recognised from their
    payload without a call, so a backlog of them does not hold up the channel's orders.
    A notice showing anything else is still read back from the channel."""
    seed(client, {"TEE-2": {"WH": 10}})
    with ServerThread(square_app()) as sim:
        object_id, url = connect_square(server, client, sim.url, "TEE-2", 10)
        settle(server.svc)

        def reads() -> int:
            return sum("batch-retrieve" in c["path"] for c in
                       httpx.get(sim.url + "/_sim/requests").json())

        def processed(event_id: str) -> bool:
            rows = client.get("/v1/inbox", params={"status": "done"}).json()
            return any(r["delivery_id"] == event_id for r in rows)

        before = reads()
        echo = square_notice("evt-echo", object_id, 10, "2026-11-26T12:00:00Z")
        assert httpx.post(url, content=echo, headers=signed(url, echo)).status_code == 200
        eventually(lambda: processed("evt-echo"), what="the echo processed")
        assert reads() == before
        # A count nobody explains yet is read back (the channel shows 10: nothing changes).
        other = square_notice("evt-other", object_id, 4, "2026-11-26T12:00:01Z")
        assert httpx.post(url, content=other, headers=signed(url, other)).status_code == 200
        eventually(lambda: processed("evt-other"), what="the other notice processed")
        assert reads() == before + 1
        settle(server.svc)
        assert client.get("/v1/stock/TEE-2").json()["on_hand"] == 10


def test_applied_deliveries_are_forgotten_only_after_the_retention(
        server: LiveServer, client: httpx.Client) -> None:
    from tests.e2e.test_ingestion import pos_body, pos_headers

    seed(client, {"TEE-1": {"NYC": 5}})
    path = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"},
        "credentials": {"webhook_secret": "till-secret-789"}}).json()["webhook_path"]
    body = pos_body([("TEE-1", -1)], "T-keep")
    httpx.post(server.url + path, content=body, headers=pos_headers(body))
    eventually(lambda: len(client.get("/v1/inbox", params={"status": "done"}).json()) == 1)
    svc = server.svc
    hours = svc.settings.inbox_retention_hours
    assert hours >= 48
    soon = sql_service(svc.engine, svc.settings, lambda: svc.clock() + timedelta(hours=47))
    assert soon.purge_inbox() == 0
    assert httpx.post(server.url + path, content=body,
                      headers=pos_headers(body)).json()["status"] == "duplicate"
    later = sql_service(svc.engine, svc.settings,
                      lambda: svc.clock() + timedelta(hours=hours + 1))
    assert later.purge_inbox() == 1
    assert client.get("/v1/inbox").json() == []

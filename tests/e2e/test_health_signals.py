"""Signals a merchant can trust, end to end: a refused webhook signature shows on the channel
and alerts, failed pushes are logged, a channel back from an outage is caught up within
seconds, and a scripted day raises exactly the alerts it should, each once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from tests.conftest import LiveServer, Tenant, new_tenant, seed
from tests.e2e.conftest import GENERIC_SECRET, Sims, add_channels, eventually
from tests.e2e.test_ingestion import POS_SECRET, pos_body, pos_headers
from tests.e2e.test_observability import Receiver, alert_worker

# The scripted day runs 20 times faster than a real one: lag alerts after 3 s (60 s),
# a failing channel after 15 s (300 s), rules checked every 0.25 s (15 s).
SCALE = 20.0


def add_till(client: httpx.Client) -> str:
    r = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "till", "locations": ["WH"],
        "settings": {"store.12": "WH"}, "credentials": {"webhook_secret": POS_SECRET}})
    assert r.status_code == 201, r.text
    return str(r.json()["webhook_path"])


def test_a_wrong_webhook_secret_shows_on_the_channel_and_alerts(
        server: LiveServer, client: httpx.Client, receiver: Receiver) -> None:
    seed(client, {"TEE-1": {"WH": 20}})
    path = add_till(client)
    worker = alert_worker(server.svc, alert_webhook_url=receiver.url)
    assert worker.step() == []
    for _ in range(2):  # the platform retries: every one is refused
        body = pos_body([("TEE-1", -1)], "T-1")
        r = httpx.post(server.url + path, content=body, headers=pos_headers(body, "wrong"))
        assert r.status_code == 401
    status = client.get("/v1/channels/till").json()["status"]
    assert status["webhooks_refused"] == 2 and status["webhook_refused_at"] is not None
    assert status["webhooks_refused_since_accepted"] is True
    assert status["state"] == "degraded"
    started = worker.step()
    assert len(started) == 1 and "refuses webhook deliveries" in started[0], started
    assert worker.step() == []
    body = pos_body([("TEE-1", -1)], "T-2")  # the merchant fixed the secret
    assert httpx.post(server.url + path, content=body,
                      headers=pos_headers(body)).status_code == 200
    cleared = worker.step()
    assert len(cleared) == 1 and "RESOLVED" in cleared[0]
    status = client.get("/v1/channels/till").json()["status"]
    assert status["state"] == "healthy" and status["webhooks_refused"] == 2
    assert receiver.messages == started + cleared


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    with r.server:
        yield r


def test_failed_pushes_are_logged_with_tenant_channel_and_error(
        server: LiveServer, client: httpx.Client, tenant: Tenant, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 4}})
    with capture_logs() as logs:
        for code, url, secret in (("refused", sims.generic.url + "/inventory", "wrong-secret"),
                                  ("gone", "http://127.0.0.1:9/inventory", GENERIC_SECRET)):
            r = client.post("/v1/channels", params={"verify": "false"}, json={
                "code": code, "kind": "generic_http", "name": code, "locations": ["WH"],
                "settings": {"url": url}, "credentials": {"secret": secret}})
            assert r.status_code == 201, r.text
        eventually(lambda: {e.get("channel") for e in list(logs)
                            if e["event"] in ("channel_push_rejected", "channel_push_failed")}
                   >= {"refused", "gone"}, what="both failures logged")
    failed = {e["channel"]: e for e in logs
              if e["event"] in ("channel_push_rejected", "channel_push_failed")}
    assert failed["refused"]["tenant"] == tenant.id and "401" in failed["refused"]["error"]
    assert failed["gone"]["tenant"] == tenant.id and "unreachable" in failed["gone"]["error"]
    assert failed["gone"]["log_level"] == failed["refused"]["log_level"] == "warning"


def test_a_channel_back_from_an_outage_is_caught_up_within_seconds(
        server: LiveServer, client: httpx.Client, sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 100}})
    sims.add_products(["TEE-1"])
    add_channels(client, sims, ["WH"])
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 100, what="initial sync")
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": True})
    stop = time.monotonic() + 4.0
    sold = 0
    while time.monotonic() < stop:  # four seconds of sales while the portal is down
        client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                           "quantity": 1})
        sold += 1
        time.sleep(0.1)
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": False})
    back = time.monotonic()
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 100 - sold, timeout=40,
               what="caught up")
    took = time.monotonic() - back
    # Probed every 2 s while down (settings.channel_probe_seconds); it took up to 30 s.
    assert took < 3.5, f"caught up {took:.1f} s after the channel came back"


@pytest.fixture
def day(db_settings: Settings, receiver: Receiver) -> Iterator[Stocksync]:
    scaled = db_settings.model_copy(update={
        "alert_lag_seconds": 60 / SCALE, "alert_failing_seconds": 300 / SCALE,
        "alert_check_seconds": 15 / SCALE, "alert_webhook_url": receiver.url})
    svc = build_service(scaled)
    yield svc
    svc.engine.dispose()


def test_a_scripted_day_raises_exactly_the_alerts_a_merchant_should_see(
        day: Stocksync, receiver: Receiver, sims: Sims, tmp_path: Path) -> None:
    tenant = new_tenant(day)
    with LiveServer(day) as server, httpx.Client(base_url=server.url, headers=tenant.headers,
                                                 timeout=30) as client:
        skus = ["TEE-1", "TEE-2", "TEE-3"]
        seed(client, {sku: {"WH": 30} for sku in skus})
        sims.add_products(skus)
        add_channels(client, sims, ["WH"])
        path = add_till(client)
        eventually(lambda: sims.generic_quantities() == dict.fromkeys(skus, 30)
                   and all(sims.shopify_available(s) == 30 for s in skus), what="synced")

        def sell(sku: str) -> None:
            r = client.post("/v1/movements", json={"type": "sale", "sku": sku,
                                                   "location": "WH", "quantity": 1})
            assert r.status_code == 201, r.text

        for sku in skus:  # the morning: online and in-store sales
            sell(sku)
        body = pos_body([("TEE-1", -2)], "T-morning")
        assert httpx.post(server.url + path, content=body,
                          headers=pos_headers(body)).status_code == 200
        eventually(lambda: sims.generic_quantities()["TEE-1"] == 27, what="morning synced")
        time.sleep(5 * day.settings.alert_check_seconds)
        assert receiver.messages == []  # creating channels and selling raise nothing

        httpx.post(sims.generic.url + "/_sim/faults", json={"down": True})  # "2 minutes"
        outage_ends = time.monotonic() + 120 / SCALE
        while time.monotonic() < outage_ends:
            sell("TEE-2")
            time.sleep(0.5)
        httpx.post(sims.generic.url + "/_sim/faults", json={"down": False})
        eventually(lambda: client.get("/v1/channels/portal").json()["status"]["state"]
                   == "healthy", timeout=20, what="portal back")
        eventually(lambda: len(receiver.messages) == 2, what="lag alert cleared")

        # Behind stocksync's back: two wrong quantities, found by reconciliation.
        httpx.put(sims.shopify.url + "/_sim/inventory/TEE-1", json={"available": 9})
        httpx.put(sims.shopify.url + "/_sim/inventory/TEE-3", json={"available": 40})
        dry = client.post("/v1/channels/shop/reconcile").json()
        assert len(dry["mismatches"]) == 2, dry
        eventually(lambda: len(receiver.messages) == 3, what="drift alert")
        applied = client.post("/v1/channels/shop/reconcile", params={"apply": "true"}).json()
        assert applied["applied"] == 2, applied
        eventually(lambda: len(receiver.messages) == 4, what="drift cleared")
        time.sleep(5 * day.settings.alert_check_seconds)
        channels: list[dict[str, Any]] = client.get("/v1/channels").json()
    assert {c["code"]: c["status"]["state"] for c in channels} == {
        "portal": "healthy", "shop": "healthy", "till": "healthy"}
    kinds = [(m.split()[1].rstrip("]"), _subject(m)) for m in receiver.messages]
    assert kinds == [("ALERT", "portal is"), ("RESOLVED", "portal is"),
                     ("ALERT", "shop showed"), ("RESOLVED", "shop showed")], receiver.messages


def _subject(message: str) -> str:
    words = message.split(": ", 1)[1].split()
    return f"{words[1]} {words[2]}"

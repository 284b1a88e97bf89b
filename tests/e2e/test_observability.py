"""Alerts fire once and clear once, the digest goes out by SMTP, logs link a webhook to the
pushes it caused, the audit trail shows who did what, and readiness reports the workers."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI, Request

from stocksync.app.service import Stocksync
from stocksync.simulators.server import ServerThread
from stocksync.workers.alerts import AlertWorker
from tests.conftest import METRICS_HEADERS, LiveServer, Tenant, free_port, seed, settle
from tests.e2e.conftest import Sims, add_channels, eventually
from tests.e2e.test_ingestion import pos_body, pos_headers


class Receiver:
    """A local Slack-compatible incoming webhook that records what it got."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> dict[str, str]:
            self.messages.append((await request.json())["text"])
            return {"ok": "true"}

        self.server = ServerThread(app)

    @property
    def url(self) -> str:
        return self.server.url + "/hook"


class Mailbox:
    def __init__(self) -> None:
        self.mails: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.mails.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    with r.server:
        yield r


def alert_worker(svc: Stocksync, **overrides: object) -> AlertWorker:
    return AlertWorker(svc, svc.settings.model_copy(update=overrides))


def test_a_condition_alerts_once_when_it_starts_and_once_when_it_clears(
        server: LiveServer, client: httpx.Client, receiver: Receiver) -> None:
    seed(client, {"TEE-1": {"WH": 10}})
    worker = alert_worker(server.svc, alert_webhook_url=receiver.url)
    assert worker.step() == []
    held = client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 8}).json()
    started = worker.step()
    assert len(started) == 1 and "80%" in started[0] and "ALERT" in started[0]
    assert worker.step() == [] and worker.step() == []  # no storm while it holds
    client.post(f"/v1/reservations/{held['id']}/release")
    cleared = worker.step()
    assert len(cleared) == 1 and "RESOLVED" in cleared[0]
    assert worker.step() == []
    assert receiver.messages == started + cleared


def test_a_failing_channel_and_dead_letters_alert(server: LiveServer, client: httpx.Client,
                                                  sims: Sims, receiver: Receiver) -> None:
    seed(client, {"TEE-1": {"WH": 10}})
    sims.add_products(["TEE-1"])
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": True})
    add_channels(client, sims, ["WH"], verify=False)  # the portal is down: store unchecked
    eventually(lambda: client.get("/v1/channels/portal").json()["status"]["last_error"]
               is not None)
    worker = alert_worker(server.svc, alert_webhook_url=receiver.url,
                          alert_failing_seconds=0.01)
    eventually(lambda: any("failing" in m for m in worker.step()), what="failing alert")
    httpx.post(sims.generic.url + "/_sim/faults", json={"down": False})
    eventually(lambda: any("RESOLVED" in m and "portal" in m for m in worker.step()),
               timeout=40, what="cleared once the channel works again")
    assert sum("failing" in m and "ALERT" in m for m in receiver.messages) == 1


def test_the_daily_digest_is_mailed(server: LiveServer, client: httpx.Client) -> None:
    seed(client, {"TEE-1": {"WH": 3}})
    client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                       "quantity": 9})  # refused: an oversell prevented
    settle(server.svc)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        worker = alert_worker(server.svc, smtp_host="127.0.0.1", smtp_port=port,
                              digest_to="ops@example.com")
        worker.step()
        eventually(lambda: len(mailbox.mails) >= 1, what="digest mail")
        worker.step()  # within 24 h: no second digest
    finally:
        controller.stop()
    assert len(mailbox.mails) == 1
    body = mailbox.mails[0].get_payload()
    assert "stock.received: 1" in body and "oversells prevented: 1" in body
    assert mailbox.mails[0]["To"] == "ops@example.com"


def test_a_correlation_id_links_a_webhook_to_its_pushes(server: LiveServer,
                                                        client: httpx.Client, tenant: Tenant,
                                                        sims: Sims) -> None:
    seed(client, {"TEE-1": {"NYC": 20}})
    add_channels(client, sims, ["NYC"])
    path = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"},
        "credentials": {"webhook_secret": "till-secret-789"}}).json()["webhook_path"]
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 20)
    entries: list[dict[str, Any]] = []
    connected = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=server.url, headers=tenant.headers, timeout=15) as c, \
                c.stream("GET", "/v1/logs/stream") as r:
            for line in r.iter_lines():
                connected.set()
                if line.startswith("data: "):
                    entries.append(json.loads(line[6:]))
                    if entries[-1].get("event") == "channel_pushed" and \
                            "corr-abc" in str(entries[-1].get("correlation_ids")):
                        return

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert connected.wait(10)
    body = pos_body([("TEE-1", -2)], "T-corr")
    headers = {**pos_headers(body), "X-Correlation-Id": "corr-abc"}
    assert httpx.post(server.url + path, content=body, headers=headers).status_code == 200
    t.join(20)
    assert not t.is_alive(), [e.get("event") for e in entries]
    kinds = {e["event"] for e in entries if e.get("correlation_id") == "corr-abc"}
    assert {"webhook_accepted", "write_applied"} <= kinds
    settle(server.svc)
    sale = client.get("/v1/events", params={"type": "stock.sold"}).json()["events"][0]
    assert sale["correlation_id"] == "corr-abc"


def test_the_audit_trail_filters_and_the_history_has_a_running_balance(
        server: LiveServer, client: httpx.Client) -> None:
    seed(client, {"TEE-1": {"WH": 10}})
    client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                       "quantity": 4})
    client.post("/v1/movements", json={"type": "adjust", "sku": "TEE-1", "location": "WH",
                                       "quantity": -1, "reason": "damaged"})
    settle(server.svc)
    history = client.get("/v1/stock/TEE-1/history").json()["movements"]
    assert [(m["type"], m["on_hand"]) for m in history] == [
        ("stock.received", 10), ("stock.sold", 6), ("stock.adjusted", 5)]
    assert all(m["actor"].startswith("key:") and m["origin"] == "127.0.0.1" for m in history)
    sold = client.get("/v1/events", params={"source": "api", "type": "stock.sold"}).json()
    assert len(sold["events"]) == 1
    since = history[1]["recorded_at"]
    later = client.get("/v1/events", params={"since": since, "sku": "TEE-1"}).json()["events"]
    assert [e["type"] for e in later] == ["stock.sold", "stock.adjusted"]
    assert client.get("/v1/events", params={"source": "pos:nope"}).json()["events"] == []
    assert client.get("/v1/events", params={"since": "2026-01-01T00:00:00"}).status_code == 422


def test_readiness_reports_workers_and_channels(server: LiveServer, client: httpx.Client,
                                                sims: Sims) -> None:
    seed(client, {"TEE-1": {"WH": 1}})
    add_channels(client, sims, ["WH"])
    r = httpx.get(server.url + "/v1/ready")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["workers"]["sequencer"] is True
    assert body["channels"]["total"] >= 2  # counted, never named: no key is needed here


def metric(server: LiveServer, name: str, **labels: str) -> float:
    for line in httpx.get(server.url + "/metrics", headers=METRICS_HEADERS).text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.split()[-1])
        if line.startswith(name + " ") and not labels:
            return float(line.split()[-1])
    return 0.0


def test_metrics_hold_the_right_values_after_a_scripted_scenario(
        server: LiveServer, client: httpx.Client, tenant: Tenant, sims: Sims) -> None:
    seed(client, {"TEE-1": {"NYC": 10}})
    add_channels(client, sims, ["NYC"])
    path = client.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
        "settings": {"store.12": "NYC"},
        "credentials": {"webhook_secret": "till-secret-789"}}).json()["webhook_path"]
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 10)
    names = [("stocksync_reservations_total", {"outcome": o})
             for o in ("created", "refused", "committed", "released")]
    names += [("stocksync_webhooks_total", {"kind": "pos", "outcome": o})
              for o in ("accepted", "duplicate", "bad_signature")]
    names += [("stocksync_oversells_prevented_total", {})]
    before = {(n, tuple(lb.items())): metric(server, n, **lb) for n, lb in names}
    pushes_before = metric(server, "stocksync_channel_pushes_total", tenant=tenant.id,
                           channel="portal")
    # the script
    a = client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 3}).json()
    b = client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 4}).json()
    assert client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 9}
                       ).status_code == 409
    client.post(f"/v1/reservations/{a['id']}/commit")
    client.post(f"/v1/reservations/{b['id']}/release")
    body = pos_body([("TEE-1", -1)], "T-metrics")
    for _ in range(2):
        httpx.post(server.url + path, content=body, headers=pos_headers(body))
    httpx.post(server.url + path, content=body, headers=pos_headers(body, "wrong"))
    eventually(lambda: sims.generic_quantities().get("TEE-1") == 6, what="pushed")
    after = {(n, tuple(lb.items())): metric(server, n, **lb) for n, lb in names}
    delta = {(n, dict(lb).get("outcome", "")): after[(n, lb)] - before[(n, lb)]
             for n, lb in before}
    assert delta == {
        ("stocksync_reservations_total", "created"): 2,
        ("stocksync_reservations_total", "refused"): 1,
        ("stocksync_reservations_total", "committed"): 1,
        ("stocksync_reservations_total", "released"): 1,
        ("stocksync_webhooks_total", "accepted"): 1,
        ("stocksync_webhooks_total", "duplicate"): 1,
        ("stocksync_webhooks_total", "bad_signature"): 1,
        ("stocksync_oversells_prevented_total", ""): 1,
    }
    assert metric(server, "stocksync_channel_pushes_total", tenant=tenant.id,
                  channel="portal") > pushes_before
    client.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 3})
    AlertWorker(server.svc).step()
    assert metric(server, "stocksync_reservation_pressure", tenant=tenant.id) == 3 / 6
    text = httpx.get(server.url + "/metrics", headers=METRICS_HEADERS).text
    assert "TEE-1" not in text  # never a per-SKU label

"""Each tenant's alerts and digest go to its own destinations (PUT /v1/settings/alerts), the
installation's settings being the fallback for tenants that set none."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from aiosmtpd.controller import Controller

from stocksync.app.service import Stocksync
from tests.conftest import LiveServer, Tenant, free_port, new_tenant, seed
from tests.e2e.conftest import eventually
from tests.e2e.test_observability import Mailbox, Receiver, alert_worker


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    own, default = Receiver(), Receiver()
    with own.server, default.server:
        yield own, default


def client_for(live: LiveServer, tenant: Tenant) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers=tenant.headers, timeout=30)


def test_alerts_and_digests_go_to_each_tenants_own_destinations(
        svc: Stocksync, receivers: tuple[Receiver, Receiver]) -> None:
    own, default = receivers
    acme, other = new_tenant(svc, "acme"), new_tenant(svc, "other")
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with LiveServer(svc, workers=False) as live, client_for(live, acme) as a, \
                client_for(live, other) as b:
            assert a.get("/v1/settings/alerts").json() == {
                "webhook_url": None, "digest_to": [], "webhook_default": True,
                "digest_default": True}
            r = a.put("/v1/settings/alerts", json={
                "webhook_url": own.url, "digest_to": ["ops@acme.example", "me@acme.example"]})
            assert r.status_code == 200, r.text
            shown = a.get("/v1/settings/alerts").json()
            assert shown["webhook_url"].endswith("/…") and "/hook" not in shown["webhook_url"]
            assert shown["digest_to"] == ["ops@acme.example", "me@acme.example"]
            assert b.get("/v1/settings/alerts").json()["webhook_default"] is True
            for bad in ({"digest_to": ["a@b.example\r\nBcc: x@y.example"]},
                        {"digest_to": ["a@b.example, c@d.example"]},
                        {"webhook_url": "file:///etc/passwd"}):
                assert a.put("/v1/settings/alerts", json=bad).status_code == 422, bad
            for c in (a, b):
                seed(c, {"TEE-1": {"WH": 10}})
                assert c.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 8}
                              ).status_code == 201
            worker = alert_worker(svc, alert_webhook_url=default.url, smtp_host="127.0.0.1",
                                  smtp_port=port, digest_to="ops@hub.example")
            sent = worker.step()
            assert len(sent) == 2
            eventually(lambda: len(mailbox.mails) == 2, what="two digests")
    finally:
        controller.stop()
    assert len(own.messages) == 1 and acme.id in own.messages[0]
    assert len(default.messages) == 1 and other.id in default.messages[0]
    to = {m["Subject"].rsplit(": ", 1)[1]: m["To"] for m in mailbox.mails}
    assert to == {"acme": "ops@acme.example, me@acme.example", "other": "ops@hub.example"}


def test_clearing_a_tenants_destinations_falls_back_to_the_installations(
        svc: Stocksync, receivers: tuple[Receiver, Receiver]) -> None:
    own, default = receivers
    acme = new_tenant(svc, "acme")
    with LiveServer(svc, workers=False) as live, client_for(live, acme) as a:
        a.put("/v1/settings/alerts", json={"webhook_url": own.url})
        assert a.put("/v1/settings/alerts", json={}).json()["webhook_default"] is True
        seed(a, {"TEE-1": {"WH": 10}})
        a.post("/v1/reservations", json={"sku": "TEE-1", "quantity": 8})
        alert_worker(svc, alert_webhook_url=default.url).step()
    assert own.messages == [] and len(default.messages) == 1

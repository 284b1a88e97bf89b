"""The live SSE stream delivers new events in order, scoped to the caller's tenant."""

from __future__ import annotations

import json
import threading

import httpx

from tests.conftest import LiveServer, Tenant, new_tenant, seed


def test_the_stream_delivers_new_events_live(server: LiveServer, client: httpx.Client,
                                             tenant: Tenant) -> None:
    seed(client, {"SKU-1": {"WH": 1}})
    other = new_tenant(server.svc, "other")
    received: list[dict[str, object]] = []
    ready = threading.Event()

    def listen() -> None:
        with httpx.Client(base_url=server.url, headers=tenant.headers, timeout=10) as c, \
                c.stream("GET", "/v1/events/stream", params={"after": 0}) as r:
            assert r.status_code == 200
            for line in r.iter_lines():
                ready.set()
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                    if received[-1]["type"] == "stock.sold":
                        return

    t = threading.Thread(target=listen)
    t.start()
    assert ready.wait(10)
    with httpx.Client(base_url=server.url, headers=other.headers) as b:
        b.put("/v1/locations/ELSEWHERE", json={"name": "x"})
    client.post("/v1/movements", json={"type": "sale", "sku": "SKU-1", "location": "WH",
                                       "quantity": 1})
    t.join(10)
    assert not t.is_alive()
    assert [e["type"] for e in received] == ["stock.received", "stock.sold"]
    assert [e["sequence"] for e in received] == [1, 2]

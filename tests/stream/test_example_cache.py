"""The example consumer (examples/stream_cache): a cache of available quantities fed by the
stream through a durable consumer stays exact across a crash between its commit and its
ack, and after a restart equals what GET /v1/stock says."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from examples.stream_cache.cache import AvailabilityCache, Source, consume

from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.stream.store import published
from tests.conftest import TEST_SECRET, LiveServer, new_tenant, seed
from tests.stream.conftest import delete_stream, eventually, require_nats, with_stream


def _business(client: httpx.Client) -> None:
    seed(client, {"TEE-M": {"WH": 20, "SHOP": 5}, "TEE-L": {"WH": 8}, "CAP": {"SHOP": 3}})
    moves = [{"type": "sale", "sku": "TEE-M", "location": "SHOP", "quantity": 2},
             {"type": "transfer", "sku": "TEE-M", "location": "WH", "to_location": "SHOP",
              "quantity": 6},
             {"type": "adjust", "sku": "TEE-L", "location": "WH", "quantity": -3},
             {"type": "count", "sku": "CAP", "location": "SHOP", "quantity": 7}]
    for move in moves:
        assert client.post("/v1/movements", json=move).status_code == 201
    held = client.post("/v1/reservations", json={"sku": "TEE-M", "quantity": 4,
                                                 "location": "SHOP", "kind": "checkout"}).json()
    kept = client.post("/v1/reservations", json={"sku": "TEE-L", "quantity": 2,
                                                 "location": "WH", "kind": "checkout"}).json()
    gone = client.post("/v1/reservations", json={"sku": "CAP", "quantity": 1,
                                                 "location": "SHOP"}).json()
    client.post(f"/v1/reservations/{held['id']}/commit").raise_for_status()
    client.post(f"/v1/reservations/{gone['id']}/release").raise_for_status()
    assert kept["status"] == "active"  # still held: available counts it out


@pytest.mark.slow  # the example runs as a process twice (start, kill, restart): 4-6 s
def test_the_cache_stays_exact_across_a_crash_and_a_restart(tmp_path: Path) -> None:
    url = require_nats()
    settings = with_stream(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                                    secret_key=TEST_SECRET, reconcile_minutes=0,
                                    run_channel_workers=False), url)
    svc = build_service(settings)
    tenant = new_tenant(svc, "cache-shop")
    other = new_tenant(svc, "cache-other")
    try:
        with LiveServer(svc) as live, \
                httpx.Client(base_url=live.url, headers=tenant.headers) as client, \
                httpx.Client(base_url=live.url, headers=other.headers) as noise:
            _business(client)
            seed(noise, {"TEE-M": {"WH": 99}})  # another tenant's events: not in this cache
            with svc.uow(tenant.id, write=False) as uow:
                head = uow.log_head()
            eventually(lambda: published(svc.engine, settings.nats_stream, tenant.id) == head,
                       15, "everything published")
            stock = client.get("/v1/stock", params={"sku": ["TEE-M", "TEE-L", "CAP"]}).json()
        expected = {(item["sku"], level["location"]): level["available"]
                    for item in stock["items"] for level in item["locations"]}

        source = Source(url, tenant.id, settings.nats_stream, settings.nats_subject_prefix,
                        ack_wait=1.0)
        cache = AvailabilityCache(tmp_path / "cache.db")
        # Applies and commits 7 events, acknowledges 6, then "crashes".
        assert asyncio.run(consume(source, cache, idle_exit=1.0, crash_after=7)) == 7
        cache.close()
        restarted = AvailabilityCache(tmp_path / "cache.db")  # a new process, same file
        assert restarted.position(tenant.id) == 7
        applied = asyncio.run(consume(source, restarted, idle_exit=2.0))
        assert applied == head - 7  # the redelivered 7th was recognised, not applied again
        assert restarted.position(tenant.id) == head
        assert restarted.snapshot(tenant.id) == expected
        assert restarted.snapshot(other.id) == {}
        restarted.close()
    finally:
        delete_stream(url, settings.nats_stream)
        svc.engine.dispose()

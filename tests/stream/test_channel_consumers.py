"""Channel workers fed by the stream (STOCKSYNC_NATS_CHANNEL_CONSUMERS): woken and fed by
their durable consumer, not by the database; two `stocksync worker` processes share the
channels, and when one is killed with SIGKILL its channels move to the other and every
channel converges exactly (PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from stocksync.storage.tables import channels
from tests.conftest import METRICS_HEADERS, TEST_SECRET, LiveServer, new_tenant, seed
from tests.e2e.conftest import GENERIC_SECRET
from tests.stream.conftest import (
    delete_stream,
    eventually,
    require_nats,
    start_worker,
    with_stream,
)


def _channel(client: httpx.Client, code: str, url: str) -> None:
    client.post("/v1/channels", json={
        "code": code, "kind": "generic_http", "name": code, "locations": ["WH"],
        "settings": {"url": url + "/inventory"},
        "credentials": {"secret": GENERIC_SECRET}}).raise_for_status()


def _shown(url: str, sku: str) -> int | None:
    value = httpx.get(url + "/_sim/state").json()["quantities"].get(sku)
    return None if value is None else int(value)


def test_a_channel_is_fed_by_its_stream_consumer(tmp_path: Path) -> None:
    url = require_nats()
    settings = with_stream(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                                    secret_key=TEST_SECRET, reconcile_minutes=0,
                                    metrics_token=METRICS_HEADERS["Authorization"][7:],
                                    channel_sweep_seconds=30.0), url,
                           nats_channel_consumers=True)
    svc = build_service(settings)
    tenant = new_tenant(svc, "fed")
    try:
        with ServerThread(generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))) as sim, \
                LiveServer(svc) as live, \
                httpx.Client(base_url=live.url, headers=tenant.headers) as client:
            seed(client, {"A": {"WH": 10}})
            _channel(client, "portal", sim.url)
            eventually(lambda: _shown(sim.url, "A") == 10, 20, "the first sync")
            time.sleep(0.5)  # idle now: only a stream message wakes it (sweep is 30 s)
            client.post("/v1/movements", json={"type": "sale", "sku": "A", "location": "WH",
                                               "quantity": 3}).raise_for_status()
            eventually(lambda: _shown(sim.url, "A") == 7, 10, "the stream wakes the channel")
            status = client.get("/v1/channels/portal").json()["status"]
            assert status["stream"]["consumer"] == f"channel_{tenant.id}_portal"
            assert status["stream"]["published"] == status["head"]
            assert (status["stream"]["pending"], status["cursor"]) == (0, status["head"])
            metrics = httpx.get(live.url + "/metrics", headers=METRICS_HEADERS).text
            assert f'stocksync_stream_published_total{{tenant="{tenant.id}"}}' in metrics
    finally:
        delete_stream(url, settings.nats_stream)
        svc.engine.dispose()


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    return start_worker(settings, STOCKSYNC_NATS_CHANNEL_CONSUMERS="true",
                        STOCKSYNC_CHANNEL_SWEEP_SECONDS="30")


def _owners(svc: Stocksync, tenant_id: str) -> dict[str, str | None]:
    with svc.engine.connect() as conn:
        return {code: owner for code, owner in conn.execute(
            select(channels.c.code, channels.c.lease_owner)
            .where(channels.c.tenant_id == tenant_id))}


@pytest.mark.slow  # a killed worker's leases run out after 15 s before the other takes over
def test_sigkill_one_of_two_workers_moves_its_channels_and_they_converge(
        pg_svc: Stocksync) -> None:
    url = require_nats()
    settings = with_stream(pg_svc.settings, url, run_channel_workers=False)
    svc = build_service(settings)  # the API process: sequencer and publisher, no channels
    tenant = new_tenant(svc, "two-workers")
    codes = [f"c{i}" for i in range(4)]
    skus = {f"S{i}": {"WH": 50} for i in range(3)}
    with ExitStack() as stack:
        stack.callback(delete_stream, url, settings.nats_stream)
        sims = {c: stack.enter_context(ServerThread(generic_app(
            GenericHttpSimConfig(secret=GENERIC_SECRET)))) for c in codes}
        live = stack.enter_context(LiveServer(svc))
        client = stack.enter_context(httpx.Client(base_url=live.url, headers=tenant.headers))
        seed(client, skus)
        for code in codes:
            _channel(client, code, sims[code].url)
        workers = [_worker(settings), _worker(settings)]
        for w in workers:
            stack.callback(w.kill)
        pids = {str(w.pid): w for w in workers}

        def everywhere(expected: dict[str, int]) -> bool:
            return all(_shown(sims[c].url, s) == q for c in codes for s, q in expected.items())

        eventually(lambda: everywhere({s: 50 for s in skus}), 40, "the first sync")
        owners = {c: o.split(":")[1] for c, o in _owners(svc, tenant.id).items() if o}
        assert set(owners.values()) <= set(pids)
        victim = pids[next(iter(owners.values()))]
        moved = [c for c, pid in owners.items() if pid == str(victim.pid)]
        for n in range(12):  # sales before and after the kill
            if n == 4:
                victim.send_signal(signal.SIGKILL)
                victim.wait(10)
            client.post("/v1/movements", json={"type": "sale", "sku": f"S{n % 3}",
                                               "location": "WH", "quantity": 1 + n % 2}
                        ).raise_for_status()
        expected = {s: int(q["available"]) for s, q in (
            (i["sku"], i) for i in client.get("/v1/stock", params={"sku": list(skus)})
            .json()["items"])}
        eventually(lambda: everywhere(expected), 60, "every channel converges")

        def consumer_of(code: str) -> str | None:
            stream = client.get(f"/v1/channels/{code}").json()["status"]["stream"]
            return None if stream is None else str(stream["consumer"])

        eventually(lambda: all(consumer_of(c) == f"channel_{tenant.id}_{c}" for c in codes),
                   10, "each channel reads the stream through its own consumer")
        client.post("/v1/movements", json={"type": "sale", "sku": "S0", "location": "WH",
                                           "quantity": 1}).raise_for_status()
        expected["S0"] -= 1  # the survivor is woken by the stream (its sweep is 30 s)
        eventually(lambda: everywhere(expected), 10, "a sale after the takeover")
        survivor = next(w for w in workers if w is not victim)
        after = _owners(svc, tenant.id)
        assert all(after[c] and after[c].split(":")[1] == str(survivor.pid) for c in moved)
        with svc.uow(tenant.id, write=False) as uow:
            head = uow.log_head()
            assert all(uow.channels.get(c).cursor == head for c in codes)  # type: ignore[union-attr]
        survivor.terminate()
        survivor.wait(10)
    svc.engine.dispose()

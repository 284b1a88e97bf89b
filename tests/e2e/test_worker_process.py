"""`stocksync worker` in another process reacts to a sale made through the API at once:
woken by PostgreSQL NOTIFY, not by its (here: 30 s) sweeps."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from stocksync.app.service import Stocksync
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from tests.conftest import LiveServer, new_tenant, seed
from tests.e2e.conftest import GENERIC_SECRET, eventually


@pytest.fixture
def api_without_channel_workers(pg_svc: Stocksync) -> Iterator[LiveServer]:
    pg_svc.settings = pg_svc.settings.model_copy(update={"run_channel_workers": False})
    with LiveServer(pg_svc) as live:
        yield live


def test_a_worker_process_is_woken_by_notify(api_without_channel_workers: LiveServer) -> None:
    live = api_without_channel_workers
    settings = live.svc.settings
    tenant = new_tenant(live.svc)
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": settings.database_url,
           "STOCKSYNC_DATABASE_SCHEMA": settings.database_schema or "",
           "STOCKSYNC_SECRET_KEY": settings.secret_key or "",
           "STOCKSYNC_CHANNEL_SWEEP_SECONDS": "30", "STOCKSYNC_SEQUENCER_SWEEP_SECONDS": "30"}
    with ServerThread(generic_app(GenericHttpSimConfig(secret=GENERIC_SECRET))) as sim, \
            httpx.Client(base_url=live.url, headers=tenant.headers) as client:
        seed(client, {"A": {"WH": 10}})
        client.post("/v1/channels", json={
            "code": "portal", "kind": "generic_http", "name": "p", "locations": ["WH"],
            "settings": {"url": sim.url + "/inventory"},
            "credentials": {"secret": GENERIC_SECRET}}).raise_for_status()
        worker = subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "worker"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            def shown() -> int | None:
                return httpx.get(sim.url + "/_sim/state").json()["quantities"].get("A")

            eventually(lambda: shown() == 10, timeout=20, what="the worker's first sync")
            time.sleep(0.5)  # the worker is now idle, waiting up to 30 s unless rung
            client.post("/v1/movements", json={"type": "sale", "sku": "A", "location": "WH",
                                               "quantity": 4}).raise_for_status()
            eventually(lambda: shown() == 6, timeout=10, what="NOTIFY wakes the worker")
        finally:
            worker.terminate()
            out = worker.communicate(timeout=10)[0].decode()
        assert worker.returncode == 0, out

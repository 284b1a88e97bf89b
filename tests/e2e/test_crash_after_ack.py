"""Kill -9 the server right after it acknowledged a batch of webhooks: after a restart,
every acknowledged delivery is applied exactly once. A real subprocess, a real SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests.conftest import free_port
from tests.e2e.conftest import eventually
from tests.e2e.test_ingestion import pos_body, pos_headers

DELIVERIES = 40


def start(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "serve",
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def test_acknowledged_deliveries_survive_sigkill_and_apply_once(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": f"sqlite:///{db}",
           "STOCKSYNC_SECRET_KEY": Fernet.generate_key().decode(),
           "STOCKSYNC_LEVEL_NOTICE_GRACE_SECONDS": "0"}
    key = subprocess.run([sys.executable, "-m", "stocksync.cli.main", "tenants", "create",
                          "crashy"], env=env, capture_output=True, check=True,
                         text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    # First life: API only (no workers), so every acknowledged delivery is still pending
    # when the process dies.
    proc = start({**env, "STOCKSYNC_RUN_WORKERS": "false"}, port)
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            api.put("/v1/locations/NYC", json={"name": "NYC"}).raise_for_status()
            api.put("/v1/items/TEE-1", json={}).raise_for_status()
            api.post("/v1/movements", json={"type": "receive", "sku": "TEE-1",
                                            "location": "NYC", "quantity": 1000}
                     ).raise_for_status()
            path = api.post("/v1/channels", json={
                "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
                "settings": {"store.12": "NYC"},
                "credentials": {"webhook_secret": "till-secret-789"}}).json()["webhook_path"]
        bodies = [pos_body([("TEE-1", -1)], f"T-{i}") for i in range(DELIVERIES)]

        def send(body: bytes) -> int:
            return httpx.post(base + path, content=body, headers=pos_headers(body)).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(send, bodies)) == {200}
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        pending = conn.execute(sa.text("SELECT count(*) FROM inbox WHERE status='pending'"))
        assert pending.scalar() == DELIVERIES  # all acknowledged, none applied yet

    proc = start(env, port)  # second life, with workers
    try:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as api:
            eventually(lambda: api.get("/v1/stock/TEE-1").json()["on_hand"] ==
                       1000 - DELIVERIES, timeout=30, what="all deliveries applied")
            # redeliveries after the restart are still recognised
            assert send(bodies[0]) == 200
            time.sleep(1.0)
            assert api.get("/v1/stock/TEE-1").json()["on_hand"] == 1000 - DELIVERIES
            done = api.get("/v1/inbox", params={"status": "done", "limit": 1000}).json()
            assert len(done) == DELIVERIES
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    out = subprocess.run([sys.executable, "-m", "stocksync.cli.main", "verify"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr

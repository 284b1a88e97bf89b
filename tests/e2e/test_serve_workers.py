"""`stocksync serve --workers 2` on PostgreSQL (issue 12): both processes serve the API on
one port, the singletons' role (expirer, purge, alerts, reconcile scheduling) is held by
exactly one of them, and when that one is killed with SIGKILL the role moves to another
process (and the parent starts a new child). A race for the last units through both
processes sells exactly the stock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.storage.sequencer import drain
from stocksync.stream.lock import lock_key
from stocksync.workers.leader import ROLE
from tests.conftest import Tenant, free_port, new_tenant, seed
from tests.e2e.conftest import eventually


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    tenant: Tenant


@pytest.fixture
def served(pg_svc: Stocksync) -> Iterator[Served]:
    settings = pg_svc.settings
    port = free_port()
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": settings.database_url,
           "STOCKSYNC_DATABASE_SCHEMA": settings.database_schema or "",
           "STOCKSYNC_SECRET_KEY": settings.secret_key or "", "STOCKSYNC_DB_POOL_SIZE": "4",
           "STOCKSYNC_LOG_LEVEL": "warning", "STOCKSYNC_RECONCILE_MINUTES": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "serve",
                             "--workers", "2", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _answers(url), timeout=90, what="the server processes")
        yield Served(url, proc, new_tenant(pg_svc))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v1/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _holders(svc: Stocksync) -> list[str]:
    """application_name (stocksync:<pid>) of every session holding the singletons' lock."""
    key = lock_key(svc.settings.database_schema, f"role:{ROLE}")  # signed, as PG shifts
    with svc.engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a "
            "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
            "AND ((l.classid::bigint << 32) | l.objid::bigint) = :key"), {"key": key})
        return [r[0] for r in rows]


def _children(parent: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


@pytest.mark.slow  # two server processes start (3-25 s on a loaded 2-core box): one test
def test_two_processes_serve_one_leads_and_the_role_moves(served: Served,
                                                         pg_svc: Stocksync) -> None:
    # A race for the last units through both processes sells exactly the stock.
    with httpx.Client(base_url=served.url, headers=served.tenant.headers) as client:
        seed(client, {"HOT": {"WH": 30}, "A": {"WH": 3}})

    def buy(i: int) -> int:
        # a new connection each time: the kernel spreads them over both processes
        with httpx.Client(base_url=served.url, headers=served.tenant.headers,
                          timeout=30) as c:
            body = {"sku": "HOT", "quantity": 1, "location": "WH"}
            if i % 2:
                r = c.post("/v1/reservations", json=body)
            else:
                r = c.post("/v1/movements", json={**body, "type": "sale"})
            assert r.status_code in (201, 409), r.text
            return r.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(buy, range(80)))
    assert statuses.count(201) == 30
    drain(pg_svc.engine)
    assert pg_svc.verify(served.tenant.id).ok

    # Exactly one process holds the singletons' role, also after several retry rounds.
    eventually(lambda: len(_holders(pg_svc)) == 1, timeout=15, what="one leader")
    children = _children(served.proc.pid)
    assert len(children) == 2
    leader = int(_holders(pg_svc)[0].split(":")[1])
    assert leader in children
    time.sleep(2.5)
    assert len(_holders(pg_svc)) == 1

    # SIGKILL the leader: another process takes the role, the parent starts a new one.
    os.kill(leader, signal.SIGKILL)
    eventually(lambda: len(_holders(pg_svc)) == 1 and int(
        _holders(pg_svc)[0].split(":")[1]) != leader, timeout=15, what="a new leader")
    eventually(lambda: len(_children(served.proc.pid) - {leader}) == 2, timeout=30,
               what="the parent starts a new process")

    # The new leader's expirer works: a 1-second hold expires.
    with httpx.Client(base_url=served.url, headers=served.tenant.headers) as client:
        r = client.post("/v1/reservations", json={"sku": "A", "quantity": 3, "location": "WH",
                                                  "ttl_seconds": 1})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]

    def expired() -> bool:
        drain(pg_svc.engine)
        with pg_svc.uow(served.tenant.id, write=False) as uow:
            events = uow.log.page(0, 1000, types=["stock.expired"])
        return any(e.data.get("reservation_id") == rid for e in events)

    eventually(expired, timeout=10, what="the hold expired by the new leader")


def test_several_processes_are_refused_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "one-writer.db"
    result = CliRunner().invoke(app, ["serve", "--workers", "2", "--database-url",
                                      f"sqlite:///{db}"])
    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.output
    assert not db.exists()  # refused before anything changed

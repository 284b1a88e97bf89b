"""Kill -9 a server while its ingest worker holds claims on acknowledged deliveries: a
restarted server takes those claims over within seconds (not after a minute-long lease)
and applies every delivery exactly once; a channel whose deliveries hang does not hold up
another's. Real subprocesses, a real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet

from stocksync.app.service import Stocksync
from stocksync.ingest.square import square_signature
from stocksync.simulators.server import ServerThread
from stocksync.simulators.square import create_app as square_app
from stocksync.storage import inbox
from stocksync.workers.ingest import CLAIM
from tests.conftest import free_port, new_tenant
from tests.e2e.conftest import eventually
from tests.e2e.test_crash_after_ack import start
from tests.e2e.test_ingestion import POS_SECRET, pos_body, pos_headers

SALES = 20
ORDERS = 5
SIGNATURE_KEY = "square-signature-key"
# After the kill, the dead worker's claims run out within CLAIM; the restarted process
# needs a few seconds to start. Before claims were renewed, this took about 60 s.
TAKEOVER_BOUND_S = CLAIM.total_seconds() + 5.0


def order_created(order_id: str) -> bytes:
    return json.dumps({
        "merchant_id": "MLSTOCKSYNCSIM", "type": "order.created", "event_id": f"evt-{order_id}",
        "created_at": "2026-11-26T12:00:00Z",
        "data": {"type": "order_created", "id": order_id, "object": {"order_created": {
            "order_id": order_id, "location_id": "LSTOCKSYNC001", "state": "OPEN",
            "version": 1, "created_at": "2026-11-26T12:00:00Z"}}}}).encode()


def pending(db: Path, claimed: bool) -> int:
    query = "SELECT count(*) FROM inbox WHERE status = 'pending'"
    if claimed:
        query += " AND claimed_until IS NOT NULL"
    with sa.create_engine(f"sqlite:///{db}").connect() as conn:
        return int(conn.execute(sa.text(query)).scalar() or 0)


def test_a_dead_workers_claims_are_taken_over_within_seconds(tmp_path: Path) -> None:
    db = tmp_path / "takeover.db"
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": f"sqlite:///{db}",
           "STOCKSYNC_SECRET_KEY": Fernet.generate_key().decode(),
           "STOCKSYNC_LEVEL_NOTICE_GRACE_SECONDS": "0"}
    key = subprocess.run([sys.executable, "-m", "stocksync.cli.main", "tenants", "create",
                          "crashy"], env=env, capture_output=True, check=True,
                         text=True).stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {key}"}
    # A Square "API" that accepts connections and never answers: reading the order a
    # notice names keeps the worker busy on the first delivery of its claimed batch.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    square_sim = ServerThread(square_app()).__enter__()

    # First life, API only: every delivery is acknowledged and left pending.
    proc = start({**env, "STOCKSYNC_RUN_WORKERS": "false"}, port)
    try:
        with httpx.Client(base_url=base, headers=headers) as api:
            api.put("/v1/locations/NYC", json={"name": "NYC"}).raise_for_status()
            api.put("/v1/items/TEE-1", json={}).raise_for_status()
            api.post("/v1/movements", json={"type": "receive", "sku": "TEE-1",
                                            "location": "NYC", "quantity": 1000}
                     ).raise_for_status()
            till = api.post("/v1/channels", json={
                "code": "till", "kind": "pos", "name": "till", "locations": ["NYC"],
                "settings": {"store.12": "NYC"},
                "credentials": {"webhook_secret": POS_SECRET}}).json()["webhook_path"]
            # verify=false: this channel deliberately points at a server that never answers.
            square = api.post("/v1/channels", params={"verify": "false"}, json={
                "code": "square", "kind": "square", "name": "Square", "locations": ["NYC"],
                "settings": {"base_url": silent_url, "location_id": "LSTOCKSYNC001",
                             "order_poll_seconds": "0"},
                "rules": {"include": ["NOTHING-*"]},
                "credentials": {"access_token": "EAAAEstocksyncSimulatorAccessToken",
                                "signature_key": SIGNATURE_KEY}})
            assert square.status_code == 201, square.text
        url = base + square.json()["webhook_path"]
        for n in range(ORDERS):
            notice = order_created(f"ORDER-{n}")
            assert httpx.post(url, content=notice, headers={
                "x-square-hmacsha256-signature": square_signature(SIGNATURE_KEY, url, notice),
                "Content-Type": "application/json"}).status_code == 200
        for i in range(SALES):
            body = pos_body([("TEE-1", -1)], f"T-{i}")
            assert httpx.post(base + till, content=body,
                              headers=pos_headers(body)).status_code == 200
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert pending(tmp_path / "takeover.db", claimed=False) == SALES + ORDERS

    # Second life, with workers: the Square lane hangs on the first order read while the
    # till's lane applies every sale (a slow channel delays only itself); it is killed
    # while it holds the claims on the Square deliveries.
    proc = start(env, port)
    try:
        eventually(lambda: pending(db, claimed=True) == ORDERS
                   and pending(db, claimed=False) == ORDERS, timeout=20,
                   what="the till's sales applied, the Square deliveries claimed and stuck")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    silent.close()
    _point_square_at(db, square_sim.url)  # the platform answers again (orders unknown)

    # Third life: the dead worker's claims are taken over within seconds.
    started = time.monotonic()
    proc = start(env, port)
    try:
        with httpx.Client(base_url=base, headers=headers) as api:
            def all_done() -> bool:
                done = api.get("/v1/inbox", params={"status": "done", "limit": 1000}).json()
                return len(done) == SALES + ORDERS

            eventually(all_done, timeout=started + TAKEOVER_BOUND_S - time.monotonic(),
                       what="the deliveries claimed by the dead worker applied")
            time.sleep(1.0)
            assert api.get("/v1/stock/TEE-1").json()["on_hand"] == 1000 - SALES  # once
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        square_sim.__exit__(None, None, None)
    out = subprocess.run([sys.executable, "-m", "stocksync.cli.main", "verify"], env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def _point_square_at(db: Path, url: str) -> None:
    with sa.create_engine(f"sqlite:///{db}").begin() as conn:
        raw = conn.execute(sa.text("SELECT settings FROM channels WHERE code = 'square'")
                           ).scalar()
        settings = {**json.loads(raw), "base_url": url}
        conn.execute(sa.text("UPDATE channels SET settings = :s WHERE code = 'square'"),
                     {"s": json.dumps(settings)})


def test_only_the_holder_renews_a_claim_and_a_lapsed_one_is_taken_over(
        svc: Stocksync) -> None:
    tenant = new_tenant(svc)
    t0 = datetime.now(UTC)

    def at(seconds: float) -> datetime:
        return t0 + timedelta(seconds=seconds)

    with svc.engine.connect().execution_options(stocksync_write=True) as conn, conn.begin():
        for i in range(3):
            inbox.store(conn, tenant_id=tenant.id, channel="till", kind="pos",
                        delivery_id=f"d-{i}", topic="sale", headers={}, body=b"{}", now=t0,
                        correlation_id=None)
        first = inbox.claim(conn, t0, CLAIM, 50)
        ids = [d.id for d in first]
        held = first[0].claimed_until
        assert len(ids) == 3 and held == t0 + CLAIM
        assert inbox.claim(conn, at(1), CLAIM, 50) == []  # claimed: nobody else gets them
        renewed, kept = inbox.renew(conn, ids, held, at(2), CLAIM)
        assert kept == set(ids) and renewed == at(2) + CLAIM
        assert inbox.renew(conn, ids, held, at(3), CLAIM)[1] == set()  # a stale token
        assert inbox.claim(conn, at(3), CLAIM, 50) == []  # still held after the renewal
        # The holder stops renewing (it died): once the claim lapses, another worker has it.
        second = inbox.claim(conn, renewed + timedelta(seconds=1), CLAIM, 50)
        assert [d.id for d in second] == ids
        assert inbox.renew(conn, ids, renewed, at(9), CLAIM)[1] == set()  # not the dead one's
        inbox.settle(conn, ids[0], at(9))
        assert inbox.renew(conn, ids, second[0].claimed_until, at(9), CLAIM)[1] == set(ids[1:])
        # A worker that stops gives back what it did not work on: claimable at once.
        assert inbox.release(conn, ids[1:], at(9) + CLAIM) == 2
        assert [d.id for d in inbox.claim(conn, at(9), CLAIM, 50)] == ids[1:]


def test_notices_are_claimed_after_the_orders_received_behind_them(svc: Stocksync) -> None:
    """A backlog of inventory notices (each read back from the channel) must not keep the
    orders that arrive behind it out of the ledger."""
    tenant = new_tenant(svc)
    t0 = datetime.now(UTC)
    topics = ["inventory_levels/update", "inventory_levels/update", "orders/create",
              "inventory_levels/update", "orders/cancelled"]
    with svc.engine.connect().execution_options(stocksync_write=True) as conn, conn.begin():
        for i, topic in enumerate(topics):
            inbox.store(conn, tenant_id=tenant.id, channel="shop", kind="shopify",
                        delivery_id=f"d-{i}", topic=topic, headers={}, body=b"{}", now=t0,
                        correlation_id=None)
        later = {"inventory_levels/update"}
        first = inbox.claim(conn, t0, CLAIM, 3, later=later)
        assert [d.topic for d in first] == ["orders/create", "orders/cancelled",
                                            "inventory_levels/update"]
        rest = inbox.claim(conn, t0, CLAIM, 50, later=later)
        assert [d.delivery_id for d in rest] == ["d-1", "d-3"]  # the notices, in order
        assert first[2].delivery_id == "d-0"

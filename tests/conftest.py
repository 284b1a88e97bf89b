"""Shared fixtures: every storage and API test runs on SQLite and on PostgreSQL.

PostgreSQL tests use their own schema (dropped afterwards), so parallel or repeated runs
never collide. Without a server they skip, unless CI=true, where they fail loudly.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from cryptography.fernet import Fernet

from stocksync.api.app import create_app
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.storage.sequencer import drain
from stocksync.storage.tenants import create_tenant

PG_URL = os.environ.get("STOCKSYNC_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_SECRET = Fernet.generate_key().decode()
METRICS_TOKEN = "test-metrics-token-0123456789"
METRICS_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # for GET /metrics
IN_CI = os.environ.get("CI", "").lower() == "true"
_pg_ok: list[bool] = []


def postgres_available() -> bool:
    if not _pg_ok:
        try:
            engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
            _pg_ok.append(True)
        except Exception:
            _pg_ok.append(False)
    return _pg_ok[0]


def require_postgres() -> None:
    if postgres_available():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} and CI=true: start it")
    pytest.skip(f"PostgreSQL not reachable at {PG_URL}")


@pytest.fixture(params=["sqlite", "postgres"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for a fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'stocksync.db'}", run_workers=False,
                       secret_key=TEST_SECRET, reconcile_minutes=0,
                       metrics_token=METRICS_TOKEN)
        return
    yield from postgres_settings()


@pytest.fixture
def pg_svc() -> Iterator[Stocksync]:
    """A service on its own PostgreSQL schema, for PostgreSQL-only behaviour."""
    for settings in postgres_settings():
        service = build_service(settings)
        yield service
        service.engine.dispose()


def postgres_settings() -> Iterator[Settings]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield Settings(database_url=PG_URL, database_schema=schema, run_workers=False,
                       db_pool_size=8, secret_key=TEST_SECRET, reconcile_minutes=0,
                       metrics_token=METRICS_TOKEN)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def svc(db_settings: Settings) -> Iterator[Stocksync]:
    service = build_service(db_settings)
    yield service
    service.engine.dispose()


@dataclass
class Tenant:
    id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def new_tenant(svc: Stocksync, name: str = "acme") -> Tenant:
    with svc.engine.begin() as conn:
        t = create_tenant(conn, name, svc.clock())
    return Tenant(t.id, t.api_key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn in a thread, with its workers: tests talk HTTP to it."""

    def __init__(self, svc: Stocksync, workers: bool = True) -> None:
        self.svc = svc
        self.port = free_port()
        config = uvicorn.Config(create_app(svc.settings, svc, workers=workers),
                                host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def server(svc: Stocksync) -> Iterator[LiveServer]:
    with LiveServer(svc) as live:
        yield live


@pytest.fixture
def tenant(svc: Stocksync) -> Tenant:
    return new_tenant(svc)


@pytest.fixture
def client(server: LiveServer, tenant: Tenant) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=tenant.headers, timeout=30) as c:
        c.app_svc = server.svc  # type: ignore[attr-defined]
        yield c


def seed(client: httpx.Client, skus: dict[str, dict[str, int]]) -> None:
    """Create items and locations and receive stock: {sku: {location: quantity}}."""
    locations = {loc for per in skus.values() for loc in per}
    for loc in sorted(locations):
        r = client.put(f"/v1/locations/{loc}", json={"name": loc})
        assert r.status_code in (200, 201), r.text
    for sku, per in skus.items():
        r = client.put(f"/v1/items/{sku}", json={"title": sku})
        assert r.status_code in (200, 201), r.text
        for loc, qty in per.items():
            if qty:
                r = client.post("/v1/movements", json={"type": "receive", "sku": sku,
                                                       "location": loc, "quantity": qty})
                assert r.status_code == 201, r.text


def settle(svc: Stocksync) -> None:
    """Sequence everything written so far (the sequencer worker does this within ms)."""
    drain(svc.engine)


@pytest.fixture
def svc_without_workers_client(svc: Stocksync, tenant: Tenant) -> Iterator[httpx.Client]:
    """A live server whose sequencer and expirer are off, to see what reads do alone."""
    with LiveServer(svc, workers=False) as live, httpx.Client(
            base_url=live.url, headers=tenant.headers, timeout=30) as c:
        c.app_svc = svc  # type: ignore[attr-defined]
        yield c

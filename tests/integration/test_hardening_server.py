"""The server's own defences: /metrics behind a token, 413 for any oversized body, published
error shapes, and idle or slow connections closed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from stocksync.api.app import create_app
from stocksync.api.server import server_config
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from tests.conftest import TEST_SECRET, LiveServer, free_port, new_tenant

TOKEN = "metrics-token-for-tests-0123456789"


def _settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / 'stocksync.db'}", run_workers=False,
                    secret_key=TEST_SECRET, reconcile_minutes=0, **extra)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_svc(tmp_path: Path) -> Iterator[Stocksync]:
    service = build_service(_settings(tmp_path, metrics_token=TOKEN, max_body_bytes=4096))
    yield service
    service.engine.dispose()


@pytest.fixture
def live(sqlite_svc: Stocksync) -> Iterator[LiveServer]:
    with LiveServer(sqlite_svc, workers=False) as server:
        yield server


def test_metrics_need_the_metrics_token(live: LiveServer) -> None:
    assert httpx.get(live.url + "/metrics").status_code == 401
    tenant = new_tenant(live.svc)
    assert httpx.get(live.url + "/metrics", headers=tenant.headers).status_code == 401
    r = httpx.get(live.url + "/metrics", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = httpx.get(live.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and "stocksync_" in r.text


def test_metrics_are_closed_when_no_token_is_set(tmp_path: Path) -> None:
    svc = build_service(_settings(tmp_path))
    try:
        with LiveServer(svc, workers=False) as server:
            r = httpx.get(server.url + "/metrics")
            assert r.status_code == 403 and "STOCKSYNC_METRICS_TOKEN" in r.json()["message"]
    finally:
        svc.engine.dispose()


def test_a_chunked_body_over_the_limit_gets_413(live: LiveServer) -> None:
    tenant = new_tenant(live.svc)

    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    for path in ("/v1/items/TEE-1", "/webhooks/pos/nope"):
        method = "PUT" if path.startswith("/v1") else "POST"
        r = httpx.request(method, live.url + path, content=chunks(), headers={
            **tenant.headers, "Content-Type": "application/json"})
        assert r.status_code == 413, r.text
        assert r.json()["error"] == "payload_too_large"
    r = httpx.put(live.url + "/v1/items/TEE-1", content=iter([b'{"title": "ok"}']),
                  headers={**tenant.headers, "Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_openapi_publishes_the_real_error_bodies(live: LiveServer) -> None:
    spec = httpx.get(live.url + "/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"error", "message", "details"}
    assert error["properties"]["details"]["type"] == "object"
    op = spec["paths"]["/v1/items/{sku}"]["put"]
    for status in ("401", "404", "409", "413", "422"):
        ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Error", status
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]


def _closed(sock: socket.socket) -> bool:
    """True once the server has closed it (a reset counts: unread input makes one). Bytes
    the server sends before closing (an error answer to a half request) are read past."""
    try:
        while sock.recv(1024):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_idle_and_slow_connections_are_closed(tmp_path: Path) -> None:
    settings = _settings(tmp_path, http_header_timeout_seconds=1.0,
                         http_keepalive_seconds=1.0)
    svc = build_service(settings)
    port = free_port()
    config = server_config(create_app(settings, svc, workers=False), settings,
                           host="127.0.0.1", port=port)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 15
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /v1/health HTTP/1.1\r\n")
        kept = socket.create_connection(("127.0.0.1", port))
        kept.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert kept.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        for s in [*idle, slow, kept]:
            s.settimeout(5)
        for i in range(8):  # a header line every 0.2 s never completes the request
            try:
                slow.sendall(f"X-Drip-{i}: 1\r\n".encode())
            except (BrokenPipeError, ConnectionResetError):
                break  # closed already
            time.sleep(0.2)
        assert all(_closed(s) for s in [*idle, slow, kept])
        assert time.monotonic() - started < 5
        assert httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200
        for s in [*idle, slow, kept]:
            s.close()
    finally:
        server.should_exit = True
        thread.join(10)
        svc.engine.dispose()


def test_serve_closes_an_idle_connection(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "STOCKSYNC_HTTP_HEADER_TIMEOUT_SECONDS": "1",
           "STOCKSYNC_RUN_WORKERS": "false", "STOCKSYNC_SECRET_KEY": TEST_SECRET,
           "STOCKSYNC_LOG_LEVEL": "warning"}
    cli = Path(sys.executable).with_name("stocksync")
    proc = subprocess.Popen([str(cli), "serve", "--database-url",
                             f"sqlite:///{tmp_path / 'serve.db'}", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "serve did not start"
            time.sleep(0.1)
        idle = socket.create_connection(("127.0.0.1", port))
        idle.settimeout(5)
        started = time.monotonic()
        assert _closed(idle) and time.monotonic() - started < 4
        idle.close()
    finally:
        proc.terminate()
        proc.wait(10)

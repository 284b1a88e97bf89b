"""The demo: a busy port stops it before anything changes, its key is kept in a file beside
the database (0600) and reused, and its sale comes from a till as a signed POS webhook."""

from __future__ import annotations

import socket
import stat
import time
from typing import Any

import httpx
from typer.testing import CliRunner

from stocksync.app.demo import DEMO_TENANT, key_file_for, seed_demo
from stocksync.app.service import Stocksync
from stocksync.cli.demo import DEMO_SKU, till_sale, wire_till
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.storage.tenants import list_keys, list_tenants, revoke_key
from tests.conftest import LiveServer
from tests.integration.test_cli import _env


def test_a_demo_on_a_busy_port_stops_before_changing_anything(
        svc: Stocksync, db_settings: Settings, tmp_path: object) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port)], env=_env(db_settings))
    assert result.exit_code == 1, result.output
    assert f"127.0.0.1:{port}" in result.output and "Nothing was changed" in result.output
    assert "sk_" not in result.output
    with svc.engine.connect() as conn:
        assert list_tenants(conn) == []
    assert not key_file_for(db_settings.database_url).exists()


def test_the_demo_key_is_kept_beside_the_database_and_reused(
        svc: Stocksync, tmp_path: object) -> None:
    key_file = key_file_for(f"sqlite:///{tmp_path}/shop.db")
    assert key_file.name == "shop.demo-key" and str(key_file.parent) == str(tmp_path)
    first = seed_demo(svc, key_file)
    assert first.name == DEMO_TENANT and not first.key_reused
    assert key_file.read_text().strip() == first.api_key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    second = seed_demo(svc, key_file)
    assert second.key_reused and second.api_key == first.api_key
    with svc.engine.begin() as conn:
        assert len(list_keys(conn, first.tenant_id)) == 1
        revoke_key(conn, first.tenant_id, first.api_key[:10], svc.clock())
    third = seed_demo(svc, key_file)  # a revoked key in the file is replaced
    assert not third.key_reused and third.api_key != first.api_key
    assert key_file.read_text().strip() == third.api_key


def test_the_demo_sale_is_recorded_as_a_pos_sale(server: LiveServer) -> None:
    seeded = seed_demo(server.svc)
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {seeded.api_key}"}) as api:
        before = api.get(f"/v1/stock/{DEMO_SKU}").json()["on_hand"]
        till_sale(server.url, wire_till(api), DEMO_SKU, 1)
        deadline = time.monotonic() + 15
        while api.get(f"/v1/stock/{DEMO_SKU}").json()["on_hand"] != before - 1:
            assert time.monotonic() < deadline, "the till's sale was not applied"
            time.sleep(0.05)
        # Applied is not yet in the log: the sequencer gives it its position just after.
        while not (events := _events(api.get("/v1/events", params={
                "type": "stock.sold", "after": 0}).json())):
            assert time.monotonic() < deadline, "the sale never reached the log"
            time.sleep(0.05)
    assert [e["source"] for e in events] == ["pos:nyc-till"]


def _events(page: Any) -> list[dict[str, Any]]:
    return list(page["events"] if isinstance(page, dict) else page)

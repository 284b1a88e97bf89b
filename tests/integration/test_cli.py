"""The CLI as a user runs it: migrate, tenants create, verify, reconcile (on both
databases)."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from typer.testing import CliRunner

from stocksync.app.demo import seed_demo
from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import ShopifySimConfig
from stocksync.simulators.shopify import create_app as create_shopify
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import stock_levels
from stocksync.storage.tenants import tenant_for_key
from tests.conftest import LiveServer, new_tenant, seed

runner = CliRunner()


def _env(settings: Settings) -> dict[str, str]:
    env = {"STOCKSYNC_DATABASE_URL": settings.database_url}
    if settings.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = settings.database_schema
    if settings.secret_key:  # to open channel credentials
        env["STOCKSYNC_SECRET_KEY"] = settings.secret_key
    return env


def test_tenants_create_prints_a_key_that_authenticates_once_hashed(
        svc: Stocksync, db_settings: Settings) -> None:
    result = runner.invoke(app, ["tenants", "create", "Acme Apparel"], env=_env(db_settings))
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("sk_")
    with svc.engine.connect() as conn:
        assert tenant_for_key(conn, key) is not None
        stored = conn.execute(sa.text("SELECT key_hash FROM api_keys")).scalars().all()
    assert key not in stored  # only the hash is kept
    bad = runner.invoke(app, ["tenants", "create", "  "], env=_env(db_settings))
    assert bad.exit_code == 2 and "NAME" in bad.output


def test_verify_passes_on_a_consistent_ledger_and_fails_on_a_tampered_level(
        svc: Stocksync, db_settings: Settings) -> None:
    seed_demo(svc)
    drain(svc.engine)
    ok = runner.invoke(app, ["verify"], env=_env(db_settings))
    assert ok.exit_code == 0, ok.output
    assert "agree" in ok.output
    with svc.engine.begin() as conn:
        conn.execute(sa.update(stock_levels).where(stock_levels.c.sku == "TEE-BLA-M")
                     .values(on_hand=stock_levels.c.on_hand + 1))
    bad = runner.invoke(app, ["verify"], env=_env(db_settings))
    assert bad.exit_code == 1
    assert "TEE-BLA-M" in bad.output


def test_migrate_is_idempotent(db_settings: Settings) -> None:
    for _ in range(2):
        result = runner.invoke(app, ["migrate"], env=_env(db_settings))
        assert result.exit_code == 0, result.output


def test_a_bad_setting_is_reported_by_name(db_settings: Settings) -> None:
    result = runner.invoke(app, ["migrate"], env={**_env(db_settings),
                                                  "STOCKSYNC_DB_POOL_SIZE": "zero"})
    assert result.exit_code == 2
    assert "STOCKSYNC_DB_POOL_SIZE" in result.output


def test_reconcile_names_missing_and_untracked_skus_and_exits_3_on_drift(
        svc: Stocksync, db_settings: Settings) -> None:
    tenant = new_tenant(svc, "acme")
    with LiveServer(svc, workers=False) as live, httpx.Client(
            base_url=live.url, headers=tenant.headers, timeout=30) as api, ServerThread(
            create_shopify(ShopifySimConfig(access_token="shpat_t"))) as shop:
        seed(api, {"HERE-1": {"WH": 2}, "HERE-2": {"WH": 2}})
        location = str(httpx.get(shop.url + "/_sim/state").json()["locations"][0]["id"])
        for sku in ("HERE-1", "STRANGER-9"):
            httpx.post(shop.url + "/_sim/products", json={"sku": sku,
                                                          "quantities": {location: 2}})
        r = api.post("/v1/channels", json={
            "code": "shop", "kind": "shopify", "name": "Shop", "locations": ["WH"],
            "settings": {"shop_url": shop.url, "location_id": location},
            "credentials": {"access_token": "shpat_t"}})
        assert r.status_code == 201, r.text
        result = runner.invoke(app, ["reconcile", "--tenant", "acme"], env=_env(db_settings))
    assert result.exit_code == 3, result.output
    assert "missing (listed here, absent there): HERE-2" in result.output
    assert "untracked (on the channel, unknown here): STRANGER-9" in result.output

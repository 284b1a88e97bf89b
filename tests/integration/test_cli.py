"""The CLI as a user runs it: migrate, tenants create, verify (on both databases)."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from stocksync.app.demo import seed_demo
from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import stock_levels
from stocksync.storage.tenants import tenant_for_key

runner = CliRunner()


def _env(settings: Settings) -> dict[str, str]:
    env = {"STOCKSYNC_DATABASE_URL": settings.database_url}
    if settings.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = settings.database_schema
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

"""`--tenant` names one tenant (id or name) everywhere, an unknown one is exit 2, nothing
creates a tenant unasked; tenant names are unique; keys are listed, revoked and rotated;
help and tables read well (both databases)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from stocksync.app.demo import DEMO_TENANT, seed_demo
from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.storage.engine import make_engine
from stocksync.storage.migrate import upgrade
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import tenants
from stocksync.storage.tenants import list_tenants, tenant_for_key
from tests.integration.test_cli import _env

runner = CliRunner()
EVENTS = Path(__file__).parents[2] / "examples" / "worked-example.jsonl"


def _tenant_count(svc: Stocksync) -> int:
    with svc.engine.connect() as conn:
        return len(list_tenants(conn))


def _key_of(output: str) -> str:
    return next(line for line in reversed(output.splitlines()) if line.startswith("sk_"))


@pytest.mark.parametrize("command", [
    ["verify", "--tenant", "typo"],
    ["inbox", "list", "--tenant", "typo"],
    ["reconcile", "--tenant", "typo"],
    ["keys", "list", "--tenant", "typo"],
    ["replay", str(EVENTS), "--tenant", "typo"],
])
def test_an_unknown_tenant_is_a_usage_error_and_creates_nothing(
        svc: Stocksync, db_settings: Settings, command: list[str]) -> None:
    result = runner.invoke(app, command, env=_env(db_settings))
    assert result.exit_code == 2, result.output
    assert "no tenant 'typo'" in result.output
    assert _tenant_count(svc) == 0


def test_tenant_names_and_ids_both_work_and_names_are_unique(
        svc: Stocksync, db_settings: Settings) -> None:
    seeded = seed_demo(svc)
    drain(svc.engine)
    for ref in (DEMO_TENANT, seeded.tenant_id):
        ok = runner.invoke(app, ["verify", "--tenant", ref], env=_env(db_settings))
        assert ok.exit_code == 0, ok.output
        assert "agree" in ok.output
    again = runner.invoke(app, ["tenants", "create", DEMO_TENANT], env=_env(db_settings))
    assert again.exit_code == 2 and "already exists" in again.output
    listed = runner.invoke(app, ["tenants", "list"], env=_env(db_settings))
    assert listed.exit_code == 0 and seeded.tenant_id in listed.output
    assert _tenant_count(svc) == 1


def test_replay_creates_a_tenant_only_when_asked(svc: Stocksync, db_settings: Settings) -> None:
    made = runner.invoke(app, ["replay", str(EVENTS), "--tenant", "worked-example",
                               "--create"], env=_env(db_settings))
    assert made.exit_code == 0, made.output
    with svc.engine.connect() as conn:
        assert tenant_for_key(conn, _key_of(made.output)) is not None
    again = runner.invoke(app, ["replay", str(EVENTS), "--tenant", "worked-example",
                                "--create"], env=_env(db_settings))
    assert again.exit_code == 0, again.output
    assert "applied 0" in again.output and _tenant_count(svc) == 1


def test_keys_are_listed_by_prefix_revoked_and_rotated(
        svc: Stocksync, db_settings: Settings) -> None:
    env = _env(db_settings)
    first = _key_of(runner.invoke(app, ["tenants", "create", "Acme"], env=env).output)
    made = runner.invoke(app, ["keys", "create", "--tenant", "Acme", "--label", "till"],
                         env=env)
    assert made.exit_code == 0, made.output
    second = _key_of(made.output)
    listed = runner.invoke(app, ["keys", "list", "--tenant", "Acme"], env=env)
    assert first[:10] in listed.output and second[:10] in listed.output
    assert "till" in listed.output and first not in listed.output  # never the key itself
    revoked = runner.invoke(app, ["keys", "revoke", first[:10], "--tenant", "Acme"], env=env)
    assert revoked.exit_code == 0, revoked.output
    rotated = runner.invoke(app, ["keys", "rotate", second[:10], "--tenant", "Acme"], env=env)
    assert rotated.exit_code == 0, rotated.output
    third = _key_of(rotated.output)
    with svc.engine.connect() as conn:
        assert tenant_for_key(conn, first) is None
        assert tenant_for_key(conn, second) is None
        assert tenant_for_key(conn, third) is not None
    unknown = runner.invoke(app, ["keys", "revoke", "sk_nothere", "--tenant", "Acme"], env=env)
    assert unknown.exit_code == 2 and "no API key" in unknown.output


def test_duplicate_tenant_names_are_renamed_safely_by_the_migration(
        db_settings: Settings) -> None:
    engine = make_engine(db_settings)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        for n, tenant_id in enumerate(("t_0000000000000001", "t_0000000000000002",
                                       "t_0000000000000003")):
            conn.execute(sa.text("INSERT INTO tenants (id, name, log_head, created_at) "
                                 "VALUES (:id, :name, 0, :at)"),
                         {"id": tenant_id, "name": "shop", "at": f"2026-01-0{n + 1} 00:00:00"})
    upgrade(engine)
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(tenants.c.id, tenants.c.name)).all())
    engine.dispose()
    assert names == {"t_0000000000000001": "shop",
                     "t_0000000000000002": "shop (t_0000000000000002)",
                     "t_0000000000000003": "shop (t_0000000000000003)"}


def test_help_shows_no_bool_metavar_and_there_is_a_version(db_settings: Settings) -> None:
    for command in (["--help"], ["reconcile", "--help"], ["inbox", "list", "--help"],
                    ["simulate", "shopify", "--help"]):
        shown = runner.invoke(app, command)
        assert shown.exit_code == 0 and "<bool>" not in shown.output, shown.output
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("stocksync 0.")


def test_inbox_list_refuses_an_unknown_status(db_settings: Settings) -> None:
    result = runner.invoke(app, ["inbox", "list", "--status", "bogus"], env=_env(db_settings))
    assert result.exit_code == 2
    assert "bogus" in result.output


def test_tables_are_not_cut_when_the_output_is_not_a_terminal(
        svc: Stocksync, db_settings: Settings) -> None:
    from stocksync.storage import inbox

    seeded = seed_demo(svc)
    error = "pos:T-1:0: " + "a long explanation of what went wrong " * 8 + "END"
    with svc.engine.begin() as conn:
        row = inbox.store(conn, tenant_id=seeded.tenant_id, channel="till", kind="pos",
                          delivery_id="T-1", topic="POS_TRANSACTION_COMPLETE", headers={},
                          body=json.dumps({}).encode(), now=svc.clock(), correlation_id=None)
        assert row is not None
        inbox.settle(conn, row, svc.clock(), error=error)
    result = runner.invoke(app, ["inbox", "list", "--tenant", DEMO_TENANT],
                           env=_env(db_settings))
    assert result.exit_code == 0, result.output
    assert error in result.output  # one line, whole

"""Kill the importing process (SIGKILL) in the middle of an apply, run the same command
again: it resumes, every row applies exactly once, and `stocksync verify` passes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.storage.tables import events, import_jobs, outbox
from tests.integration.test_import_formats import _csv, on_hand, tenant_with

ROWS = 12_000
KILL_TIMEOUT = 120.0


def _env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": settings.database_url,
           "STOCKSYNC_LOG_LEVEL": "WARNING"}
    if settings.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = settings.database_schema
    if settings.secret_key:
        env["STOCKSYNC_SECRET_KEY"] = settings.secret_key
    return env


def _progress(svc: Stocksync) -> tuple[str | None, int]:
    with svc.engine.connect() as conn:
        row = conn.execute(sa.select(import_jobs.c.status, import_jobs.c.rows_applied)).first()
    return (row[0], int(row[1])) if row else (None, 0)


def test_a_killed_apply_resumes_to_the_exact_result_and_verify_passes(
        svc: Stocksync, db_settings: Settings, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH", "EAST")
    # Deltas (a delivery note): a row applied twice would show as doubled stock.
    path = _csv(tmp_path / "delivery.csv", ["SKU", "Title", "Price", "WH", "EAST"],
                [[f"SKU-{i:05d}", f"Item {i}", "9.99", str(i % 7 + 1), str(i % 3 + 1)]
                 for i in range(ROWS)])
    command = [sys.executable, "-m", "stocksync.cli.main", "import", str(path),
               "--tenant", "acme", "--apply", "--deltas"]
    env = _env(db_settings)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + KILL_TIMEOUT
    try:
        while True:
            status, done = _progress(svc)
            if status == "applying" and done > 0:
                break
            assert proc.poll() is None, "the import finished before it could be killed"
            assert time.monotonic() < deadline, "the apply never started"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    status, done = _progress(svc)
    assert status == "applying" and 0 < done < ROWS, (status, done)

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming import" in resumed.stdout
    assert f"applied {ROWS - done} rows" in resumed.stdout
    assert _progress(svc) == ("applied", ROWS)
    for i in (0, 1, done - 1, done, ROWS - 1):  # both sides of the kill
        assert on_hand(svc, tenant, f"SKU-{i:05d}") == {"WH": i % 7 + 1, "EAST": i % 3 + 1}
    with svc.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one() == 0
        per_level = conn.execute(sa.select(events.c.sku, events.c.location, sa.func.count())
                                 .group_by(events.c.sku, events.c.location)).all()
        total = conn.execute(sa.select(sa.func.sum(events.c.quantity))).scalar_one()
    assert len(per_level) == 2 * ROWS and {n for _, _, n in per_level} == {1}
    assert total == sum(i % 7 + 1 + i % 3 + 1 for i in range(ROWS))
    check = subprocess.run([sys.executable, "-m", "stocksync.cli.main", "verify"], env=env,
                           capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ledger and levels agree" in check.stdout

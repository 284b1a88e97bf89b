"""Kill the process drafting the whole catalog (SIGKILL) in the middle, run the same
command again: it resumes after the last stored batch and every item ends with exactly
one draft per channel."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.core.catalog import Item
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.storage.tables_listings import listing_drafts, listing_jobs
from tests.conftest import new_tenant
from tests.integration.test_import_resume import _env

ITEMS = 3_000
KILL_TIMEOUT = 120.0
BRANDS = ("Levi's", "Schott", "Acme", "Nordwear")


def _catalog(svc: Stocksync) -> str:
    tenant = new_tenant(svc, "acme")
    now = svc.clock()
    with svc.uow(tenant.id) as uow:
        for code, kind in (("ebay-us", ChannelKind.EBAY), ("shop", ChannelKind.SHOPIFY)):
            uow.channels.add(Channel(tenant.id, code, kind, code, ChannelRules(("WH",))),
                             None, 0, now)
        for i in range(ITEMS):
            uow.catalog.put_item(Item(
                sku=f"SKU-{i:05d}", brand=BRANDS[i % 4], gender=("men", "women")[i % 2],
                material=("Cotton", "Wool", "Linen")[i % 3], garment_type="Shirt",
                size=("S", "M", "L")[i % 3], colour=("Navy", "Black", "Red")[i % 3]), now)
        uow.commit()
    return tenant.id


def _progress(svc: Stocksync) -> tuple[str | None, int]:
    with svc.engine.connect() as conn:
        row = conn.execute(sa.select(listing_jobs.c.status, listing_jobs.c.items_done)).first()
    return (row[0], int(row[1])) if row else (None, 0)


def _kill_once_drafting(proc: subprocess.Popen[bytes], svc: Stocksync) -> None:
    """SIGKILL the job's process once its first batch of drafts is stored."""
    deadline = time.monotonic() + KILL_TIMEOUT
    try:
        while _progress(svc)[1] == 0:
            assert proc.poll() is None and time.monotonic() < deadline, "no batch stored"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)


@pytest.mark.slow  # two CLI processes per database, whose start-up dominates: 15-35 s
def test_a_killed_catalog_job_resumes_and_drafts_every_item_once(
        svc: Stocksync, db_settings: Settings) -> None:
    tenant_id = _catalog(svc)
    command = [sys.executable, "-m", "stocksync.cli.main", "listings", "generate",
               "--tenant", "acme", "--all"]
    env = _env(db_settings)
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _kill_once_drafting(proc, svc)
    status, done = _progress(svc)
    assert status == "running" and 0 < done < ITEMS, (status, done)

    resumed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "resuming listing job" in resumed.stdout and f"after {done} of {ITEMS}" in \
        resumed.stdout
    assert f"drafted {ITEMS - done} items in this run ({ITEMS} in all)" in resumed.stdout
    assert _progress(svc) == ("done", ITEMS)
    with svc.engine.connect() as conn:
        per = conn.execute(sa.select(listing_drafts.c.sku, sa.func.count())
                           .where(listing_drafts.c.tenant_id == tenant_id)
                           .group_by(listing_drafts.c.sku)).all()
        titles = dict(conn.execute(sa.select(listing_drafts.c.sku, listing_drafts.c.title)
                                   .where(listing_drafts.c.channel == "ebay-us")).all())
    assert len(per) == ITEMS and {n for _, n in per} == {2}
    assert titles["SKU-00000"] == "Levi's Men's Cotton Shirt Size S Navy"
    assert titles[f"SKU-{ITEMS - 1:05d}"] == "Nordwear Women's Linen Shirt Size L Red"

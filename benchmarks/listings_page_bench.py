"""Listings page times: p50/p99 of the dashboard's listings pages with 30,000 items and a
draft per item on each channel (60,000 drafts with 2 channels), most pending.

The catalog is the dashboard benchmark's (bulk-inserted, a throwaway SQLite file or a
PostgreSQL schema); the drafts are bulk-inserted too (their titles are generated text,
not the rules' output: the pages' cost is reading and rendering them, which does not
depend on the words). The app runs under uvicorn in a subprocess with its workers off.

    .venv/bin/python -m benchmarks.listings_page_bench [--items 30000] [--channels 2]
        [--requests 40] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet
from rich.table import Table

from benchmarks import common
from benchmarks.dashboard_bench import database, measure, seed, sign_in, sku_of
from stocksync.app.service import Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.logs import configure as configure_logs
from stocksync.storage.tables_listings import listing_drafts

APPROVED_EVERY, REJECTED_EVERY = 7, 13  # the rest pending


def seed_drafts(svc: Stocksync, tenant_id: str, count: int, channels: int) -> None:
    now = svc.clock()
    for c in range(channels):
        rows = []
        for n in range(count):
            title = f"Brand{n % 15} Women's Cotton Garment{n % 15} Size M Black Regular Fit"
            status = "approved" if n % APPROVED_EVERY == 0 else (
                "rejected" if n % REJECTED_EVERY == 0 else "pending")
            rows.append({
                "id": uuid.uuid4().hex, "tenant_id": tenant_id, "sku": sku_of(n),
                "channel": f"ch{c:02d}", "channel_kind": "generic_http", "title": title,
                "title_limit": 255, "outcome": "rules", "reason": None, "model_title": None,
                "components": {"brand": "x", "gender": "x", "material": "x",
                               "garment_type": "x", "size": "M", "colour": "Black"},
                "warnings": ["'amazing' is a banned word"] if n % 5 == 0 else [],
                "aspects": {"Brand": [f"Brand{n % 15}"]}, "description": "Bench item.",
                "status": status, "edited": 0, "publish_state": None, "publish_error": None,
                "decided_by": None, "decided_at": None, "job_id": None, "created_at": now,
                "updated_at": now})
        with svc.engine.begin() as conn:
            conn.execute(sa.insert(listing_drafts), rows)
    if svc.engine.dialect.name == "postgresql":
        with svc.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))


def pages(count: int) -> list[tuple[str, str]]:
    middle = sku_of(count // 2)
    return [("listings (pending)", "/listings"),
            ("listings, any status, one channel", "/listings?status=any&channel=ch01"),
            ("listings, one SKU", f"/listings?status=any&sku={middle}"),
            ("listings page 150", f"/listings?after={sku_of(count // 2)}/ch00"),
            ("table fragment", "/listings/rows?status=pending"),
            ("item's listings", f"/listings/items/{middle}")]


def main() -> None:
    p = common.argument_parser("listings_page_bench", __doc__, database_url=False)
    p.add_argument("--items", type=int, default=30_000)
    p.add_argument("--channels", type=int, default=2)
    p.add_argument("--requests", type=int, default=40, help="timed fetches per page")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL URL (default: a throwaway SQLite file)")
    args = p.parse_args()
    console, started = common.begin()
    common.warn_if_busy(console)
    folder = Path(tempfile.mkdtemp(prefix="stocksync-listings-bench-"))
    with database(args.database_url, folder) as env:
        env.update(STOCKSYNC_SECRET_KEY=Fernet.generate_key().decode(),
                   STOCKSYNC_RUN_WORKERS="false", STOCKSYNC_LOG_LEVEL="warning",
                   STOCKSYNC_SECRET_KEY_FILE=str(folder / "key"))
        settings = Settings.from_env(env)
        configure_logs(settings.log_level)
        svc = build_service(settings)
        t0 = time.perf_counter()
        tenant_id, key = seed(svc, args.items, args.channels)
        seed_drafts(svc, tenant_id, args.items, args.channels)
        console.print(f"seeded {args.items:,} items and {args.items * args.channels:,} "
                      f"drafts in {time.perf_counter() - t0:.1f} s")
        svc.engine.dispose()
        results: dict[str, dict[str, float | None]] = {}
        with common.uvicorn_app(env) as url:
            client = sign_in(url, key)
            for name, path in pages(args.items):
                samples = measure(client, path, args.requests, args.warmup)
                results[name] = {"p50_ms": common.percentile_ms(samples, 0.5),
                                 "p99_ms": common.percentile_ms(samples, 0.99)}
            client.close()
    table = Table(title=f"Listings pages: {args.items:,} items, "
                  f"{args.items * args.channels:,} drafts, "
                  f"{'PostgreSQL' if args.database_url else 'SQLite'}, "
                  f"{args.requests} requests each")
    for column in ("page", "path", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column in ("page", "path") else "right")
    for name, path in pages(args.items):
        r = results[name]
        table.add_row(name, path, common.number(r["p50_ms"]), common.number(r["p99_ms"]))
    console.print(table)
    saved = common.save("listings_page_bench", started, vars(args), common.environment(
        args.database_url), results=results)
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()

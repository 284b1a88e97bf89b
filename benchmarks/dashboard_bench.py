"""Dashboard page times: p50/p99 of the main pages with 30,000 items and 10 channels.

The data is bulk-inserted into a throwaway SQLite file (or a PostgreSQL schema with
--database-url): one tenant, its items and stock levels, 10 generic HTTP channels each
tracking every SKU (a share of them pending, a few parked), movements with running
balances for a sample of SKUs through the ledger, a few dead letters and reconciliation
reports. `stocksync serve`'s app then runs under uvicorn in a subprocess with its workers
off (nothing changes while pages are timed), and each page is fetched --requests times
one after the other with a signed-in session cookie, after a warm-up.

    .venv/bin/python -m benchmarks.dashboard_bench [--items 30000] [--channels 10]
        [--requests 60] [--database-url postgresql+psycopg://...]
"""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rich.table import Table
from sqlalchemy import insert

from benchmarks import common
from stocksync.app.service import RequestMeta, Stocksync
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.core.catalog import Location
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.events import Event, EventType
from stocksync.logs import configure as configure_logs
from stocksync.storage import inbox
from stocksync.storage.sequencer import drain
from stocksync.storage.tables import channel_skus, items, reconciliations, stock_levels
from stocksync.storage.tenants import create_tenant

LOCATION = "WH"
SAMPLE_SKUS = 200  # SKUs given a real movement history through the ledger
MOVES_PER_SKU = 5
PENDING_EVERY = 50  # one SKU in 50 waits for its push on every channel
PARKED_EVERY = 997


def sku_of(n: int) -> str:
    return f"SKU-{n:06d}"


def seed(svc: Stocksync, count: int, channels: int) -> tuple[str, str]:
    """Everything the pages read; returns (tenant id, API key)."""
    now = svc.clock()
    with svc.engine.begin() as conn:
        tenant = create_tenant(conn, "dashboard-bench", now)
    skus = [sku_of(n) for n in range(count)]
    with svc.uow(tenant.id) as uow:
        uow.catalog.put_location(Location(LOCATION, "Bench warehouse"), now)
        uow.conn.execute(insert(items), [
            {"tenant_id": tenant.id, "sku": sku, "title": f"Bench product {n}",
             "attributes": {}, "barcodes": [f"{4_000_000_000_000 + n}"], "images": [],
             "created_at": now, "updated_at": now} for n, sku in enumerate(skus)])
        uow.conn.execute(insert(stock_levels), [
            {"tenant_id": tenant.id, "sku": sku, "location": LOCATION, "on_hand": 50,
             "reserved": 0, "pending": 0, "version": 1, "updated_at": now} for sku in skus])
        assert svc.box is not None
        for c in range(channels):
            uow.channels.add(Channel(
                tenant_id=tenant.id, code=f"ch{c:02d}", kind=ChannelKind.GENERIC_HTTP,
                name=f"Portal {c}", rules=ChannelRules(locations=(LOCATION,)),
                settings={"url": "http://127.0.0.1:9/inventory"}),
                svc.box.seal({"secret": "bench-secret"}), 0, now)
            uow.conn.execute(insert(channel_skus), [
                {"tenant_id": tenant.id, "channel": f"ch{c:02d}", "sku": sku,
                 "external_ids": {}, "wanted": 50, "wanted_sequence": 1, "attempts": 0,
                 "pushed": None if n % PENDING_EVERY == 0 else 50,
                 "pending_since": now - timedelta(seconds=30) if n % PENDING_EVERY == 0
                 else None,
                 "parked_reason": "bench: refused" if n % PARKED_EVERY == 0 else None}
                for n, sku in enumerate(skus)])
        uow.commit()
    _history(svc, tenant.id, skus[:SAMPLE_SKUS])
    with svc.engine.begin() as conn:
        for n in range(5):
            row = inbox.store(conn, tenant_id=tenant.id, channel="ch00", kind="generic_http",
                              delivery_id=f"bench-{n}", topic="inventory", headers={},
                              body=b"{}", now=now, correlation_id=None)
            assert row is not None
            inbox.settle(conn, row, now, error="bench: unknown SKU")
        conn.execute(insert(reconciliations), [
            {"id": str(uuid.uuid4()), "tenant_id": tenant.id, "channel": f"ch{c:02d}",
             "mode": "dry_run", "started_at": now, "finished_at": now, "compared": count,
             "drift_rate": 0.001, "applied": 0, "error": None,
             "report": {"mismatches": [], "status_mismatches": [], "missing": [],
                        "untracked": []}} for c in range(channels)])
    if svc.engine.dialect.name == "postgresql":
        # Bulk inserts leave the planner without statistics until autovacuum comes by (a
        # count over channel_skus then takes 17 ms instead of 2): what a live database has.
        with svc.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
    return tenant.id, tenant.api_key


def _history(svc: Stocksync, tenant_id: str, skus: list[str]) -> None:
    """Sales and receipts through the ledger, so running balances are real."""
    meta = RequestMeta(source="bench", actor="bench")
    for sku in skus:
        def moves(uow: object, ctx: object, sku: str = sku) -> None:
            for m in range(MOVES_PER_SKU):
                kind = EventType.SOLD if m % 2 else EventType.RECEIVED
                uow.ledger.append(Event(kind, sku, LOCATION, 1), ctx)  # type: ignore[attr-defined]

        svc.execute(tenant_id, meta, moves, lambda _: (201, {}), lambda e: (400, {}))
    drain(svc.engine)


PAGES = [("overview", "/overview"), ("overview fragment", "/overview/live"),
         ("status JSON", "/api/status"), ("items", "/items"),
         ("items search", "/items?q=product+2999"), ("items barcode", "/items?q=4000000012345"),
         ("items page 300", f"/items?after={sku_of(14_999)}"),
         ("item", f"/items/{sku_of(7)}"), ("item fragment", f"/items/{sku_of(7)}/live"),
         ("channels", "/channels"), ("channel", "/channels/ch03"),
         ("reconcile", "/reconcile"), ("inbox", "/inbox"), ("settings", "/settings")]


def sign_in(url: str, key: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert token is not None
    r = client.post("/login", data={"api_key": key, "csrf_token": token.group(1)})
    assert r.status_code == 303 and r.headers["location"] == "/overview", r.text
    return client


def measure(client: httpx.Client, path: str, requests: int, warmup: int) -> list[float]:
    samples = []
    for n in range(warmup + requests):
        started = time.perf_counter()
        r = client.get(path)
        took = time.perf_counter() - started
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        if n >= warmup:
            samples.append(took)
    return samples


@contextmanager
def database(url: str | None, folder: Path) -> Iterator[dict[str, str]]:
    """STOCKSYNC_* variables of a fresh database (a file, or a schema dropped after)."""
    if url is None:
        yield {"STOCKSYNC_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}"}
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield {"STOCKSYNC_DATABASE_URL": url, "STOCKSYNC_DATABASE_SCHEMA": schema}
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def main() -> None:
    p = common.argument_parser("dashboard_bench", __doc__, database_url=False)
    p.add_argument("--items", type=int, default=30_000)
    p.add_argument("--channels", type=int, default=10)
    p.add_argument("--requests", type=int, default=60, help="timed fetches per page")
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--database-url", default=None,
                   help="PostgreSQL URL (default: a throwaway SQLite file)")
    args = p.parse_args()
    console, started = common.begin()
    common.warn_if_busy(console)
    folder = Path(tempfile.mkdtemp(prefix="stocksync-dashboard-bench-"))
    with database(args.database_url, folder) as env:
        env.update(STOCKSYNC_SECRET_KEY=Fernet.generate_key().decode(),
                   STOCKSYNC_RUN_WORKERS="false", STOCKSYNC_LOG_LEVEL="warning",
                   STOCKSYNC_SECRET_KEY_FILE=str(folder / "key"))
        settings = Settings.from_env(env)
        configure_logs(settings.log_level)
        svc = build_service(settings)
        t0 = time.perf_counter()
        _, key = seed(svc, args.items, args.channels)
        console.print(f"seeded {args.items:,} items, {args.channels} channels in "
                      f"{time.perf_counter() - t0:.1f} s")
        svc.engine.dispose()
        results: dict[str, dict[str, float | None]] = {}
        with common.uvicorn_app(env) as url:
            client = sign_in(url, key)
            for name, path in PAGES:
                samples = measure(client, path, args.requests, args.warmup)
                results[name] = {"p50_ms": common.percentile_ms(samples, 0.5),
                                 "p99_ms": common.percentile_ms(samples, 0.99),
                                 "max_ms": max(samples) * 1000}
            client.close()
    table = Table(title=f"Dashboard pages: {args.items:,} items, {args.channels} channels, "
                  f"{'PostgreSQL' if args.database_url else 'SQLite'}, "
                  f"{args.requests} requests each")
    for column in ("page", "path", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column in ("page", "path") else "right")
    for name, path in PAGES:
        r = results[name]
        table.add_row(name, path, common.number(r["p50_ms"]), common.number(r["p99_ms"]),
                      common.number(r["max_ms"]))
    console.print(table)
    saved = common.save("dashboard_bench", started, vars(args), common.environment(
        args.database_url), results=results)
    console.print(f"saved {saved}")


if __name__ == "__main__":
    main()

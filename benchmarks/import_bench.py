"""Catalog import: preview and apply time and peak memory for a 30,000-row file (30k SKUs,
two warehouse columns, retail and cost prices, EAN-13 barcodes), as CSV and as XLSX, on
SQLite and on PostgreSQL, plus a 10,000-row file to show memory does not grow with the file.

Each case runs in its own process (so its peak RSS is its own): a fresh database (a SQLite
file, or a new PostgreSQL schema), one tenant with locations WH_MAIN and WH_EAST, then
`preview()` and `apply_job()` exactly as `stocksync import FILE --apply` runs them. Every
row creates an item and two `stock.counted` events. `sequence` is the time the sequencer
then takes to give those events their log positions (the worker does this in the
background; `verify` and channels need it).

    .venv/bin/python -m benchmarks.import_bench [--rows 10000 30000] [--databases sqlite
        postgres] [--formats csv xlsx] [--database-url URL]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from rich.table import Table

from benchmarks import common

LOCATIONS = ("WH_MAIN", "WH_EAST")
HEADERS = ["SKU", "EAN", "Title", "Price", "Cost", "Stock WH_MAIN", "Stock WH_EAST"]


def rows_of(count: int) -> Any:
    from stocksync.imports.barcodes import check_digit

    for i in range(count):
        body = f"20{i:010d}"
        yield [f"SKU-{i:06d}", body + str(check_digit(body)), f"Item {i}",
               f"{10 + i % 90}.99", f"{4 + i % 40}.50", i % 50, (i * 7) % 30]


def write_file(folder: Path, fmt: str, count: int) -> Path:
    path = folder / f"catalog-{count}.{fmt}"
    if path.exists():
        return path
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(HEADERS)
            writer.writerows(rows_of(count))
    else:
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet("Stock")
        sheet.append(HEADERS)
        for row in rows_of(count):
            sheet.append(row)
        book.save(path)
    return path


def run_case(database: str, path: Path, pg_url: str) -> dict[str, Any]:
    """One import in this process: returns its timings and memory."""
    from cryptography.fernet import Fernet

    from stocksync.bootstrap import build_service
    from stocksync.config import Settings
    from stocksync.core.catalog import Location
    from stocksync.imports.applier import apply_job
    from stocksync.imports.preview import ImportOptions, preview
    from stocksync.storage.sequencer import drain
    from stocksync.storage.tenants import create_tenant

    secret = Fernet.generate_key().decode()
    schema = None
    with tempfile.TemporaryDirectory() as folder:
        if database == "sqlite":
            settings = Settings(database_url=f"sqlite:///{folder}/bench.db", run_workers=False,
                                secret_key=secret)
        else:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            with sa.create_engine(pg_url).begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
            settings = Settings(database_url=pg_url, database_schema=schema, run_workers=False,
                                secret_key=secret)
        try:
            svc = build_service(settings)
            with svc.engine.begin() as conn:
                tenant = create_tenant(conn, "bench", svc.clock())
            with svc.uow(tenant.id) as uow:
                for code in LOCATIONS:
                    uow.catalog.put_location(Location(code, code), svc.clock())
                uow.commit()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            t0 = time.perf_counter()
            job_id = preview(svc, tenant.id, path, ImportOptions())
            t1 = time.perf_counter()
            report = apply_job(svc, tenant.id, job_id)
            t2 = time.perf_counter()
            drain(svc.engine)
            t3 = time.perf_counter()
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            svc.engine.dispose()
        finally:
            if schema:
                with sa.create_engine(pg_url).begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    return {"preview_s": t1 - t0, "apply_s": t2 - t1, "sequence_s": t3 - t2,
            "applied": report.applied, "peak_rss_mb": rss_after / 1024,
            "rss_growth_mb": (rss_after - rss_before) / 1024}


def run_child(database: str, path: Path, pg_url: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.import_bench", "--child",
                           database, str(path), "--database-url", pg_url],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("import_bench", __doc__)
    p.add_argument("--rows", type=int, nargs="+", default=[10_000, 30_000])
    p.add_argument("--databases", nargs="+", choices=("sqlite", "postgres"),
                   default=["sqlite", "postgres"])
    p.add_argument("--formats", nargs="+", choices=("csv", "xlsx"), default=["csv", "xlsx"])
    p.add_argument("--child", nargs=2, metavar=("DATABASE", "FILE"), help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        print(json.dumps(run_case(args.child[0], Path(args.child[1]), args.database_url)))
        return
    console, started = common.begin()
    common.warn_if_busy(console)
    results = []
    with tempfile.TemporaryDirectory(prefix="import-bench-") as folder:
        for count in args.rows:
            for fmt in args.formats:
                path = write_file(Path(folder), fmt, count)
                for database in args.databases:
                    console.print(f"{database} {fmt} {count:,} rows ...", highlight=False)
                    results.append({"database": database, "format": fmt, "rows": count,
                                    "file_mb": path.stat().st_size / 1e6,
                                    **run_child(database, path, args.database_url)})
    table = Table(title="catalog import")
    for name in ("database", "format", "rows", "file MB", "preview s", "apply s",
                 "apply rows/s", "sequence s", "peak RSS MB", "RSS growth MB"):
        table.add_column(name, justify="left" if name in ("database", "format") else "right")
    for r in results:
        table.add_row(r["database"], r["format"], f"{r['rows']:,}",
                      common.number(r["file_mb"]), common.number(r["preview_s"], 2),
                      common.number(r["apply_s"], 2),
                      common.number(r["rows"] / r["apply_s"], 0),
                      common.number(r["sequence_s"], 2), common.number(r["peak_rss_mb"]),
                      common.number(r["rss_growth_mb"]))
    console.print(table)
    path = common.save("import_bench", started, vars(args), common.environment(
        args.database_url if "postgres" in args.databases else None), results=results)
    console.print(f"saved {path}")


if __name__ == "__main__":
    main()

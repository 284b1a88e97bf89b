"""Hot SKU over HTTP (issue 12): `stocksync serve` against two naive async services on the
same PostgreSQL, run alternately, 64 keep-alive connections from wrk, several rounds.

- P1: successful reservations/s, stocksync / naive `FOR UPDATE` service
- P2: stocksync / naive conditional-`UPDATE` service
- P4: stock read p99 (`GET /v1/stock/{sku}`, one more connection) while that load runs
- a sell-out of 500 units per implementation first: exactly 500 holds, 0 oversell

Each server runs in its own process only during its own phase (a fresh one per phase, so
no warm pool carries over), the load comes from wrk (C, little CPU), and everything lives
in a throwaway schema dropped at the end. Needs `wrk` (apt-get install wrk).

    .venv/bin/python -m benchmarks.http_hot_sku [--seconds 10] [--rounds 3] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from rich.table import Table
from sqlalchemy import make_url

from benchmarks import common
from benchmarks.hot_sku import LOCATION, StocksyncTarget
from benchmarks.naive_service import TABLES
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.core.catalog import Location
from stocksync.storage.tenants import create_tenant

HERE = Path(__file__).parent
ROOT = HERE.parent
THROUGHPUT_STOCK = 10_000_000
SELLOUT_STOCK = 500
SELLOUT_SECONDS = 4.0
WARMUP_SECONDS = 1.0
NAIVE_KEY = "naive-bench-key"
NAIVE_POOL = 20  # the same as stocksync's default STOCKSYNC_DB_POOL_SIZE
IMPLEMENTATIONS = ("naive FOR UPDATE", "naive conditional UPDATE", "stocksync serve")


@dataclass(slots=True)
class Row:
    phase: str
    implementation: str
    ok_per_s: float
    created: int
    refused: int
    other: int
    socket_errors: int
    p50_ms: float
    p99_ms: float
    read_p50_ms: float | None
    read_p99_ms: float | None
    reads: int
    load_average: float
    problems: list[str] = field(default_factory=list)


def _wrk(args: list[str], seconds: float, connections: int, threads: int) -> subprocess.Popen[str]:
    return subprocess.Popen(["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s",
                             "--timeout", "10s", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _result(proc: subprocess.Popen[str]) -> dict[str, int]:
    out, _ = proc.communicate(timeout=120)
    for line in out.splitlines():
        if line.startswith("RESULT "):
            found: dict[str, int] = json.loads(line[7:])
            return found
    raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")


class Bench:
    def __init__(self, args: argparse.Namespace, schema: str, dsn: str) -> None:
        self.args, self.schema, self.dsn = args, schema, dsn
        self.svc = build_service(Settings(database_url=args.database_url,
                                          database_schema=schema, run_workers=False))
        with self.svc.engine.begin() as conn:
            self.tenant = create_tenant(conn, "bench", self.svc.clock())
        with self.svc.uow(self.tenant.id) as uow:
            uow.catalog.put_location(Location(LOCATION, "Bench warehouse"), self.svc.clock())
            uow.commit()
        self.stocksync = StocksyncTarget(self.svc, self.tenant)
        with psycopg.connect(dsn) as conn:
            for ddl in TABLES:
                conn.execute(ddl)

    # ---- servers -------------------------------------------------------------------------

    def server(self, implementation: str) -> tuple[list[str], dict[str, str], str]:
        python = sys.executable
        if implementation.startswith("stocksync serve"):
            cmd = [str(Path(python).parent / "stocksync"), *implementation.split()[1:]]
            return cmd, {"STOCKSYNC_DATABASE_URL": self.args.database_url,
                         "STOCKSYNC_DATABASE_SCHEMA": self.schema,
                         "STOCKSYNC_LOG_LEVEL": "warning"}, self.tenant.api_key
        mode = "forupdate" if "FOR UPDATE" in implementation else "conditional"
        cmd = [python, "-m", "uvicorn", "--factory", "benchmarks.naive_service:create_app",
               "--host", "127.0.0.1", "--log-level", "warning", "--no-access-log"]
        return cmd, {"NAIVE_MODE": mode, "NAIVE_DSN": self.dsn, "NAIVE_KEY": NAIVE_KEY,
                     "NAIVE_POOL": str(NAIVE_POOL)}, NAIVE_KEY

    def prepare(self, implementation: str, sku: str, units: int) -> None:
        if implementation.startswith("stocksync serve"):
            self.stocksync.prepare(sku, units)
            self.stocksync.idle()
        else:
            with psycopg.connect(self.dsn) as conn:
                conn.execute("INSERT INTO naive_levels (sku, on_hand) VALUES (%s, %s)",
                             (sku, units))

    def check(self, implementation: str, sku: str, created: int) -> tuple[int, list[str]]:
        """Oversold units and disagreeing counts, read from the database."""
        if implementation.startswith("stocksync serve"):
            found = self.stocksync.check(sku, created)
            self.stocksync.idle()
            return found.oversold, list(found.problems)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            level = conn.execute("SELECT on_hand, reserved FROM naive_levels WHERE sku = %s",
                                 (sku,)).fetchone()
            holds = conn.execute("SELECT coalesce(sum(quantity), 0) FROM naive_holds "
                                 "WHERE sku = %s", (sku,)).fetchone()
        assert level is not None and holds is not None
        on_hand, held = int(level[0]), int(holds[0])
        problems = [] if held == created else [f"{held} held != {created} acknowledged"]
        if "conditional" in implementation and int(level[1]) != held:
            problems.append(f"reserved {level[1]} != {held} held")
        return max(0, held - on_hand, created - on_hand), problems

    # ---- one phase -------------------------------------------------------------------------

    def phase(self, phase: str, implementation: str, sku: str, units: int,
              seconds: float, warmup: float) -> Row:
        self.prepare(implementation, sku, units)
        cmd, env, key = self.server(implementation)
        body = json.dumps({"sku": sku, "quantity": 1, "location": LOCATION})
        tag = secrets.token_hex(3)
        reserve = ["-s", str(HERE / "wrk" / "reserve.lua")]
        with common.server_process(cmd, {**os.environ, **env}, cwd=ROOT,
                                   stdout=subprocess.DEVNULL) as url:
            if warmup:
                _result(_wrk([*reserve, url, "--", "/v1/reservations", body, key,
                              f"w{tag}"], warmup, self.args.clients, 2))
            load = os.getloadavg()[0]
            writes = _wrk([*reserve, url, "--", "/v1/reservations", body, key, f"m{tag}"],
                          seconds, self.args.clients, 2)
            reads = _wrk(["-s", str(HERE / "wrk" / "read.lua"), f"{url}/v1/stock/{sku}",
                          "--", key], seconds, 1, 1)
            written, read = _result(writes), _result(reads)
        created = written["created"]
        total = created
        if warmup:  # the warm-up's holds are in the database too
            total = self._held(implementation, sku)
        oversold, problems = self.check(implementation, sku, total)
        if units == SELLOUT_STOCK and created != units:
            problems.append(f"sold {created} of {units}")
        if written["other"] or written["socket_errors"]:
            problems.append(f"{written['other']} other answers, "
                            f"{written['socket_errors']} socket errors")
        if read["non2xx"]:
            problems.append(f"{read['non2xx']} failed reads")
        return Row(phase, implementation, round(created / (written["duration_us"] / 1e6), 1),
                   created, written["refused"], written["other"], written["socket_errors"],
                   written["p50_us"] / 1000, written["p99_us"] / 1000,
                   read["p50_us"] / 1000 if read["requests"] else None,
                   read["p99_us"] / 1000 if read["requests"] else None, read["requests"],
                   round(load, 2), [*problems, *([f"{oversold} oversold"] if oversold else [])])

    def _held(self, implementation: str, sku: str) -> int:
        if implementation.startswith("stocksync serve"):
            with self.svc.engine.connect() as conn:
                from sqlalchemy import func, select

                from stocksync.storage.tables import reservations
                total = conn.execute(select(func.count()).where(
                    reservations.c.tenant_id == self.tenant.id,
                    reservations.c.sku == sku)).scalar_one()
            self.stocksync.idle()
            return int(total)
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM naive_holds WHERE sku = %s",
                               (sku,)).fetchone()
        return int(row[0]) if row else 0


def run(bench: Bench, args: argparse.Namespace, rows: list[Row]) -> None:
    console = common.report_console()
    every = [*IMPLEMENTATIONS, *([f"stocksync serve --workers {args.workers}"]
                                 if args.workers > 1 else [])]
    chosen = [i for i in every if args.only is None or args.only in i]
    for n, implementation in enumerate(chosen):
        console.print(f"sell-out: {implementation}, {SELLOUT_STOCK} units …")
        rows.append(bench.phase("sell-out", implementation, f"SELL-{n}", SELLOUT_STOCK,
                                SELLOUT_SECONDS, 0.0))
    for rnd in range(1, args.rounds + 1):
        for n, implementation in enumerate(chosen):
            console.print(f"round {rnd}: {implementation} (load average "
                          f"{os.getloadavg()[0]:.1f}) …")
            rows.append(bench.phase(f"round {rnd}", implementation, f"HOT-{rnd}-{n}",
                                    THROUGHPUT_STOCK, args.seconds, WARMUP_SECONDS))


def ratios(rows: Sequence[Row]) -> dict[str, float]:
    """Median over rounds of stocksync ÷ each baseline (P1, P2), and stocksync's read p99
    (the median and the worst of the rounds), for each way stocksync was served."""
    rates: dict[str, list[float]] = {}
    for row in rows:
        if row.phase.startswith("round"):
            rates.setdefault(row.implementation, []).append(row.ok_per_s)
    out: dict[str, float] = {}
    for served in (name for name in rates if name.startswith("stocksync serve")):
        tag = "" if served == "stocksync serve" else f" ({served[len('stocksync serve '):]})"
        for label, name in (("P1", "naive FOR UPDATE"), ("P2", "naive conditional UPDATE")):
            if rates.get(name):
                out[label + tag] = round(statistics.median(rates[served])
                                         / statistics.median(rates[name]), 2)
        p99s = [r.read_p99_ms for r in rows if r.implementation == served
                and r.phase.startswith("round") and r.read_p99_ms is not None]
        if p99s:
            out[f"P4 read p99 ms median{tag}"] = round(statistics.median(p99s), 1)
            out[f"P4 read p99 ms worst{tag}"] = round(max(p99s), 1)
    return out


def report(rows: Sequence[Row]) -> None:
    console = common.report_console()
    table = Table(title="hot SKU over HTTP: POST /v1/reservations, one unit, 64 connections")
    cols = ("phase", "implementation", "ok/s", "created", "refused", "p50 ms", "p99 ms",
            "read p50 ms", "read p99 ms", "reads", "load avg", "checks")
    for col in cols:
        table.add_column(col, justify="left" if col in ("phase", "implementation", "checks")
                         else "right")
    for r in rows:
        table.add_row(r.phase, r.implementation, f"{r.ok_per_s:,.1f}", str(r.created),
                      str(r.refused), f"{r.p50_ms:.1f}", f"{r.p99_ms:.1f}",
                      common.number(r.read_p50_ms), common.number(r.read_p99_ms),
                      str(r.reads), f"{r.load_average:.2f}", "; ".join(r.problems) or "ok")
    console.print(table)
    for label, value in ratios(rows).items():
        console.print(f"{label}: [bold]{value}[/bold]")


def main(argv: Sequence[str] | None = None) -> int:
    p = common.argument_parser("http_hot_sku", __doc__)
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=1,
                   help="also run `stocksync serve --workers N` (N > 1)")
    p.add_argument("--only", help="run only implementations whose name contains this")
    args = p.parse_args(argv)
    if shutil.which("wrk") is None:
        p.error("wrk is not installed (apt-get install wrk)")
    _, started = common.begin()
    url = make_url(args.database_url)
    base_dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"bench_{secrets.token_hex(6)}"
    dsn = make_conninfo(base_dsn, options=f"-c search_path={schema}")
    env = common.environment(args.database_url, ("server_version", "synchronous_commit",
                                                 "max_connections"))
    rows: list[Row] = []
    with psycopg.connect(base_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        bench = None
        try:
            bench = Bench(args, schema, dsn)
            run(bench, args, rows)
        except KeyboardInterrupt:
            print("interrupted: partial results, schema dropped")
        finally:
            if bench is not None:
                bench.svc.engine.dispose()
            admin.execute("SET lock_timeout = '15s'")
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    report(rows)
    path = common.save("http_hot_sku", started, vars(args), env,
                       rows=[asdict(r) for r in rows], ratios=ratios(rows))
    print(f"results: {path}")
    return 1 if any(r.problems for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

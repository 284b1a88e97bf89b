"""Webhooks: signed POS deliveries at a steady rate, acknowledged, then applied exactly once.

The real server (`stocksync serve` in a subprocess, workers on) receives distinct signed
POS_TRANSACTION_COMPLETE deliveries (one or two lines of -1 on a few hundred SKUs) at a
steady --rate for --seconds (open loop: every request has a planned send time), plus ~5 %
exact redeliveries of earlier bodies that must be answered 200 "duplicate". The senders are
threads of this process with one keep-alive connection each and pre-signed bodies.

Before each database, the same senders send the same bodies to a no-op server for
--generator-check seconds, so a shortfall in "rate sent" can be told apart from one of the
senders themselves (the machine has 2 cores and may be busy).

Measured per database:

- ack: send -> response of POST /webhooks/pos/{id} (verify, store in the inbox, commit, 2xx);
- ack -> ledger: `processed_at - received_at` of each accepted delivery, read back through
  `GET /v1/inbox?status=done&after=<id>&limit=1000` (the ingest worker settles a delivery
  right after the commit that applied its sales);
- drain: from the last ack until the last accepted delivery was applied (the backlog);
- exactly-once: the total on-hand decrease equals the lines of the deliveries the inbox
  holds as done, every acknowledged delivery is done, and `stocksync verify` exits 0.

Everything lives in a throwaway SQLite file or PostgreSQL schema that is removed at the end,
also on Ctrl-C or SIGTERM.

    .venv/bin/python -m benchmarks.webhooks [--db sqlite|postgres|both] [--rate 500]
        [--seconds 10] [--threads 16] [--skus 300] [--drain-timeout 300]
        [--generator-check 3]
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
import sqlalchemy as sa
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table
from starlette.types import Receive, Scope
from starlette.types import Send as AsgiSend

from benchmarks import common
from benchmarks.common import free_port, number, percentile_ms, print_notes
from stocksync.ingest.pos import EVENT, pos_signature

LOCATION = "STORE12"
STORE_ID = "12"
CHANNEL = "till"
POS_SECRET = "webhooks-bench-till-secret"
STOCK = 1_000_000  # per SKU: no sale is ever refused
REDELIVERY_SHARE = 0.05
REDELIVERY_MIN_AGE_SECONDS = 0.5  # a redelivery repeats a body planned at least this earlier
LATE_SECONDS = 0.010  # a request sent this long after its planned time counts as late
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
SEED_THREADS = 8
STOCK_READ_CHUNK = 200  # GET /v1/stock takes at most 200 SKUs
INBOX_PAGE = 1000  # GET /v1/inbox takes at most 1000 rows
DRAIN_SECONDS = 300.0  # default of --drain-timeout
POLL_SECONDS = 0.25
SERVER_START_SECONDS = 30.0
CLI_SECONDS = 120.0  # tenants create, verify
JOIN_SECONDS = 45.0  # a stopping sender may be waiting for its last answer
ROOT = Path(__file__).parent.parent


# ---- what is sent ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Txn:
    """One till transaction: one delivery, sent once (and maybe redelivered)."""

    id: str
    lines: int


@dataclass(frozen=True, slots=True)
class Planned:
    slot: int  # planned at start + slot / rate
    txn: int  # index into the plan's transactions
    redelivery: bool
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Plan:
    txns: list[Txn]
    sends: list[Planned]


def pos_body(lines: Sequence[str], txn: str) -> bytes:
    return json.dumps({
        "event": EVENT, "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "store_id": STORE_ID, "transaction_id": txn,
        "line_items": [{"sku": sku, "quantity_change": -1} for sku in lines]}).encode()


def build_plan(rate: float, seconds: float, skus: Sequence[str], rng: random.Random,
               prefix: str) -> Plan:
    """Every body signed up front, so the senders only send. A redelivery repeats the exact
    bytes of an original planned at least REDELIVERY_MIN_AGE_SECONDS earlier."""
    total = max(1, round(rate * seconds))
    min_back = max(1, round(rate * REDELIVERY_MIN_AGE_SECONDS))
    txns: list[Txn] = []
    sends: list[Planned] = []
    originals: list[Planned] = []  # in slot order
    original_slots: list[int] = []
    for slot in range(total):
        eligible = bisect.bisect_right(original_slots, slot - min_back)
        if eligible and rng.random() < REDELIVERY_SHARE:
            first = originals[rng.randrange(eligible)]
            sends.append(Planned(slot, first.txn, True, first.body, first.headers))
            continue
        lines = rng.sample(skus, k=1 if rng.random() < 0.5 else 2)
        txn = Txn(f"{prefix}-{len(txns):07d}", len(lines))
        body = pos_body(lines, txn.id)
        send = Planned(slot, len(txns), False, body,
                       {"Content-Type": "application/json",
                        "X-POS-Signature": pos_signature(POS_SECRET, body)})
        txns.append(txn)
        sends.append(send)
        originals.append(send)
        original_slots.append(slot)
    return Plan(txns, sends)


# ---- the load: open loop, threads with one keep-alive connection each ------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    slot: int
    planned: float  # perf_counter()
    sent: float  # perf_counter() just before the request
    answered: float
    status: int  # 0: no answer
    outcome: str  # accepted | duplicate | the error
    inbox_id: int | None


@dataclass(slots=True)
class Load:
    base_url: str
    path: str
    plan: Plan
    rate: float
    ready: threading.Barrier
    start: float = 0.0
    counter: Iterator[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    answers: list[Answer] = field(default_factory=list)

    def take(self) -> int | None:
        with self.lock:
            slot = next(self.counter)
        return slot if slot < len(self.plan.sends) else None


def _outcome(r: httpx.Response) -> tuple[str, int | None]:
    try:
        doc = r.json()
    except ValueError:
        return f"status {r.status_code}: {r.text[:120]}", None
    if r.status_code == 200 and isinstance(doc, dict) and doc.get("status") in (
            "accepted", "duplicate"):
        found = doc.get("id")
        return str(doc["status"]), int(found) if found is not None else None
    return f"status {r.status_code}: {json.dumps(doc)[:120]}", None


def _sender(load: Load) -> None:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    with httpx.Client(base_url=load.base_url, timeout=REQUEST_TIMEOUT, limits=limits) as http:
        with suppress(httpx.HTTPError):
            http.get("/v1/health")  # the keep-alive connection is open before the clock starts
        with suppress(threading.BrokenBarrierError):
            load.ready.wait()
        while not load.stop.is_set() and (slot := load.take()) is not None:
            send = load.plan.sends[slot]
            planned = load.start + slot / load.rate
            if (delay := planned - time.perf_counter()) > 0:
                time.sleep(delay)
            sent = time.perf_counter()
            try:
                r = http.post(load.path, content=send.body, headers=send.headers)
                answered = time.perf_counter()
                outcome, inbox_id = _outcome(r)
                status = r.status_code
            except httpx.HTTPError as exc:
                answered, status, inbox_id = time.perf_counter(), 0, None
                outcome = f"{type(exc).__name__}: {exc}"[:160]
            load.answers.append(Answer(slot, planned, sent, answered, status, outcome,
                                       inbox_id))


@dataclass(frozen=True, slots=True)
class Sent:
    answers: list[Answer]  # in slot order
    start: float  # perf_counter() of slot 0
    wall_start: float  # time.time() at `start`
    generator_cpu: float  # CPU seconds this process used during the load
    server_cpu: float | None  # CPU seconds the server process used during the load


def cpu_seconds(pid: int) -> float | None:
    """user + system CPU of a process (Linux), in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def send_all(base_url: str, path: str, plan: Plan, rate: float, threads: int,
             server_pid: int) -> Sent:
    load = Load(base_url, path, plan, rate, threading.Barrier(threads + 1, timeout=60))
    workers = [threading.Thread(target=_sender, args=(load,), daemon=True,
                                name=f"sender-{i}") for i in range(threads)]
    for worker in workers:
        worker.start()
    server_before = cpu_seconds(server_pid)
    cpu_before = time.process_time()
    try:
        load.start = time.perf_counter() + 0.1
        wall_start = time.time() + (load.start - time.perf_counter())
        load.ready.wait()
        for worker in workers:
            while worker.is_alive():
                worker.join(0.05)
    finally:
        load.stop.set()
        load.ready.abort()
        deadline = time.monotonic() + JOIN_SECONDS
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
    server_after = cpu_seconds(server_pid)
    server_cpu = (None if server_before is None or server_after is None
                  else server_after - server_before)
    return Sent(sorted(load.answers, key=lambda a: a.slot), load.start, wall_start,
                time.process_time() - cpu_before, server_cpu)


def send_rate(sent: Sent, rate: float) -> float:
    """Requests per second from the first planned send to the last send."""
    if not sent.answers:
        return 0.0
    return len(sent.answers) / (max(a.sent for a in sent.answers) - sent.start + 1 / rate)


# ---- can the senders alone keep --rate? -------------------------------------------------------


async def noop_app(scope: Scope, receive: Receive, send: AsgiSend) -> None:
    """Answers every request at once like an accepted delivery: what the senders reach
    against it is the most they can send on this machine."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = bool((await receive()).get("more_body", False))
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"status": "accepted", "id": 1}'})


@dataclass(frozen=True, slots=True)
class GeneratorCheck:
    seconds: float
    rate_asked: float
    rate_sent: float
    late_sends: int
    ack_p99_ms: float | None
    cpu_pct: float  # of one core, this process


def check_generator(args: argparse.Namespace) -> GeneratorCheck:
    """The same senders and bodies against `noop_app` under uvicorn in its own process."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "benchmarks.webhooks:noop_app",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level",
                             "warning", "--no-access-log"], cwd=ROOT,
                            stdin=subprocess.DEVNULL)
    try:
        url = wait_up(proc, port, "/")
        plan = build_plan(args.rate, args.generator_check, ["CHECK-1", "CHECK-2"],
                          random.Random(0), prefix="CHECK")
        sent = send_all(url, "/webhooks/pos/noop", plan, args.rate, args.threads, proc.pid)
    finally:
        stop(proc)
    rate = send_rate(sent, args.rate)
    seconds = len(sent.answers) / rate if rate else args.generator_check
    return GeneratorCheck(
        args.generator_check, args.rate, round(rate, 1),
        sum(a.sent - a.planned > LATE_SECONDS for a in sent.answers),
        percentile_ms([a.answered - a.sent for a in sent.answers], 0.99),
        round(100 * sent.generator_cpu / seconds, 1))


# ---- stocksync: database, server, tenant, seed, channel --------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    db: str
    env: dict[str, str]


@contextmanager
def database(db: str, pg_url: str, workdir: Path) -> Iterator[Target]:
    """Environment for an empty database: a SQLite file in `workdir` or a fresh PostgreSQL
    schema, dropped afterwards."""
    env = {**os.environ, "STOCKSYNC_SECRET_KEY": Fernet.generate_key().decode(),
           "STOCKSYNC_SECRET_KEY_FILE": str(workdir / "stocksync.key"),
           "STOCKSYNC_LOG_LEVEL": "warning"}
    if db == "sqlite":
        yield Target(db, {**env, "STOCKSYNC_DATABASE_URL": f"sqlite:///{workdir / 'wh.db'}"})
        return
    schema = f"bench_wh_{os.urandom(6).hex()}"
    admin = sa.create_engine(pg_url, connect_args={"connect_timeout": 5})
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            yield Target(db, {**env, "STOCKSYNC_DATABASE_URL": pg_url,
                              "STOCKSYNC_DATABASE_SCHEMA": schema})
        finally:
            with admin.begin() as conn:
                conn.execute(sa.text("SET LOCAL lock_timeout = '15s'"))
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def cli(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stocksync.cli.main", *args], env=target.env,
                          capture_output=True, text=True, timeout=CLI_SECONDS,
                          stdin=subprocess.DEVNULL, check=False)


def create_tenant(target: Target) -> str:
    """`stocksync tenants create`: its last line is the API key."""
    done = cli(target, "tenants", "create", "webhooks-bench")
    if done.returncode != 0:
        raise RuntimeError(f"tenants create exited {done.returncode}: {done.stderr[-500:]}")
    return done.stdout.strip().splitlines()[-1].strip()


@dataclass(frozen=True, slots=True)
class Server:
    url: str
    pid: int


@contextmanager
def stocksync_server(target: Target, log: TextIO) -> Iterator[Server]:
    """`stocksync serve` (API and workers in one process), its output into `log`."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "serve", "--port",
                             str(port)], env=target.env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        yield Server(wait_up(proc, port, "/v1/health"), proc.pid)
    finally:
        stop(proc)


def wait_up(proc: subprocess.Popen[bytes], port: int, path: str) -> str:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        with suppress(httpx.HTTPError):
            if httpx.get(url + path, timeout=1).status_code == 200:
                return url
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.1)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _ok(r: httpx.Response, what: str) -> httpx.Response:
    if r.status_code >= 300:
        raise RuntimeError(f"{what}: {r.status_code} {r.text[:300]}")
    return r


def seed(http: httpx.Client, skus: Sequence[str]) -> None:
    """A store location and every SKU with STOCK units, through the API."""
    _ok(http.put(f"/v1/locations/{LOCATION}", json={"name": "Bench store", "kind": "store"}),
        "location")

    def one(sku: str) -> None:
        _ok(http.put(f"/v1/items/{sku}", json={"title": f"bench {sku}"}), f"item {sku}")
        _ok(http.post("/v1/movements", json={"type": "receive", "sku": sku,
                                             "location": LOCATION, "quantity": STOCK}),
            f"receive {sku}")

    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(one, skus))


def add_channel(http: httpx.Client) -> str:
    r = _ok(http.post("/v1/channels", json={
        "code": CHANNEL, "kind": "pos", "name": "Bench till", "locations": [LOCATION],
        "settings": {f"store.{STORE_ID}": LOCATION},
        "credentials": {"webhook_secret": POS_SECRET}}), "channel")
    return str(r.json()["webhook_path"])


def on_hand_total(http: httpx.Client, skus: Sequence[str]) -> int:
    total = 0
    for start in range(0, len(skus), STOCK_READ_CHUNK):
        chunk = skus[start:start + STOCK_READ_CHUNK]
        r = _ok(http.get("/v1/stock", params=[("sku", sku) for sku in chunk]), "stock")
        total += sum(int(item["on_hand"]) for item in r.json()["items"])
    return total


# ---- after the load: the inbox -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    id: int
    delivery_id: str
    received_at: datetime
    processed_at: datetime


def inbox_rows(http: httpx.Client, status: str) -> list[dict[str, Any]]:
    """Every delivery with `status`, paged by id as GET /v1/inbox?after=<id> serves them."""
    rows: list[dict[str, Any]] = []
    after = 0
    while True:
        page = _ok(http.get("/v1/inbox", params={"status": status, "after": after,
                                                  "limit": INBOX_PAGE}), "inbox").json()
        rows += page
        if len(page) < INBOX_PAGE:
            return rows
        after = int(page[-1]["id"])


def pending_left(http: httpx.Client) -> bool:
    r = _ok(http.get("/v1/inbox", params={"status": "pending", "limit": 1}), "inbox")
    return bool(r.json())


def wait_drained(http: httpx.Client, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pending_left(http):
            return True
        time.sleep(POLL_SECONDS)
    return not pending_left(http)


def _settled(row: dict[str, Any]) -> Settled:
    return Settled(int(row["id"]), str(row["delivery_id"]),
                   datetime.fromisoformat(row["received_at"]),
                   datetime.fromisoformat(row["processed_at"]))


# ---- what one database measured ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    db: str
    rate_asked: float
    rate_sent: float  # requests sent / (last send - first planned send + one interval)
    accepted_per_s: float  # accepted / (last answer - first planned send)
    ack_p50_ms: float | None
    ack_p95_ms: float | None
    ack_p99_ms: float | None
    ack_max_ms: float | None
    errors: int  # non-2xx or no answer
    redeliveries: int
    dupes_ok: int  # redeliveries of an accepted delivery answered 200 "duplicate"
    ledger_p50_ms: float | None  # processed_at - received_at of accepted deliveries
    ledger_p99_ms: float | None
    ledger_max_ms: float | None
    drain_s: float | None  # last ack -> last accepted delivery applied; None: not drained
    exactly_once: bool
    requests: int
    late_sends: int
    accepted: int
    applied_per_s: float | None  # done deliveries / (last processed - first received)
    send_to_applied_p50_ms: float | None  # client send -> processed_at
    send_to_applied_p99_ms: float | None
    lines_expected: int
    on_hand_decrease: int
    acked_not_done: int
    stored_unacked: int  # done in the inbox though the client got no "accepted"
    failed_deliveries: int
    verify_ok: bool
    generator_cpu_pct: float  # of one core, during the load
    server_cpu_pct: float | None
    senders_alone: GeneratorCheck | None  # the same senders against a no-op server, just before
    load_average: float  # 1-minute load average when the load started
    problems: list[str]
    first_error: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    row: Row
    samples: list[list[float | int | str]]  # per request: send ms, ack ms, status, outcome


def summarise(db: str, args: argparse.Namespace, plan: Plan, sent: Sent,
              done: list[Settled], failed: int, drained: bool, decrease: int,
              verify_ok: bool, verify_note: str, senders_alone: GeneratorCheck | None,
              load_average: float) -> Outcome:
    answers = sent.answers
    problems: list[str] = []
    if len(answers) < len(plan.sends):
        problems.append(f"only {len(answers)} of {len(plan.sends)} requests were sent")
    first_sent = sent.start
    last_answer = max((a.answered for a in answers), default=first_sent)
    errors = [a for a in answers if not 200 <= a.status < 300]
    # Per transaction, exactly one send is "accepted" and every other one "duplicate".
    # Usually the first is the accepted one, but a slow first answer may let the
    # redelivery win: either way is correct.
    by_txn: dict[int, list[Answer]] = {}
    for a in answers:
        by_txn.setdefault(plan.sends[a.slot].txn, []).append(a)
    accepted_by_txn = {t: [a for a in sends if a.outcome == "accepted"]
                       for t, sends in by_txn.items()}
    accepted_by_txn = {t: sends for t, sends in accepted_by_txn.items() if sends}
    twice = sum(len(v) > 1 for v in accepted_by_txn.values())
    if twice:
        problems.append(f"{twice} deliveries accepted more than once")
    never = sum(t not in accepted_by_txn and all(a.outcome == "duplicate" for a in sends)
                for t, sends in by_txn.items())
    if never:
        problems.append(f"{never} deliveries answered only duplicate, never accepted")
    redeliveries = [a for a in answers if plan.sends[a.slot].redelivery]
    dupes_ok = sum(a.outcome == "duplicate" and len(accepted_by_txn.get(t, ())) == 1
                   for t, sends in by_txn.items() for a in sends)

    by_txn_id = {t.id: i for i, t in enumerate(plan.txns)}
    done_txns = {by_txn_id[s.delivery_id]: s for s in done if s.delivery_id in by_txn_id}
    strangers = len(done) - len(done_txns)
    if strangers:
        problems.append(f"{strangers} done deliveries that were never sent")
    acked_not_done = sum(t not in done_txns for t in accepted_by_txn)
    stored_unacked = sum(t not in accepted_by_txn for t in done_txns)
    lines_expected = sum(plan.txns[t].lines for t in done_txns)
    accepted_done = [done_txns[t] for t in accepted_by_txn if t in done_txns]
    to_ledger = [(s.processed_at - s.received_at).total_seconds() for s in accepted_done]
    wall = sent.wall_start - sent.start  # perf_counter() -> time.time()
    send_to_applied = [s.processed_at.timestamp() - (accepted_by_txn[t][0].sent + wall)
                       for t, s in done_txns.items() if t in accepted_by_txn]
    last_ack_wall = last_answer + wall
    drain = (max(0.0, max(s.processed_at.timestamp() for s in accepted_done) - last_ack_wall)
             if drained and accepted_done else None)
    applied_per_s = None
    if done:
        span = (max(s.processed_at for s in done) - min(s.received_at for s in done))
        applied_per_s = round(len(done) / span.total_seconds(), 1) if span else None
    if not drained:
        problems.append(f"inbox not drained {args.drain_timeout:g} s after the load")
    if failed:
        problems.append(f"{failed} deliveries dead-lettered")
    if acked_not_done:
        problems.append(f"{acked_not_done} acknowledged deliveries not applied")
    if decrease != lines_expected:
        problems.append(f"on hand fell by {decrease}, expected {lines_expected}")
    if not verify_ok:
        problems.append(f"stocksync verify failed: {verify_note}")
    exactly_once = (drained and not twice and not never and not acked_not_done
                    and not failed and not strangers and decrease == lines_expected
                    and verify_ok)
    load_seconds = last_answer - first_sent
    rate_sent = send_rate(sent, args.rate)
    sent_seconds = len(answers) / rate_sent if rate_sent else args.seconds
    acks = [a.answered - a.sent for a in answers if a.status]
    row = Row(
        db=db, rate_asked=args.rate,
        rate_sent=round(rate_sent, 1),
        accepted_per_s=(round(sum(map(len, accepted_by_txn.values())) / load_seconds, 1)
                        if load_seconds > 0 else 0.0),
        ack_p50_ms=percentile_ms(acks, 0.50), ack_p95_ms=percentile_ms(acks, 0.95),
        ack_p99_ms=percentile_ms(acks, 0.99), ack_max_ms=percentile_ms(acks, 1.0),
        errors=len(errors), redeliveries=len(redeliveries), dupes_ok=dupes_ok,
        ledger_p50_ms=percentile_ms(to_ledger, 0.50),
        ledger_p99_ms=percentile_ms(to_ledger, 0.99),
        ledger_max_ms=percentile_ms(to_ledger, 1.0),
        drain_s=None if drain is None else round(drain, 3), exactly_once=exactly_once,
        requests=len(answers), late_sends=sum(a.sent - a.planned > LATE_SECONDS
                                              for a in answers),
        accepted=len(accepted_by_txn), applied_per_s=applied_per_s,
        send_to_applied_p50_ms=percentile_ms(send_to_applied, 0.50),
        send_to_applied_p99_ms=percentile_ms(send_to_applied, 0.99),
        lines_expected=lines_expected, on_hand_decrease=decrease,
        acked_not_done=acked_not_done, stored_unacked=stored_unacked,
        failed_deliveries=failed, verify_ok=verify_ok,
        generator_cpu_pct=round(100 * sent.generator_cpu / sent_seconds, 1),
        server_cpu_pct=(None if sent.server_cpu is None
                        else round(100 * sent.server_cpu / sent_seconds, 1)),
        senders_alone=senders_alone, load_average=round(load_average, 2),
        problems=problems, first_error=errors[0].outcome if errors else None)
    samples: list[list[float | int | str]] = [
        [round((a.sent - first_sent) * 1000, 3), round((a.answered - a.sent) * 1000, 3),
         a.status, a.outcome if a.outcome in ("accepted", "duplicate") else "error"]
        for a in answers]
    return Outcome(row, samples)


def run_database(db: str, args: argparse.Namespace, console: Console,
                 notes: list[str]) -> Outcome:
    skus = [f"W-{i:05d}" for i in range(args.skus)]
    senders_alone = None
    if args.generator_check:
        console.print(f"\\[{db}] senders alone: {args.rate:g}/s to a no-op server for "
                      f"{args.generator_check:g} s …")
        try:
            senders_alone = check_generator(args)
        except Exception as exc:  # reported, never fatal
            notes.append(f"{db}: senders check failed: {type(exc).__name__}: {exc}"[:500])
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="webhooks-")))
        target = stack.enter_context(database(db, args.database_url, workdir))
        api_key = create_tenant(target)
        log_path = workdir / "server.log"
        with ExitStack() as running:  # closed (server stopped) before verify reads the db
            log = running.enter_context(log_path.open("w"))
            server = running.enter_context(stocksync_server(target, log))
            http = running.enter_context(httpx.Client(
                base_url=server.url, timeout=REQUEST_TIMEOUT,
                headers={"Authorization": f"Bearer {api_key}"}))
            console.print(f"\\[{db}] server pid {server.pid} at {server.url}; seeding "
                          f"{len(skus)} SKUs with {STOCK:,} each …")
            seed(http, skus)
            path = add_channel(http)
            before = on_hand_total(http, skus)
            plan = build_plan(args.rate, args.seconds, skus, random.Random(f"webhooks:{db}"),
                              prefix=f"T{os.urandom(3).hex()}")
            console.print(f"\\[{db}] load: {len(plan.sends):,} requests ({len(plan.txns):,} "
                          f"deliveries + {len(plan.sends) - len(plan.txns):,} redeliveries) "
                          f"at {args.rate:g}/s from {args.threads} threads …")
            load_average = os.getloadavg()[0]
            sent = send_all(server.url, path, plan, args.rate, args.threads, server.pid)
            console.print(f"\\[{db}] load done; waiting for the inbox to drain …")
            drained = wait_drained(http, args.drain_timeout)
            done = [_settled(r) for r in inbox_rows(http, "done")]
            failed = len(inbox_rows(http, "failed"))
            decrease = before - on_hand_total(http, skus)
        checked = cli(target, "verify")
        verify_note = (checked.stdout + checked.stderr).strip().splitlines()
        log_lines = log_path.read_text(errors="replace").splitlines()
        trouble = [line.strip()[:300] for line in log_lines
                   if "Traceback" in line or "error" in line.lower()]
        if trouble:
            notes.append(f"{db}: server log has {len(trouble)} error lines, first: "
                         f"{trouble[0]}")
        if log_lines:
            notes.append(f"{db}: server wrote {len(log_lines):,} log lines, first: "
                         f"{log_lines[0].strip()[:200]}")
        return summarise(db, args, plan, sent, done, failed, drained, decrease,
                         checked.returncode == 0,
                         f"exit {checked.returncode}: {' | '.join(verify_note[-3:])}",
                         senders_alone, load_average)


# ---- report ------------------------------------------------------------------------------------


def print_report(rows: Sequence[Row], notes: Sequence[str], console: Console) -> None:
    table = Table(title="webhooks: signed POS deliveries → ack → ledger")
    for col in ("db", "rate asked", "rate sent", "accepted/s", "ack p50 ms", "p95", "p99",
                "max", "errors", "dupes ok", "ack→ledger p50 ms", "p99", "drain s",
                "exactly-once"):
        table.add_column(col, justify="left" if col in ("db", "exactly-once") else "right")
    for r in rows:
        table.add_row(r.db, number(r.rate_asked), number(r.rate_sent), number(r.accepted_per_s),
                      number(r.ack_p50_ms), number(r.ack_p95_ms), number(r.ack_p99_ms),
                      number(r.ack_max_ms), str(r.errors), f"{r.dupes_ok}/{r.redeliveries}",
                      number(r.ledger_p50_ms), number(r.ledger_p99_ms), number(r.drain_s, 2),
                      "[green]yes[/green]" if r.exactly_once else "[red]NO[/red]")
    console.print(table)
    for r in rows:
        console.print(
            f"  {r.db}: {r.requests:,} requests, {r.accepted:,} accepted, late sends "
            f"{r.late_sends:,}; ack→ledger max {number(r.ledger_max_ms)} ms; send→applied p50 "
            f"{number(r.send_to_applied_p50_ms)} ms, p99 {number(r.send_to_applied_p99_ms)} ms; "
            f"worker applied {number(r.applied_per_s)} deliveries/s; on hand -"
            f"{r.on_hand_decrease:,} for {r.lines_expected:,} lines; verify "
            f"{'ok' if r.verify_ok else 'FAILED'}; CPU during load: generator "
            f"{number(r.generator_cpu_pct)} %, server {number(r.server_cpu_pct)} % of one core")
        if (gen := r.senders_alone) is not None:
            console.print(
                f"  {r.db}: senders alone (no-op server, {gen.seconds:g} s, just before): "
                f"{gen.rate_sent:,.1f} of {gen.rate_asked:g} requests/s, late sends "
                f"{gen.late_sends:,}, ack p99 {number(gen.ack_p99_ms)} ms, CPU "
                f"{gen.cpu_pct:.1f} % of one core; load average at start {r.load_average:.1f}")
        for problem in r.problems:
            console.print(f"  [red]{r.db}: {problem}[/red]")
        if r.first_error:
            console.print(f"  [red]{r.db} first error[/red]: {r.first_error}")
    print_notes(notes, console)


def save(outcomes: Sequence[Outcome], notes: Sequence[str], args: argparse.Namespace,
         started: datetime, env: dict[str, object]) -> Path:
    return common.save("webhooks", started, {
        "db": args.db, "rate": args.rate, "seconds": args.seconds, "threads": args.threads,
        "skus": args.skus, "stock_per_sku": STOCK, "redelivery_share": REDELIVERY_SHARE,
        "redelivery_min_age_seconds": REDELIVERY_MIN_AGE_SECONDS, "late_seconds": LATE_SECONDS,
        "drain_timeout": args.drain_timeout, "generator_check_seconds": args.generator_check,
    }, env, indent=None, rows=[asdict(o.row) for o in outcomes], notes=list(notes),
        requests={o.row.db: {"columns": ["sent_ms", "ack_ms", "status", "outcome"],
                             "rows": o.samples} for o in outcomes})


# ---- entry point -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = common.argument_parser("webhooks", __doc__)
    p.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    p.add_argument("--rate", type=float, default=500.0, help="requests per second")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the load")
    p.add_argument("--threads", type=int, default=16, help="sender threads")
    p.add_argument("--skus", type=int, default=300, help="SKUs the tills sell")
    p.add_argument("--drain-timeout", type=float, default=DRAIN_SECONDS,
                   help="seconds the inbox may take to drain after the load")
    p.add_argument("--generator-check", type=float, default=3.0, metavar="SECONDS",
                   help="first send at --rate to a no-op server for this long (0: skip)")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.seconds <= 0 or args.threads < 1 or args.skus < 2:
        p.error("--rate and --seconds must be > 0, --threads >= 1, --skus >= 2")
    if args.drain_timeout <= 0 or args.generator_check < 0:
        p.error("--drain-timeout must be > 0, --generator-check >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    console, started = common.begin()
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    env = common.environment(args.database_url if "postgres" in dbs else None)
    common.warn_if_busy(console)
    outcomes: list[Outcome] = []
    notes: list[str] = []
    try:
        for db in dbs:
            try:
                outcomes.append(run_database(db, args, console, notes))
            except Exception as exc:  # reported, never fatal: the other database still runs
                notes.append(f"{db}: failed: {type(exc).__name__}: {exc}"[:500])
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/yellow]: partial results, everything removed")
        print_report([o.row for o in outcomes], notes, console)
        return 130
    rows = [o.row for o in outcomes]
    print_report(rows, notes, console)
    console.print(f"results: {save(outcomes, notes, args, started, env)}")
    failed = any(not r.exactly_once or r.errors or r.problems for r in rows) or any(
        ": failed:" in n for n in notes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

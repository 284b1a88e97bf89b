"""What every benchmark needs: clean Ctrl-C/SIGTERM handling, a stocksync server in its own
process (so the load and the server do not share one interpreter lock), its command line,
the machine it ran on, its report's shared parts and its saved results."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import sqlalchemy as sa
from rich.console import Console

SERVER_START_SECONDS = 30.0
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
RESULTS = Path(__file__).parent / "results"
REPORT_WIDTH = 200  # when piped: rich would otherwise squeeze the tables into 80 columns


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def handle_signals() -> None:
    signal.signal(signal.SIGTERM, _interrupt)
    # A shell starting us in the background sets SIGINT to "ignore"; Ctrl-C must still work.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# /metrics needs a token (STOCKSYNC_METRICS_TOKEN); benchmark servers get this one.
METRICS_TOKEN = "benchmark-metrics-token"


def metrics_text(base_url: str) -> str:
    """The server's /metrics page, read with the benchmark's token."""
    return httpx.get(f"{base_url}/metrics", timeout=10,
                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text


@contextmanager
def uvicorn_app(env: dict[str, str], **popen: Any) -> Iterator[str]:
    """`create_app()` under uvicorn in a subprocess with `env`; yields its base URL once
    /v1/health answers, and stops it afterwards."""
    env = {"STOCKSYNC_METRICS_TOKEN": METRICS_TOKEN, **env}
    with server_process([sys.executable, "-m", "uvicorn", "--factory",
                         "stocksync.api.app:create_app", "--host", "127.0.0.1",
                         "--log-level", "warning", "--no-access-log"], env, **popen) as url:
        yield url


@contextmanager
def server_process(cmd: Sequence[str], env: Mapping[str, str], **popen: Any) -> Iterator[str]:
    """`cmd --port N` (any server with /v1/health) in a subprocess; yields its base URL once
    /v1/health answers, and stops it afterwards (SIGTERM, then SIGKILL)."""
    port = free_port()
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=dict(env), **popen)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the API server exited with {proc.returncode}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{url}/v1/health", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- command line, machine, report, results ---------------------------------------------------


def argument_parser(benchmark: str, doc: str | None, *, database_url: bool = True
                    ) -> argparse.ArgumentParser:
    """The parser every benchmark starts from; `database_url` adds --database-url."""
    p = argparse.ArgumentParser(prog=f"python -m benchmarks.{benchmark}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    if database_url:
        p.add_argument("--database-url", default=DEFAULT_URL, help="SQLAlchemy PostgreSQL URL")
    return p


def begin() -> tuple[Console, datetime]:
    """Ctrl-C/SIGTERM handling on; the report's console and the start time."""
    handle_signals()
    return report_console(), datetime.now(UTC)


def report_console() -> Console:
    return Console(width=None if sys.stdout.isatty() else REPORT_WIDTH)


def warn_if_busy(console: Console) -> None:
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1) / 2:
        console.print(f"[yellow]load average {load:.1f} on {os.cpu_count()} CPUs[/yellow]: "
                      "other work on this machine will show up in the numbers")


def environment(pg_url: str | None = None,
                pg_settings: Sequence[str] = ("server_version", "synchronous_commit")
                ) -> dict[str, object]:
    """The machine, the code (commit and uncommitted src files) and, given `pg_url`, the
    PostgreSQL settings that move the figures."""
    here = Path(__file__).parent
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=here, check=False).stdout.strip()
    # Paths in --porcelain output are from the repository root; the pathspec is from `here`.
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "../src"],
                           capture_output=True, text=True, cwd=here, check=False
                           ).stdout.split("\n")
    env: dict[str, object] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                              "machine": platform.platform(), "git_commit": commit,
                              "src_uncommitted": [line[3:] for line in dirty if line.strip()],
                              "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}
    if pg_url is not None:
        with suppress(Exception):  # the figures still count without the settings
            engine = sa.create_engine(pg_url, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                env["postgres"] = {name: str(conn.execute(sa.text(f"SHOW {name}")).scalar())
                                   for name in pg_settings}
            engine.dispose()
    return env


def percentile_ms(samples: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile, in milliseconds."""
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def number(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def print_notes(notes: Sequence[str], console: Console) -> None:
    for note in notes:
        console.print(f"[yellow]note[/yellow] {note}")


def save(benchmark: str, started: datetime, options: Mapping[str, object],
         env: Mapping[str, object], indent: int | None = 2, **parts: object) -> Path:
    """Write results/<benchmark>-<start>.json: how it was run, where, and `parts`."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{benchmark}-{started:%Y%m%dT%H%M%SZ}.json"
    path.write_text(json.dumps({
        "benchmark": benchmark, "started_at": started.isoformat(),
        "command": [Path(sys.executable).name, "-m", f"benchmarks.{benchmark}", *sys.argv[1:]],
        "options": dict(options), "environment": dict(env), **parts,
    }, indent=indent, default=str) + "\n")
    return path

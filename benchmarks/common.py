"""What every benchmark needs: clean Ctrl-C/SIGTERM handling and a stocksync server in its
own process (so the load and the server do not share one interpreter lock)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any

import httpx

SERVER_START_SECONDS = 30.0


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
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "--factory",
                             "stocksync.api.app:create_app", "--host", "127.0.0.1",
                             "--port", str(port), "--log-level", "warning", "--no-access-log"],
                            env=env, **popen)
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
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

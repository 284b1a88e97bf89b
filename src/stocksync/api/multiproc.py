"""`stocksync serve --workers N`: N server processes on one listening socket (PostgreSQL).

The parent binds the socket once, migrates the database once, then starts N children that
each run the full app (API, hot path, workers) on the inherited socket; the kernel hands
each new connection to one of them. A child that dies is started again. Singletons
(expirer, purge, alerts, reconcile scheduling) run in one child at a time, chosen by a
PostgreSQL advisory lock (workers/leader.py); when that child dies another takes over.

Why processes: one Python process serves one core at most (the interpreter lock); the
database, not Python, should be what limits a busy box.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

import structlog

from stocksync.config import Settings

log = structlog.get_logger()
RESTART_PAUSE_SECONDS = 0.5
STOP_SECONDS = 15.0
BACKLOG = 2048


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def _child(fd: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "stocksync.api.multiproc", str(fd)],
                            pass_fds=(fd,), env=env)


def serve_processes(cfg: Settings, workers: int) -> int:
    """Run `workers` server processes until SIGTERM/SIGINT; returns the exit code."""
    sock = listening_socket(cfg.host, cfg.port)
    env = {**os.environ, "STOCKSYNC_DATABASE_URL": cfg.database_url,
           "STOCKSYNC_HOST": cfg.host, "STOCKSYNC_PORT": str(cfg.port)}
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    children = [_child(sock.fileno(), env) for _ in range(workers)]
    print(f"stocksync serving on http://{cfg.host}:{cfg.port} with {workers} processes "
          f"({', '.join(str(c.pid) for c in children)})", flush=True)
    try:
        while not stopping:
            for i, child in enumerate(children):
                if child.poll() is not None and not stopping:
                    log.warning("server_process_exited", pid=child.pid, code=child.returncode)
                    time.sleep(RESTART_PAUSE_SECONDS)
                    children[i] = _child(sock.fileno(), env)
            time.sleep(0.2)
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        sock.close()
    return 0


def run_child(fd: int) -> None:
    """One server process: the app on the inherited socket (migrated by the parent)."""
    import uvicorn

    from stocksync.api.app import create_app
    from stocksync.api.server import server_config
    from stocksync.bootstrap import build_service

    # Named in pg_stat_activity (which process holds which lock, e.g. the leader's).
    os.environ.setdefault("PGAPPNAME", f"stocksync:{os.getpid()}")
    settings = Settings.from_env()
    svc = build_service(settings, migrate=False)
    app = create_app(settings, svc)
    sock = socket.socket(fileno=fd)
    uvicorn.Server(server_config(app, settings)).run(sockets=[sock])


if __name__ == "__main__":
    run_child(int(sys.argv[1]))

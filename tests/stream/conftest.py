"""Fixtures of the stream tests: the shared NATS server (or a private one a test may stop
or configure with users), unique stream names and subject prefixes per test, and helpers
that write events and read a stream back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from nats.js.errors import NotFoundError

from stocksync.app.handlers import Movement, record_movement
from stocksync.app.records import WriteContext
from stocksync.app.replay import replay
from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.storage.sequencer import drain
from tests.conftest import IN_CI, free_port
from tests.e2e.conftest import eventually  # noqa: F401  (re-exported for the stream tests)

SHARED_NATS = os.environ.get("STOCKSYNC_TEST_NATS_URL", "nats://127.0.0.1:4222")
NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


def _reachable(url: str) -> bool:
    host, port = url.rsplit("//", 1)[-1].rsplit("@", 1)[-1].split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def require_nats() -> str:
    if _reachable(SHARED_NATS):
        return SHARED_NATS
    if IN_CI:
        pytest.fail(f"NATS is not reachable at {SHARED_NATS} and CI=true: start nats-server -js")
    pytest.skip(f"NATS not reachable at {SHARED_NATS}")


def unique_names() -> tuple[str, str]:
    tag = uuid.uuid4().hex[:10]
    return f"TEST_{tag}", f"t{tag}"


def with_stream(settings: Settings, url: str, **more: object) -> Settings:
    stream, prefix = unique_names()
    return settings.model_copy(update={"nats_url": url, "nats_stream": stream,
                                       "nats_subject_prefix": prefix, **more})


def delete_stream(url: str, stream: str) -> None:
    async def go() -> None:
        nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
        try:
            await nc.jetstream().delete_stream(stream)
        except NotFoundError:
            pass
        finally:
            await nc.close()
    # A private server already stopped: its store dir goes with tmp_path.
    with contextlib.suppress(Exception):
        asyncio.run(go())


@pytest.fixture
def stream_settings(db_settings: Settings) -> Iterator[Settings]:
    """A fresh database of each kind, publishing to its own stream on the shared server."""
    settings = with_stream(db_settings, require_nats())
    yield settings
    delete_stream(SHARED_NATS, settings.nats_stream)


@dataclass
class PrivateNats:
    """A nats-server of the test's own (it may be stopped, or run with users)."""

    port: int
    store: Path
    config: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> PrivateNats:
        args = [NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), "-js",
                "-sd", str(self.store)]
        if self.config is not None:
            args += ["-c", str(self.config)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not _reachable(self.url):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("nats-server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def private_nats(tmp_path: Path) -> Iterator[Callable[[str | None], PrivateNats]]:
    require_nats()  # the binary is what the shared server runs; same CI rule
    started: list[PrivateNats] = []

    def make(config_text: str | None = None) -> PrivateNats:
        store = tmp_path / f"nats-{len(started)}"
        store.mkdir()
        config = None
        if config_text is not None:
            config = tmp_path / f"nats-{len(started)}.conf"
            config.write_text(config_text)
        server = PrivateNats(free_port(), store, config).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def write_receipts(svc: Stocksync, tenant_id: str, count: int, directory: Path,
                   skus: int = 5, name: str = "burst", per_commit: int = 50) -> None:
    """`count` stock.received events over a few SKUs at location WH, through the ledger's
    write path (`per_commit` movements a transaction, so tests stay fast), sequenced."""
    lines = [{"type": "location.upserted", "code": "WH", "name": "WH",
              "idempotency_key": f"{name}-loc"}]
    lines += [{"type": "item.upserted", "sku": f"S{i}", "idempotency_key": f"{name}-item{i}"}
              for i in range(skus)]
    path = directory / f"{name}-{tenant_id}.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    report, problems = replay(svc, tenant_id, path)
    assert not problems and not report.refused, (problems, report.refused)
    for start in range(0, count, per_commit):
        with svc.uow(tenant_id) as uow:
            ctx = WriteContext(tenant_id=tenant_id, now=svc.clock(), source="test")
            for i in range(start, min(start + per_commit, count)):
                record_movement(uow, ctx, Movement("receive", f"S{i % skus}", "WH", 1 + i % 3))
            uow.commit()
    drain(svc.engine)


@dataclass(frozen=True)
class Stored:
    subject: str
    headers: dict[str, str]
    body: bytes


async def _read_stream(url: str, stream: str) -> list[Stored]:
    nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            try:
                msg = await js.get_msg(stream, seq)
            except NotFoundError:
                continue
            found.append(Stored(msg.subject or "", dict(msg.headers or {}), msg.data or b""))
        return found
    finally:
        await nc.close()


def read_stream(url: str, stream: str) -> list[Stored]:
    """Every message the stream holds, in stream order."""
    return asyncio.run(_read_stream(url, stream))


def count_stream(url: str, stream: str) -> int:
    """Messages in the stream; -1 while it does not exist or the server does not answer."""
    async def go() -> int:
        nc = await nats.connect(url, connect_timeout=3, allow_reconnect=False)
        try:
            return int((await nc.jetstream().stream_info(stream)).state.messages)
        except NotFoundError:
            return -1
        finally:
            await nc.close()
    try:
        return asyncio.run(go())
    except Exception:
        return -1


def sequences_by_tenant(messages: list[Stored]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for m in messages:
        found.setdefault(m.headers["Stocksync-Tenant"], []).append(
            int(m.headers["Stocksync-Sequence"]))
    return found



def start_worker(settings: Settings, **env: str) -> subprocess.Popen[bytes]:
    """`stocksync worker` in its own process, on `settings`' database and stream."""
    full = {**os.environ, "STOCKSYNC_DATABASE_URL": settings.database_url,
            "STOCKSYNC_DATABASE_SCHEMA": settings.database_schema or "",
            "STOCKSYNC_SECRET_KEY": settings.secret_key or "",
            "STOCKSYNC_NATS_URL": settings.nats_url or "",
            "STOCKSYNC_NATS_STREAM": settings.nats_stream,
            "STOCKSYNC_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
            "STOCKSYNC_RECONCILE_MINUTES": "0", "STOCKSYNC_LOG_LEVEL": "warning", **env}
    return subprocess.Popen([sys.executable, "-m", "stocksync.cli.main", "worker"], env=full,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

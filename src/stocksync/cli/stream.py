"""`stocksync stream …`: the event stream on NATS JetStream (tail, setup, schema, status)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from datetime import UTC, datetime
from typing import Annotated

import typer

from stocksync.cli.common import (
    EXIT_FAILED,
    DbOption,
    FlagsCommand,
    TenantOption,
    command_group,
    console,
    fail,
    settings,
    table,
    tenant_or_exit,
)
from stocksync.config import Settings

stream_app = command_group("The event stream on NATS JetStream (STOCKSYNC_NATS_URL).")
NatsOption = Annotated[str | None, typer.Option("--nats-url", help="NATS server "
                                                "(default STOCKSYNC_NATS_URL)")]


def _settings(database_url: str | None, nats_url: str | None) -> Settings:
    cfg = settings(database_url, nats_url=nats_url)
    if not cfg.nats_url:
        raise fail("no NATS server: set STOCKSYNC_NATS_URL or pass --nats-url")
    return cfg


async def _tail(cfg: Settings, tenant_id: str, start: int | None, count: int | None) -> int:
    from nats.js.api import DeliverPolicy

    from stocksync.stream.message import SEQUENCE
    from stocksync.stream.setup import connect
    from stocksync.stream.subjects import tenant_filter

    assert cfg.nats_url
    nc = await connect(cfg.nats_url, name="stocksync-tail")
    printed = 0
    done = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, done.set)
    try:
        # An ordered consumer: ephemeral, in stream order, never skips or repeats; with
        # --from it starts at the beginning and skips what comes before SEQ by header.
        sub = await nc.jetstream().subscribe(
            tenant_filter(cfg.nats_subject_prefix, tenant_id), stream=cfg.nats_stream,
            ordered_consumer=True,
            deliver_policy=DeliverPolicy.ALL if start is not None else DeliverPolicy.NEW)
        while not done.is_set() and (count is None or printed < count):
            try:
                msg = await sub.next_msg(timeout=0.5)
            except TimeoutError:
                continue
            if start is not None and int((msg.headers or {}).get(SEQUENCE, 0)) < start:
                continue
            sys.stdout.write(msg.data.decode() + "\n")
            sys.stdout.flush()
            printed += 1
    finally:
        await nc.close()
    return printed


@stream_app.command("tail", cls=FlagsCommand)
def tail(tenant: TenantOption,
         start: Annotated[int | None, typer.Option(
             "--from", min=1, help="start at this position of the tenant's log (default: "
             "only events published from now on)")] = None,
         count: Annotated[int | None, typer.Option(min=1, help="stop after this many")] = None,
         database_url: DbOption = None, nats_url: NatsOption = None) -> None:
    """Print a tenant's events as they are published, one JSON object per line (the
    stream's payload), until Ctrl-C or --count."""
    from stocksync.bootstrap import build_service

    cfg = _settings(database_url, nats_url)
    svc = build_service(cfg, migrate=False)
    tenant_id = tenant_or_exit(svc, tenant).id
    svc.engine.dispose()
    try:
        asyncio.run(_tail(cfg, tenant_id, start, count))
    except Exception as exc:
        raise fail(f"cannot read the stream {cfg.nats_stream} at {cfg.nats_url}: "
                   f"{type(exc).__name__}: {exc}", EXIT_FAILED) from exc


def setup_if_configured(cfg: Settings) -> None:
    """Create the stream or bring its retention to the settings (`stocksync migrate` and
    `stocksync stream setup`); nothing without STOCKSYNC_NATS_URL."""
    from stocksync.stream.setup import ensure_stream_now

    try:
        done = ensure_stream_now(cfg)
    except Exception as exc:
        raise fail(f"cannot set up the stream at {cfg.nats_url}: {type(exc).__name__}: {exc}",
                   EXIT_FAILED) from exc
    if done is not None:
        console.print(f"stream {cfg.nats_stream} {done} (subjects "
                      f"{cfg.nats_subject_prefix}.>, max age {cfg.nats_max_age_hours:g} h)")


@stream_app.command("setup", cls=FlagsCommand)
def setup(nats_url: NatsOption = None) -> None:
    """Create the stream, or update its retention to the settings (migrate does it too)."""
    setup_if_configured(_settings(None, nats_url))


async def _grant(cfg: Settings, tenant_id: str, consumer: str) -> str:
    from stocksync.stream.access import ensure_tenant_consumer
    from stocksync.stream.setup import connect

    assert cfg.nats_url
    nc = await connect(cfg.nats_url, name="stocksync-grant")
    try:
        return await ensure_tenant_consumer(nc.jetstream(), cfg, tenant_id, consumer)
    finally:
        await nc.close()


@stream_app.command("grant", cls=FlagsCommand)
def grant(tenant: TenantOption,
          user: Annotated[str, typer.Option(help="the NATS user to give access")],
          consumer: Annotated[str | None, typer.Option(
              help="durable consumer name (default tenant_<tenant id>)")] = None,
          database_url: DbOption = None, nats_url: NatsOption = None) -> None:
    """Create a durable consumer of one tenant's subjects (with stocksync's own NATS
    user) and print the NATS user entry that may read through it and nothing else."""
    from stocksync.bootstrap import build_service
    from stocksync.stream.access import user_block

    cfg = _settings(database_url, nats_url)
    svc = build_service(cfg, migrate=False)
    tenant_id = tenant_or_exit(svc, tenant).id
    svc.engine.dispose()
    name = consumer or f"tenant_{tenant_id}"
    try:
        done = asyncio.run(_grant(cfg, tenant_id, name))
    except Exception as exc:
        raise fail(f"cannot create consumer {name}: {type(exc).__name__}: {exc}",
                   EXIT_FAILED) from exc
    err_note = f"consumer {name} {done} on stream {cfg.nats_stream}; add this user to the " \
        "server's authorization { users = [...] } (set its password):"
    console.print(err_note, soft_wrap=True, highlight=False)
    print(user_block(user, "<password>", cfg.nats_stream, name))


@stream_app.command("schema", cls=FlagsCommand)
def schema() -> None:
    """Print the JSON Schema of a published event."""
    from stocksync.stream.message import json_schema

    print(json.dumps(json_schema(), indent=2))


@stream_app.command("status", cls=FlagsCommand)
def status(database_url: DbOption = None) -> None:
    """Each tenant's publish cursor against its log head, and the publish lag."""
    from stocksync.bootstrap import build_service
    from stocksync.storage.tables import tenants
    from stocksync.stream.lag import publish_lag
    from stocksync.stream.store import published_positions

    cfg = settings(database_url)
    svc = build_service(cfg, migrate=False)
    now = datetime.now(UTC)
    with svc.engine.connect() as conn:
        late = {b.tenant_id: b for b in publish_lag(conn, cfg, now)}
        done = published_positions(conn, cfg.nats_stream)
        heads = {t: int(h) for t, h in conn.execute(
            tenants.select().with_only_columns(tenants.c.id, tenants.c.log_head))}
    shown = table(f"stream {cfg.nats_stream}", "tenant", "log head", "published",
                  "pending", "lag s", right=("log head", "published", "pending", "lag s"))
    for tenant_id, head in sorted(heads.items()):
        behind = late.get(tenant_id)
        shown.add_row(tenant_id, str(head), str(done.get(tenant_id, 0)),
                      str(behind.pending if behind else 0),
                      f"{behind.age(now):.1f}" if behind else "0.0")
    console.print(shown)

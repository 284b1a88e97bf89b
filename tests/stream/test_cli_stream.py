"""`stocksync stream …` and `stocksync migrate` with NATS: the stream is set up, `tail`
prints a tenant's events from a log position, `grant` makes a one-tenant consumer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from stocksync.bootstrap import build_service
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.stream.publisher import Publisher
from stocksync.stream.setup import connect
from tests.conftest import TEST_SECRET, new_tenant
from tests.stream.conftest import (
    count_stream,
    delete_stream,
    require_nats,
    with_stream,
    write_receipts,
)

runner = CliRunner()


def _env(settings: Settings) -> dict[str, str]:
    return {"STOCKSYNC_DATABASE_URL": settings.database_url,
            "STOCKSYNC_NATS_URL": settings.nats_url or "",
            "STOCKSYNC_NATS_STREAM": settings.nats_stream,
            "STOCKSYNC_NATS_SUBJECT_PREFIX": settings.nats_subject_prefix,
            "STOCKSYNC_SECRET_KEY": TEST_SECRET}


async def _publish(settings: Settings, publisher: Publisher) -> int:
    assert settings.nats_url
    nc = await connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await publisher.prepare(js)
        return await publisher.publish_pending(js)
    finally:
        await nc.close()


def test_migrate_sets_up_the_stream_and_tail_prints_a_tenants_events(tmp_path: Path) -> None:
    url = require_nats()
    settings = with_stream(Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                                    secret_key=TEST_SECRET, run_workers=False), url)
    try:
        done = runner.invoke(app, ["migrate"], env=_env(settings))
        assert done.exit_code == 0, done.output
        assert f"stream {settings.nats_stream} created" in done.output
        assert count_stream(url, settings.nats_stream) == 0
        again = runner.invoke(app, ["migrate"], env=_env(settings))
        assert f"stream {settings.nats_stream} updated" in again.output

        svc = build_service(settings)
        a, b = new_tenant(svc, "tail-a"), new_tenant(svc, "tail-b")
        write_receipts(svc, a.id, 8, tmp_path)
        write_receipts(svc, b.id, 8, tmp_path)
        assert asyncio.run(_publish(settings, Publisher(svc.engine, settings, svc.clock))) == 16

        shown = runner.invoke(app, ["stream", "tail", "--tenant", "tail-a", "--from", "3",
                                    "--count", "4"], env=_env(settings))
        assert shown.exit_code == 0, shown.output
        events = [json.loads(line) for line in shown.output.splitlines()]
        assert [(e["tenant"], e["sequence"]) for e in events] == [(a.id, n) for n in (3, 4, 5, 6)]

        status = runner.invoke(app, ["stream", "status"], env=_env(settings))
        assert status.exit_code == 0 and a.id in status.output, status.output

        granted = runner.invoke(app, ["stream", "grant", "--tenant", a.id, "--user", "erp"],
                                env=_env(settings))
        assert granted.exit_code == 0, granted.output
        block = json.loads(granted.output[granted.output.index("\n{") + 1:])
        assert block["user"] == "erp"
        assert block["permissions"]["publish"]["allow"][0] == \
            f"$JS.API.CONSUMER.MSG.NEXT.{settings.nats_stream}.tenant_{a.id}"
        svc.engine.dispose()
    finally:
        delete_stream(url, settings.nats_stream)


def test_tail_without_nats_or_with_an_unknown_tenant_is_bad_usage(tmp_path: Path) -> None:
    env = {"STOCKSYNC_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
           "STOCKSYNC_SECRET_KEY": TEST_SECRET}
    missing = runner.invoke(app, ["stream", "tail", "--tenant", "x"], env=env)
    assert missing.exit_code == 2 and "STOCKSYNC_NATS_URL" in missing.output
    assert runner.invoke(app, ["migrate"], env=env).exit_code == 0  # no NATS: no stream
    unknown = runner.invoke(app, ["stream", "tail", "--tenant", "nobody"],
                            env={**env, "STOCKSYNC_NATS_URL": "nats://127.0.0.1:4222"})
    assert unknown.exit_code == 2 and "no tenant 'nobody'" in unknown.output

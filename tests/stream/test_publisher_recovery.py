"""The publisher survives its own death and NATS outages: kill -9 the publishing process in
the middle of a burst and restart it, or stop nats-server during writes and start it again;
either way the stream ends up with every event exactly once, in order (SQLite and
PostgreSQL)."""

from __future__ import annotations

import subprocess
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from stocksync.app.service import EVENTS
from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.stream import lag
from stocksync.stream.running import PublisherThread
from stocksync.stream.store import published
from stocksync.workers.alerts import AlertWorker
from tests.conftest import new_tenant
from tests.stream.conftest import (
    count_stream,
    eventually,
    read_stream,
    sequences_by_tenant,
    start_worker,
    with_stream,
    write_receipts,
)


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    return start_worker(settings, STOCKSYNC_NATS_PUBLISH_BATCH="50",
                        STOCKSYNC_SEQUENCER_SWEEP_SECONDS="0.05")


@pytest.mark.slow  # two worker processes start (about 2 s each) and 2,600 events go through
def test_kill_9_mid_burst_then_restart_publishes_every_event_once(
        stream_settings: Settings, tmp_path: Path) -> None:
    url, stream = stream_settings.nats_url or "", stream_settings.nats_stream
    svc = build_service(stream_settings)
    tenant = new_tenant(svc, "stream-kill")
    write_receipts(svc, tenant.id, 2000, tmp_path, name="backlog", per_commit=100)
    first = _worker(stream_settings)  # it starts on a backlog while writes go on
    burst = threading.Thread(target=write_receipts, args=(svc, tenant.id, 500, tmp_path),
                             kwargs={"per_commit": 5})
    burst.start()
    try:
        eventually(lambda: count_stream(url, stream) >= 300, 30, "publishing under way")
        first.kill()  # SIGKILL: no cleanup, a batch may be acked but its cursor not stored
        first.wait(10)
        at_kill = count_stream(url, stream)
        burst.join(60)
        write_receipts(svc, tenant.id, 100, tmp_path, name="after")
    finally:
        first.kill()
    second = _worker(stream_settings)
    try:
        eventually(lambda: count_stream(url, stream) == 2600, 30, "catching up")
    finally:
        second.terminate()
        second.wait(10)
    assert at_kill < 2000, "the backlog was published before the kill: nothing was tested"
    assert sequences_by_tenant(read_stream(url, stream)) == {tenant.id: list(range(1, 2601))}
    svc.engine.dispose()


@pytest.mark.slow  # waits for nats-server to stop and start and the publisher to retry
def test_nats_outage_during_writes_catches_up_with_no_gap(
        db_settings: Settings, private_nats, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server = private_nats(None)
    settings = with_stream(db_settings, server.url, alert_stream_lag_seconds=0.5)
    svc = build_service(settings)
    svc.settings = settings
    tenant = new_tenant(svc, "stream-outage")
    publisher = PublisherThread(svc).start()
    try:
        write_receipts(svc, tenant.id, 100, tmp_path)
        svc.bus.ring(EVENTS)
        eventually(lambda: count_stream(server.url, settings.nats_stream) == 100, 15,
                   "the first events")
        server.stop()
        write_receipts(svc, tenant.id, 200, tmp_path, name="during")  # the write path
        svc.bus.ring(EVENTS)                                        # does not wait
        with svc.engine.connect() as conn:
            late = lag.conditions(conn, settings, svc.clock() + timedelta(seconds=30))
        assert [(c.tenant_id, c.rule) for c in late] == [(tenant.id, lag.RULE_PUBLISH)]
        assert "200 events not yet published" in late[0].message
        time.sleep(0.6)
        alerts = AlertWorker(svc)  # the alert worker raises it (and clears it below)
        assert any("the event stream is" in sent for sent in alerts.step())
        server.start()
        eventually(lambda: published(svc.engine, settings.nats_stream, tenant.id) == 300,
                   20, "catching up after the outage")
        assert any(sent.startswith("[stocksync RESOLVED]") and "event stream" in sent
                   for sent in alerts.step())
    finally:
        publisher.stop()
    assert sequences_by_tenant(read_stream(server.url, settings.nats_stream)) == {
        tenant.id: list(range(1, 301))}
    with svc.engine.connect() as conn:
        assert lag.conditions(conn, settings, svc.clock()) == []
    svc.engine.dispose()

"""Publishing: every sequenced event once, in each tenant's log order, with the schema; a
lost cursor write is recovered from the stream, and a republish is deduplicated by the
server (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import update

from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.storage.tables_stream import stream_cursors
from stocksync.stream import store
from stocksync.stream.message import StreamEvent, json_schema
from stocksync.stream.publisher import Publisher
from stocksync.stream.setup import connect
from tests.conftest import new_tenant
from tests.stream.conftest import delete_stream, read_stream, sequences_by_tenant, write_receipts


async def _publish(publisher: Publisher, *, prepare: bool = True) -> int:
    assert publisher.settings.nats_url
    nc = await connect(publisher.settings.nats_url)
    try:
        js = nc.jetstream()
        if prepare:
            await publisher.prepare(js)
        return await publisher.publish_pending(js)
    finally:
        await nc.close()


def test_events_arrive_once_in_order_with_the_schema(stream_settings: Settings,
                                                     tmp_path: Path) -> None:
    svc = build_service(stream_settings)
    a, b = new_tenant(svc, "stream-a"), new_tenant(svc, "stream-b")
    write_receipts(svc, a.id, 30, tmp_path)
    write_receipts(svc, b.id, 12, tmp_path)
    publisher = Publisher(svc.engine, stream_settings, svc.clock)

    assert asyncio.run(_publish(publisher)) == 42
    messages = read_stream(stream_settings.nats_url or "", stream_settings.nats_stream)
    assert sequences_by_tenant(messages) == {a.id: list(range(1, 31)),
                                             b.id: list(range(1, 13))}
    prefix = stream_settings.nats_subject_prefix
    logged = {t: {e.sequence: e for e in store.page(svc.engine, t, 0, 100)} for t in (a.id, b.id)}
    for m in messages:
        event = StreamEvent.model_validate_json(m.body)  # extra fields are refused
        assert m.subject == f"{prefix}.{event.tenant}.stock.received"
        assert m.headers["Nats-Msg-Id"] == event.event_id
        source = logged[event.tenant][event.sequence]
        assert (event.event_id, event.sku, event.quantity, event.on_hand_after) == \
            (source.event_id, source.sku, source.quantity, source.on_hand_after)
        assert set(json.loads(m.body)) == set(json_schema()["properties"])
    # Nothing new: nothing published; the cursors say how far each tenant got.
    assert asyncio.run(_publish(publisher)) == 0
    assert store.published(svc.engine, stream_settings.nats_stream, a.id) == 30
    svc.engine.dispose()


def test_a_lost_cursor_write_publishes_nothing_twice(stream_settings: Settings,
                                                     tmp_path: Path) -> None:
    svc = build_service(stream_settings)
    tenant = new_tenant(svc, "stream-crash")
    write_receipts(svc, tenant.id, 25, tmp_path)
    settings = stream_settings.model_copy(update={"nats_publish_batch": 10})
    publisher = Publisher(svc.engine, settings, svc.clock)
    assert asyncio.run(_publish(publisher)) == 25

    def roll_cursor_back(to: int) -> None:  # as if the process died before storing it
        with svc.engine.begin() as conn:
            conn.execute(update(stream_cursors).values(published=to))

    # On (re)connection the cursor is first brought up to what the stream holds.
    roll_cursor_back(5)
    assert asyncio.run(_publish(publisher)) == 0
    assert store.published(svc.engine, settings.nats_stream, tenant.id) == 25
    # Even without that, the server's duplicate window drops the republished copies.
    roll_cursor_back(5)
    assert asyncio.run(_publish(publisher, prepare=False)) == 20
    write_receipts(svc, tenant.id, 3, tmp_path, name="more")
    assert asyncio.run(_publish(publisher)) == 3
    messages = read_stream(settings.nats_url or "", settings.nats_stream)
    assert sequences_by_tenant(messages) == {tenant.id: list(range(1, 29))}
    svc.engine.dispose()


def test_one_publisher_at_a_time_and_a_recreated_stream_is_refilled(
        stream_settings: Settings, tmp_path: Path) -> None:
    svc = build_service(stream_settings)
    tenant = new_tenant(svc, "stream-lock")
    write_receipts(svc, tenant.id, 6, tmp_path)
    first = Publisher(svc.engine, stream_settings, svc.clock)
    second = Publisher(svc.engine, stream_settings, svc.clock)
    assert first.lock.acquire()
    assert not second.lock.acquire()  # another process (or thread) would wait its turn
    first.lock.release()
    assert second.lock.acquire()
    second.lock.release()

    assert asyncio.run(_publish(first)) == 6
    delete_stream(stream_settings.nats_url or "", stream_settings.nats_stream)
    assert asyncio.run(_publish(first)) == 6  # deleted and created again: all of it again
    assert sequences_by_tenant(read_stream(stream_settings.nats_url or "",
                                           stream_settings.nats_stream)) == {
        tenant.id: [1, 2, 3, 4, 5, 6]}
    svc.engine.dispose()

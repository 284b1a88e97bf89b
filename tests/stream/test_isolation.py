"""Tenant isolation on the bus: a NATS user limited to tenant A (own nats-server with a
config file) reads A's events through its consumer and cannot read B's in any way: not by
creating a consumer, not by reading the stream directly, not by subscribing."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
import pytest

from stocksync.bootstrap import build_service
from stocksync.config import Settings
from stocksync.stream.access import ensure_tenant_consumer, tenant_consumer, user_block
from stocksync.stream.publisher import Publisher
from stocksync.stream.setup import connect
from stocksync.stream.subjects import tenant_filter
from tests.conftest import TEST_SECRET, new_tenant
from tests.stream.conftest import unique_names, write_receipts

CONSUMER = "tenant_a_reader"


def _config(stream: str) -> str:
    tenant_user = user_block("tenant_a", "a-secret", stream, CONSUMER)
    return ("authorization {\n  users = [\n"
            '    {user: "stocksync", password: "operator-secret"}\n'
            f"    {tenant_user}\n  ]\n}}\n")


async def _as_tenant_a(url: str, settings: Settings, tenant_b: str) -> dict[str, object]:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(url, user="tenant_a", password="a-secret", error_cb=on_error,
                            connect_timeout=3, allow_reconnect=False)
    seen: dict[str, object] = {}
    try:
        js = nc.jetstream(timeout=1.0)
        sub = await js.pull_subscribe_bind(CONSUMER, settings.nats_stream)
        messages = await sub.fetch(100, timeout=2)
        for msg in messages:
            await msg.ack()
        seen["tenants"] = {json.loads(m.data)["tenant"] for m in messages}
        seen["count"] = len(messages)
        for attempt, call in {
            "consumer on B": js.add_consumer(settings.nats_stream, tenant_consumer(
                settings, tenant_b, "sneaky")),
            "direct read": js.get_msg(settings.nats_stream, 1),
            "stream info": js.stream_info(settings.nats_stream),
        }.items():
            try:
                await call
                seen[attempt] = "allowed"
            except Exception as exc:  # a permissions violation answers as an error/timeout
                seen[attempt] = type(exc).__name__
        spy = await nc.subscribe(tenant_filter(settings.nats_subject_prefix, tenant_b))
        await nc.publish(f"{settings.nats_subject_prefix}.{tenant_b}.stock.sold", b"{}")
        await nc.flush()
        await asyncio.sleep(0.3)
        try:
            await spy.next_msg(timeout=0.5)
            seen["subscribe B"] = "received"
        except Exception:
            seen["subscribe B"] = "nothing"
    finally:
        await nc.close()
    seen["errors"] = errors
    return seen


def test_a_user_limited_to_tenant_a_cannot_read_tenant_b(private_nats, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stream, prefix = unique_names()
    server = private_nats(_config(stream))
    operator = f"nats://stocksync:operator-secret@127.0.0.1:{server.port}"
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}",
                        secret_key=TEST_SECRET, run_workers=False, nats_url=operator,
                        nats_stream=stream, nats_subject_prefix=prefix)
    svc = build_service(settings)
    a, b = new_tenant(svc, "iso-a"), new_tenant(svc, "iso-b")
    write_receipts(svc, a.id, 5, tmp_path)
    write_receipts(svc, b.id, 7, tmp_path)

    async def publish_and_grant() -> None:
        nc = await connect(operator)
        try:
            js = nc.jetstream()
            publisher = Publisher(svc.engine, settings, svc.clock)
            await publisher.prepare(js)
            assert await publisher.publish_pending(js) == 12
            assert await ensure_tenant_consumer(js, settings, a.id, CONSUMER) == "created"
        finally:
            await nc.close()

    asyncio.run(publish_and_grant())
    seen = asyncio.run(_as_tenant_a(server.url, settings, b.id))
    assert seen["tenants"] == {a.id} and seen["count"] == 5
    assert seen["consumer on B"] != "allowed"
    assert seen["direct read"] != "allowed"
    assert seen["stream info"] != "allowed"
    assert seen["subscribe B"] == "nothing"
    errors = " ".join(str(e) for e in seen["errors"]).lower()  # type: ignore[attr-defined]
    assert f"permissions violation for subscription to \"{prefix}.{b.id}.>\"".lower() in errors
    assert f"permissions violation for publish to \"{prefix}.{b.id}.stock.sold\"".lower() \
        in errors  # nor can it forge events
    svc.engine.dispose()


def test_the_operator_consumer_refuses_another_tenants_filter() -> None:
    settings = Settings(nats_subject_prefix="p")
    config = tenant_consumer(settings, "t_a", "reader")
    assert config.filter_subject == "p.t_a.>"
    with pytest.raises(ValueError):
        tenant_consumer(settings, "t_a.>", "reader")  # a tenant id cannot widen the filter

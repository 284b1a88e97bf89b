"""The MCP server through the SDK's own client: over stdio (`stocksync mcp` as a
subprocess) and over streamable HTTP on `serve`, every tool, keys and tenants."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from stocksync.app.service import Stocksync
from stocksync.storage.channels import SqlChannels
from tests.conftest import LiveServer, Tenant, new_tenant, seed, settle

TOOLS = {"get_availability", "search_items", "reserve_stock", "commit_reservation",
         "release_reservation", "channel_health"}
STOCKSYNC = str(Path(sys.executable).parent / "stocksync")
Session = Callable[[], Any]


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    found: dict[str, Any] = result.structured_content
    return found


def _refusal(result: Any) -> dict[str, Any]:
    assert result.is_error
    text = result.content[0].text
    found: dict[str, Any] = json.loads(text[text.index("{"):])
    return found


@asynccontextmanager
async def over_http(url: str, key: str) -> AsyncIterator[ClientSession]:
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"},
                                  timeout=30) as http, \
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


@asynccontextmanager
async def over_stdio(svc: Stocksync, tenant: str) -> AsyncIterator[ClientSession]:
    s = svc.settings
    env = {"STOCKSYNC_DATABASE_URL": s.database_url, "STOCKSYNC_SECRET_KEY": s.secret_key or "",
           "STOCKSYNC_LOG_LEVEL": "warning", "PATH": os.environ.get("PATH", "")}
    if s.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = s.database_schema
    params = StdioServerParameters(command=STOCKSYNC, args=["mcp", "--tenant", tenant], env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def exercise_every_tool(session: ClientSession) -> None:
    listed = await session.list_tools()
    assert {t.name for t in listed.tools} == TOOLS
    one = _data(await session.call_tool("get_availability", {"skus": ["TEE-1"]}))
    tee = one["items"][0]
    assert (tee["sku"], tee["available"], tee["locations"][0]["location"]) == ("TEE-1", 10,
                                                                               "WH")
    assert one["as_of_sequence"] >= 1 and one["as_of"] and one["age_seconds"] >= 0
    assert one["fresh"] is True and one["fresh_threshold_seconds"] == 30.0
    web = tee["channels"][0]
    assert web["channel"] == "web" and {"shows", "should_show", "lag_seconds",
                                        "fresh"} <= set(web)
    many = _data(await session.call_tool("get_availability", {
        "skus": ["TEE-1", "MUG-1", "NOPE"], "location": "WH", "include_channels": False}))
    assert [i["sku"] for i in many["items"]] == ["TEE-1", "MUG-1"]
    assert many["unknown"] == ["NOPE"]
    nowhere = _refusal(await session.call_tool("get_availability", {
        "skus": ["TEE-1"], "location": "MOON"}))
    assert (nowhere["status"], nowhere["details"]["field"]) == (422, "location")
    found = _data(await session.call_tool("search_items", {"query": "mug"}))
    assert [i["sku"] for i in found["items"]] == ["MUG-1"] and "as_of_sequence" in found

    key = uuid.uuid4().hex
    held = _data(await session.call_tool("reserve_stock", {
        "sku": "TEE-1", "quantity": 3, "location": "WH", "idempotency_key": key}))
    assert held["reservation"]["status"] == "active"
    assert held["stock"]["items"][0]["available"] == 7
    again = _data(await session.call_tool("reserve_stock", {
        "sku": "TEE-1", "quantity": 3, "location": "WH", "idempotency_key": key}))
    assert again["reservation"]["id"] == held["reservation"]["id"]
    assert again["reservation"]["replayed"] is True
    assert again["stock"]["items"][0]["available"] == 7  # held once, not twice
    reused = _refusal(await session.call_tool("reserve_stock", {
        "sku": "TEE-1", "quantity": 1, "location": "WH", "idempotency_key": key}))
    assert reused["status"] == 422
    too_many = _refusal(await session.call_tool("reserve_stock", {
        "sku": "MUG-1", "quantity": 99, "location": "WH",
        "idempotency_key": uuid.uuid4().hex}))
    assert (too_many["status"], too_many["details"]["available"]) == (409, 2)

    done = _data(await session.call_tool("commit_reservation", {
        "reservation_id": held["reservation"]["id"], "idempotency_key": uuid.uuid4().hex}))
    assert done["reservation"]["status"] == "committed"
    assert done["stock"]["items"][0]["on_hand"] == 7
    other = _data(await session.call_tool("reserve_stock", {
        "sku": "MUG-1", "quantity": 2, "idempotency_key": uuid.uuid4().hex}))
    back = _data(await session.call_tool("release_reservation", {
        "reservation_id": other["reservation"]["id"], "idempotency_key": uuid.uuid4().hex}))
    assert back["reservation"]["status"] == "released"
    assert back["stock"]["items"][0]["available"] == 2

    health = _data(await session.call_tool("channel_health", {}))
    assert [c["channel"] for c in health["channels"]] == ["web"]
    assert {"state", "lag_seconds", "fresh"} <= set(health["channels"][0])


@pytest.fixture
def stocked(client: httpx.Client, svc: Stocksync, tenant: Tenant) -> Tenant:
    seed(client, {"TEE-1": {"WH": 10}, "MUG-1": {"WH": 2}})
    r = client.put("/v1/items/MUG-1", json={"title": "Enamel mug"})
    assert r.status_code == 200, r.text
    r = client.post("/v1/channels?verify=false", json={
        "code": "web", "kind": "generic_http", "name": "web shop", "locations": ["WH"],
        "settings": {"url": "http://127.0.0.1:9/stock"},
        "credentials": {"secret": "s3cret-s3cret-s3cret"}})
    assert r.status_code == 201, r.text
    settle(svc)
    with svc.uow(tenant.id, write=False) as uow:
        assert SqlChannels(uow.conn, tenant.id).get("web") is not None
    return tenant


def _run(test: Callable[[], Awaitable[None]]) -> None:
    anyio.run(test)


def test_every_tool_over_streamable_http(server: LiveServer, stocked: Tenant) -> None:
    async def main() -> None:
        async with over_http(server.url, stocked.key) as session:
            await exercise_every_tool(session)

    _run(main)


def test_every_tool_over_stdio(server: LiveServer, svc: Stocksync, stocked: Tenant) -> None:
    async def main() -> None:
        async with over_stdio(svc, "acme") as session:
            await exercise_every_tool(session)

    _run(main)


def test_a_wrong_or_publishable_key_is_refused_over_http(server: LiveServer,
                                                         stocked: Tenant,
                                                         client: httpx.Client) -> None:
    pk = client.post("/v1/publishable-keys").json()["publishable_key"]
    for headers in ({"Authorization": "Bearer sk_not-a-key"},
                    {"Authorization": f"Bearer {pk}"}, {}):
        r = httpx.post(f"{server.url}/mcp", headers=headers,
                       json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_tenants_see_only_their_own_stock_over_http(server: LiveServer, svc: Stocksync,
                                                    stocked: Tenant) -> None:
    other = new_tenant(svc, "other shop")
    with httpx.Client(base_url=server.url, headers=other.headers) as theirs:
        seed(theirs, {"TEE-1": {"SHOP": 4}})
    settle(svc)

    async def main() -> None:
        async with over_http(server.url, other.key) as session:
            seen = _data(await session.call_tool("get_availability", {
                "skus": ["TEE-1", "MUG-1"]}))
            assert [(i["sku"], i["available"]) for i in seen["items"]] == [("TEE-1", 4)]
            assert seen["unknown"] == ["MUG-1"]
            assert _data(await session.call_tool("channel_health", {}))["channels"] == []
        async with over_http(server.url, stocked.key) as session:
            mine = _data(await session.call_tool("get_availability", {"skus": ["TEE-1"]}))
            assert mine["items"][0]["available"] == 10

    _run(main)


def test_an_unknown_tenant_stops_the_stdio_server(svc: Stocksync, tmp_path: Path) -> None:
    import subprocess

    env = {**os.environ, "STOCKSYNC_DATABASE_URL": svc.settings.database_url,
           "STOCKSYNC_SECRET_KEY": svc.settings.secret_key or ""}
    if svc.settings.database_schema:
        env["STOCKSYNC_DATABASE_SCHEMA"] = svc.settings.database_schema
    done = subprocess.run([STOCKSYNC, "mcp", "--tenant", "nobody"], env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "no tenant 'nobody'" in done.stderr
    assert done.stdout == ""


def test_a_channel_behind_the_threshold_is_not_fresh(server: LiveServer, svc: Stocksync,
                                                     stocked: Tenant) -> None:
    from mcp import Client

    from stocksync.agents.tools import build_server

    # The web channel's URL answers nothing: its changes stay unacknowledged and its lag
    # grows past a threshold of half a second, while the ledger's answer stays fresh.
    svc.settings = svc.settings.model_copy(update={"agent_fresh_seconds": 0.5})

    async def main() -> None:
        async with Client(build_server(svc, lambda _ctx: stocked.id)) as session:
            for _ in range(200):
                answer = _data(await session.call_tool("get_availability",
                                                       {"skus": ["TEE-1"]}))
                web = answer["items"][0]["channels"][0]
                if not web["fresh"]:
                    break
                await anyio.sleep(0.1)
            assert answer["fresh"] is True and answer["fresh_threshold_seconds"] == 0.5
            assert web["fresh"] is False and web["lag_seconds"] > 0.5
            assert web["shows"] is None and web["should_show"] == 10 and not web["in_sync"]
            health = _data(await session.call_tool("channel_health", {}))
            assert health["channels"][0]["fresh"] is False

    _run(main)

"""Any interleaving of sales at a channel, sales in stocksync, receipts, pushes, late order
deliveries and level notices ends with the channel at exactly the rule-computed value and
the ledger equal to receipts minus every sale. (A notice that reports a sale before its
order arrives is accepted and netted when the order comes: counted once.) On the way, no
push ever raises the channel above the units that truly exist: that would give a sold
unit back to be sold again.

Driven step by step (no background workers) against the Shopify simulator over HTTP, so
hypothesis chooses the order in which an order webhook, a push and a notice cross.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stocksync.app.channel_changes import Source
from stocksync.app.connect import connect
from stocksync.app.ingest import Ingestor
from stocksync.app.projector import project
from stocksync.app.pusher import Pushed, Pusher
from stocksync.bootstrap import build_service
from stocksync.channels.base import RateLimited
from stocksync.config import Settings
from stocksync.core.channel_rules import SkuState, channel_quantity
from stocksync.core.channels import Channel
from stocksync.core.inbound import LevelReport
from stocksync.ingest.shopify import order_sales
from stocksync.simulators.server import ServerThread
from stocksync.simulators.shopify import create_app as shopify_app
from stocksync.simulators.shopify_state import ShopifySimConfig
from stocksync.storage.channels import SqlChannels
from tests.conftest import TEST_SECRET, LiveServer, new_tenant, postgres_settings, settle

TOKEN = "shpat_property"
INITIAL = 60
_skus = itertools.count(1)


@dataclass
class World:
    svc: Any
    api: httpx.Client
    sim: str
    location: str
    channel_code: str = "shop"


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def world(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if request.param == "sqlite":
        path: Path = tmp_path_factory.mktemp("converge") / "stocksync.db"
        yield from _world(Settings(database_url=f"sqlite:///{path}", run_workers=False,
                                   secret_key=TEST_SECRET, reconcile_minutes=0,
                                   level_notice_grace_seconds=0))
        return
    for pg in postgres_settings():
        yield from _world(pg.model_copy(update={"level_notice_grace_seconds": 0}))


def _world(config: Settings) -> Iterator[World]:
    service = build_service(config)
    tenant = new_tenant(service)
    with LiveServer(service, workers=False) as live, \
            ServerThread(shopify_app(ShopifySimConfig(access_token=TOKEN))) as sim, \
            httpx.Client(base_url=live.url, headers=tenant.headers, timeout=30) as api:
        location = str(httpx.get(sim.url + "/_sim/state").json()["locations"][0]["id"])
        assert api.put("/v1/locations/WH", json={"name": "WH"}).status_code in (200, 201)
        r = api.post("/v1/channels", json={
            "code": "shop", "kind": "shopify", "name": "store", "locations": ["WH"],
            "settings": {"shop_url": sim.url, "location_id": location},
            "credentials": {"access_token": TOKEN}})
        assert r.status_code == 201, r.text
        assert r.json()["rules"]["external_changes"] == "accept"  # the kind's default
        yield World(service, api, sim.url, location)
    service.engine.dispose()


@dataclass
class Run:
    sku: str
    orders: list[dict[str, Any]] = field(default_factory=list)  # placed, not delivered
    receipts: int = INITIAL
    api_sold: int = 0
    channel_sold: int = 0
    edits: int = 0


Step = st.one_of(
    st.tuples(st.just("channel_sale"), st.integers(1, 3)),
    st.tuples(st.just("api_sale"), st.integers(1, 3)),
    st.tuples(st.just("receive"), st.integers(1, 4)),
    st.tuples(st.just("push"), st.just(0)),
    st.tuples(st.just("project"), st.just(0)),
    st.tuples(st.just("deliver"), st.just(0)),
    st.tuples(st.just("notice"), st.just(0)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(Step, min_size=1, max_size=30))
def test_any_interleaving_converges_exactly(world: World, steps: list[tuple[str, int]]) -> None:
    _story(world, steps)


def test_the_last_unit_taken_first_from_its_level_notice_is_sold_not_refused(
        world: World) -> None:
    """The channel sells the last unit; its level notice is accepted (no order yet) and
    takes the unit from the ledger; the order comes next. It must count as the sale that
    level was, not be refused for lack of the unit its own notice took (which would also
    give that unit back: a unit to sell twice)."""
    run = _story(world, [("api_sale", INITIAL - 1), ("project", 0), ("push", 0),
                         ("channel_sale", 1), ("notice", 0), ("deliver", 0)])
    assert run.channel_sold == 1
    conflicts = world.api.get("/v1/events", params={"type": "conflict.detected",
                                                    "sku": run.sku}).json()["events"]
    assert not conflicts


def test_a_counted_sale_is_not_set_back_by_a_push_before_the_projector_runs(
        world: World) -> None:
    """The channel's order is counted (its expected value moves) and the pusher runs before
    the projector has computed the new wanted value: setting the old one would succeed
    (the compare-and-set holds) and give the sold unit back."""
    run = _story(world, [("channel_sale", 1), ("deliver", 0), ("push", 0), ("push", 0)])
    assert run.channel_sold == 1


def test_a_level_accepted_from_a_notice_is_not_set_back_by_a_push_before_the_projector(
        world: World) -> None:
    """The same with the channel's level notice ahead of its order: the level is accepted
    (an adjustment), and the pusher must not set the old wanted value over it."""
    run = _story(world, [("channel_sale", 2), ("notice", 0), ("push", 0), ("deliver", 0),
                         ("push", 0)])
    assert run.channel_sold == 2


def test_a_channel_sale_that_lands_on_the_value_being_set_is_still_counted_once(
        world: World) -> None:
    """The channel sells one (60 -> 59) while stocksync, after its own sale, sets 59 over
    the 60 it expects: the compare-and-set is lost and the channel shows 59, the value
    being set. That is the channel's sale, not our set: settled as such (three lost rounds
    later, no order yet), and the order arriving afterwards is netted against it."""
    run = _story(world, [("channel_sale", 1), ("api_sale", 1), ("project", 0),
                         ("push", 0), ("push", 0), ("push", 0), ("push", 0), ("deliver", 0)])
    assert run.channel_sold == 1 and run.api_sold == 1


def test_a_rise_is_not_pushed_past_a_sale_the_projector_has_not_seen(world: World) -> None:
    """A receipt is projected (the channel should show one more), then a sale through the
    API takes a unit before the projector runs again: the push must not put that unit on
    sale (it goes only as far as the ledger's levels, which the sale already moved)."""
    run = _story(world, [("receive", 1), ("project", 0), ("api_sale", 1), ("push", 0)])
    assert run.api_sold == 1


def test_a_lost_compare_and_set_read_before_an_order_was_counted_is_not_settled(
        world: World) -> None:
    """The channel is read after three lost compare-and-sets (56), then sells once more and
    that order is counted (expected 55, right). Settling the old reading afterwards took 56
    as ours and later accepted the true 55 as a second sale: the ledger one unit low."""
    run = _story(world, [
        ("push", 0), ("push", 0), ("push", 0), ("receive", 1), ("push", 0),
        ("channel_sale", 1), ("deliver", 0), ("project", 0), ("channel_sale", 2), ("push", 0),
        ("receive", 3), ("project", 0), ("channel_sale", 1), ("push", 0), ("api_sale", 1),
        ("push", 0), ("api_sale", 2), ("push", 0), ("channel_sale", 1), ("deliver", 0),
        ("deliver", 0), ("receive", 4)])
    assert run.channel_sold == 5


def _story(world: World, steps: list[tuple[str, int]]) -> Run:
    run = Run(sku=f"P-{next(_skus)}")
    api = world.api
    assert api.put(f"/v1/items/{run.sku}", json={"title": run.sku}).status_code == 201
    assert api.post("/v1/movements", json={"type": "receive", "sku": run.sku, "location": "WH",
                                           "quantity": INITIAL}).status_code == 201
    r = httpx.post(world.sim + "/_sim/products", json={
        "sku": run.sku, "quantities": {world.location: 0}})
    assert r.status_code == 201, r.text
    anyio.run(_play, world, run, steps)

    ledger = api.get(f"/v1/stock/{run.sku}").json()
    on_hand = ledger["on_hand"]
    assert on_hand == run.receipts - run.api_sold - run.channel_sold + run.edits, (ledger, steps)
    shown = _shown(world, run.sku)
    with world.svc.uow(_tenant_id(world), write=False) as uow:
        levels = {lv.location: lv.available for lv in uow.ledger.levels([run.sku],
                                                                         world.svc.clock())}
        channel = SqlChannels(uow.conn, _tenant_id(world)).get(world.channel_code)
        target = SqlChannels(uow.conn, _tenant_id(world)).targets("shop", [run.sku])[run.sku]
    assert channel is not None
    rule = channel_quantity(channel.rules, SkuState(run.sku, levels))
    assert shown == rule == target.pushed == target.wanted, (shown, rule, target, steps)
    return run


async def _play(world: World, run: Run, steps: list[tuple[str, int]]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        channel = await anyio.to_thread.run_sync(_channel, world)
        pusher = Pusher(world.svc, channel,
                        await anyio.to_thread.run_sync(connect, world.svc, channel, client))
        ingestor = Ingestor(world.svc, None)
        # The channel is in sync before the story starts (a first sync overwrites).
        await anyio.to_thread.run_sync(_project, world, channel)
        await _push(pusher)
        for name, n in steps:
            await _step(world, run, channel, pusher, ingestor, client, name, n)
        # Drain: every order arrives, the channel reports its level once, then push until
        # nothing is due (a lost compare-and-set settles on the next round: grace 0).
        while run.orders:
            await _step(world, run, channel, pusher, ingestor, client, "deliver", 0)
        await _step(world, run, channel, pusher, ingestor, client, "notice", 0)
        for _ in range(8):
            await anyio.to_thread.run_sync(_project, world, channel)
            pushed = await _push(pusher, world, run)
            if not pushed.sent and not await anyio.to_thread.run_sync(_due, world):
                break


async def _step(world: World, run: Run, channel: Channel, pusher: Pusher,
                ingestor: Ingestor, client: httpx.AsyncClient, name: str, n: int) -> None:
    sku = run.sku
    if name == "channel_sale":
        r = await client.post(world.sim + "/_sim/orders", json={
            "line_items": [{"sku": sku, "quantity": n}]})
        if r.status_code == 201:  # the channel refuses what it does not show
            run.orders.append(r.json())
            run.channel_sold += n
    elif name == "api_sale":
        r = await anyio.to_thread.run_sync(lambda: world.api.post("/v1/movements", json={
            "type": "sale", "sku": sku, "location": "WH", "quantity": n}))
        if r.status_code == 201:
            run.api_sold += n
    elif name == "receive":
        r = await anyio.to_thread.run_sync(lambda: world.api.post("/v1/movements", json={
            "type": "receive", "sku": sku, "location": "WH", "quantity": n}))
        assert r.status_code == 201
        run.receipts += n
    elif name == "edit":
        before = _shown(world, sku)
        after = max(before + n, 0)
        await client.put(f"{world.sim}/_sim/inventory/{sku}", json={"available": after})
        run.edits += after - before
    elif name == "push":
        await _push(pusher, world, run)
    elif name == "project":
        await anyio.to_thread.run_sync(_project, world, channel)
    elif name == "deliver" and run.orders:
        order = run.orders.pop(0)
        await ingestor.apply(channel, order_sales(order, channel.settings),
                             Source(f"order-{order['id']}"))
    elif name == "notice":
        value = _shown(world, sku)
        await ingestor.apply(channel, [LevelReport(sku, None, value,
                                                   observed_at=datetime.now(UTC))],
                             Source(f"notice-{datetime.now(UTC).timestamp()}"))


async def _push(pusher: Pusher, world: World | None = None, run: Run | None = None) -> Pushed:
    """One push round. A push may raise what the channel shows only up to the units that
    exist (receipts and edits minus every sale, also those whose order is not in yet)."""
    before = await _shown_async(world, run.sku) if world and run else None
    for _ in range(20):
        try:
            pushed = await pusher.push_once()
            break
        except RateLimited as exc:  # the simulator's cost bucket: wait as Shopify asks
            await anyio.sleep(exc.retry_after)
    else:
        raise AssertionError("still throttled")
    if world is not None and run is not None and before is not None:
        after = await _shown_async(world, run.sku)
        exist = run.receipts + run.edits - run.api_sold - run.channel_sold
        assert after <= before or after <= exist, (
            f"a push raised {run.sku} from {before} to {after} with {exist} units left")
    return pushed


async def _shown_async(world: World, sku: str) -> int:
    return await anyio.to_thread.run_sync(_shown, world, sku)


def _tenant_id(world: World) -> str:
    with world.svc.engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT id FROM tenants").scalar())


def _channel(world: World) -> Channel:
    with world.svc.uow(_tenant_id(world), write=False) as uow:
        channel = SqlChannels(uow.conn, _tenant_id(world)).get(world.channel_code)
    assert channel is not None
    return channel


def _project(world: World, channel: Channel) -> None:
    settle(world.svc)
    tenant = _tenant_id(world)
    with world.svc.uow(tenant) as uow:
        current = SqlChannels(uow.conn, tenant).get(channel.code)
        assert current is not None
        project(uow, current, world.svc.clock())
        uow.commit()


def _due(world: World) -> bool:
    tenant = _tenant_id(world)
    with world.svc.uow(tenant, write=False) as uow:
        return bool(SqlChannels(uow.conn, tenant).pending_skus("shop"))


def _shown(world: World, sku: str) -> int:
    state = httpx.get(world.sim + "/_sim/state").json()
    return int(state["available"][sku][world.location])

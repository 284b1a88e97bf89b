"""A channel's level accepted (settle_level) while one of the orders it shows is being
counted (count_channel_move): the order must be netted against the accepted level, so the
sale counts once. The order's transaction decides what it absorbs from the row it reads,
and writes back relative to it: reading that row without a lock let the level's
transaction commit in between, and the order was counted a second time (found by the
PostgreSQL sales race in CI: the ledger one unit low)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from stocksync.app import handlers as h
from stocksync.app.channel_changes import count_channel_move
from stocksync.app.records import Wanted, WriteContext
from stocksync.app.service import Stocksync
from stocksync.core.catalog import Item, Location
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from tests.conftest import new_tenant

pytestmark = pytest.mark.parametrize("db_settings", ["sqlite", "postgres"], indirect=True)
CODE = "shop"


@pytest.fixture
def shop(svc: Stocksync) -> Iterator[tuple[Stocksync, Channel]]:
    tenant = new_tenant(svc).id
    now = datetime.now(UTC)
    channel = Channel(tenant, CODE, ChannelKind.SHOPIFY, "Shop", ChannelRules(("WH",)), {})
    with svc.uow(tenant) as uow:
        uow.catalog.put_location(Location("WH", "WH"), now)
        uow.catalog.put_item(Item("TEE", title="Tee"), now)
        h.record_movement(uow, WriteContext(tenant_id=tenant, now=now, source="test"),
                          h.Movement("receive", "TEE", "WH", 40))
        uow.channels.add(channel, "sealed", 0, now)
        uow.channels.want_many(CODE, [Wanted("TEE", 34, 1, now)], {})
        assert uow.channels.acknowledge(CODE, "TEE", 34, now)
        uow.commit()
    yield svc, channel


def test_an_order_counted_while_its_level_is_accepted_counts_once(
        shop: tuple[Stocksync, Channel]) -> None:
    svc, channel = shop
    tenant = channel.tenant_id
    level_at = datetime.now(UTC)
    ordered_at = level_at - timedelta(seconds=5)  # well inside the level that shows it
    counted = threading.Event()

    def count_the_order() -> None:
        with svc.uow(tenant) as uow:
            ctx = WriteContext(tenant_id=tenant, now=datetime.now(UTC), source="shop")
            count_channel_move(uow, ctx, channel, "TEE", "WH", -1, ordered_at)
            h.record_movement(uow, ctx, h.Movement("sale", "TEE", "WH", 1))
            uow.commit()
        counted.set()

    # The channel shows 31 where 34 was expected: three units sold there, one of them the
    # order above. The level's transaction holds the row while the order is counted.
    with svc.uow(tenant) as uow:
        assert uow.channels.accept_level(CODE, "TEE", 31, 34, level_at, level_at,
                                         wanted_delta=-3)
        h.record_movement(uow, WriteContext(tenant_id=tenant, now=level_at, source="shop"),
                          h.Movement("adjust", "TEE", "WH", -3, reason="changed in shop"))
        order = threading.Thread(target=count_the_order)
        order.start()
        time.sleep(0.5)  # the order's transaction has started and waits for the row
        assert not counted.is_set()
        uow.commit()
    order.join(timeout=30)
    assert counted.is_set()

    with svc.uow(tenant, write=False) as uow:
        target = uow.channels.targets(CODE, ["TEE"])["TEE"]
        on_hand = uow.ledger.level("TEE", "WH", datetime.now(UTC)).on_hand
    # Three units left the channel; the order was one of them: counted once, and two of
    # the three still wait for their orders.
    assert on_hand == 40 - 3
    assert (target.pushed, target.unexplained) == (31, -2)

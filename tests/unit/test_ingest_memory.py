"""The ingestor (app/ingest.py) on the memory twin: what a channel tells stocksync (its
sales, returns and level notices) reaches the ledger once, refusals are typed, and the
value expected at the channel moves with its own sales."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest

from stocksync.app.channel_changes import DeadLetter, Source
from stocksync.app.ingest import Applied, Ingestor
from stocksync.app.projector import project
from stocksync.app.records import Delivery
from stocksync.channels.base import note_level_time
from stocksync.core.channel_rules import ChannelRules, ExternalChanges
from stocksync.core.channels import Channel
from stocksync.core.inbound import ChannelReturn, ChannelSale, InboundMessage, LevelReport
from stocksync.ingest import polled
from tests.unit.memory_shop import Shop


def _apply(shop: Shop, channel: Channel, *messages: InboundMessage,
           source: str = "d-1") -> Applied:
    ingestor = Ingestor(shop.svc, fetch=None)
    return anyio.run(ingestor.apply, channel, list(messages), Source(source))


def _sale(sku: str = "TEE", quantity: int = 1, key: str = "web:1001:1",
          location: str | None = None) -> ChannelSale:
    return ChannelSale(sku, quantity, key, location=location,
                       occurred_at=datetime(2026, 3, 2, 8, 59, tzinfo=UTC))


def _shown(shop: Shop, channel: Channel, sku: str, value: int) -> None:
    """The channel was told `value` for `sku` and acknowledged it."""
    shop.svc.admin.drain()
    with shop.svc.uow(shop.tenant) as uow:
        project(uow, channel, shop.clock())
        assert uow.channels.acknowledge(channel.code, sku, value, shop.clock())
        uow.commit()


def test_a_sale_reaches_the_ledger_once() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    assert _apply(shop, web, _sale(quantity=2)).sales == 1
    _apply(shop, web, _sale(quantity=2), source="d-2")  # the same order line again
    assert shop.on_hand("TEE") == 3
    assert shop.log_types().count("stock.sold") == 1


def test_a_sale_stocksync_cannot_cover_is_refused_as_oversold_and_recorded() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=1)
    with pytest.raises(DeadLetter) as refused:
        _apply(shop, web, _sale(quantity=2))
    assert refused.value.oversold
    assert shop.on_hand("TEE") == 1
    assert shop.log_types()[-1] == "conflict.detected"


def test_a_sale_of_an_unknown_sku_is_dead_lettered_not_oversold() -> None:
    shop = Shop()
    web = shop.channel()
    with pytest.raises(DeadLetter) as refused:
        _apply(shop, web, _sale("NOPE"))
    assert not refused.value.oversold


def test_a_sale_without_a_location_is_taken_where_most_is_available() -> None:
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH", "NYC")))
    shop.item("TEE", WH=1, NYC=3)
    _apply(shop, web, _sale())
    assert (shop.on_hand("TEE", "WH"), shop.on_hand("TEE", "NYC")) == (1, 2)


def test_a_return_restocks_where_its_sale_was_taken_and_only_then() -> None:
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH", "NYC")))
    shop.item("TEE", WH=1, NYC=3)
    orphan = ChannelReturn("", 1, "web:r:9", sale_key="web:1000:1")
    assert _apply(shop, web, orphan).returns == 0  # its sale was never counted
    _apply(shop, web, _sale(quantity=2))
    back = ChannelReturn("", 2, "web:r:1", sale_key="web:1001:1")
    assert _apply(shop, web, back).returns == 1
    assert _apply(shop, web, back, source="d-2").returns == 1  # applied once all the same
    assert (shop.on_hand("TEE", "WH"), shop.on_hand("TEE", "NYC")) == (1, 3)


def test_a_sale_at_the_channel_moves_what_stocksync_expects_there() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    _shown(shop, web, "TEE", 5)
    _apply(shop, web, _sale(quantity=2))
    with shop.svc.uow(shop.tenant, write=False) as uow:
        target = uow.channels.targets(web.code, ["TEE"])["TEE"]
    # The channel took the units off itself: it shows 3, and 3 is what it should show.
    assert (target.pushed, target.wanted, target.channel_moves) == (3, 3, -2)


def test_a_level_notice_that_echoes_our_own_set_changes_nothing() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    _shown(shop, web, "TEE", 5)
    assert _apply(shop, web, LevelReport("TEE", None, 5)).echoes == 1
    assert shop.on_hand("TEE") == 5


def test_a_level_changed_in_the_channel_by_a_person_is_accepted_once() -> None:
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH",), external_changes=ExternalChanges.ACCEPT))
    shop.item("TEE", WH=5)
    _shown(shop, web, "TEE", 5)
    assert _apply(shop, web, LevelReport("TEE", None, 8)).adjustments == 1
    assert _apply(shop, web, LevelReport("TEE", None, 8), source="d-2").adjustments == 0
    assert shop.on_hand("TEE") == 8


def test_a_level_read_back_is_taken_as_of_when_the_channel_says_it_changed() -> None:
    """The read may have waited (pacing, a busy pool) while the channel sold more: the
    level is as of the platform's own time for it, so an order made after that time and
    before the read was sent is not taken as already in the level."""
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH",), external_changes=ExternalChanges.ACCEPT))
    shop.item("TEE", WH=5)
    _shown(shop, web, "TEE", 5)
    changed_at = datetime(2026, 3, 2, 8, 58, tzinfo=UTC)

    async def fetch(channel: Channel, sku: str) -> int | None:
        note_level_time(sku, changed_at)  # what a connector that knows it records
        return 4

    ingestor = Ingestor(shop.svc, fetch=fetch)
    done = anyio.run(ingestor.apply, web, [LevelReport("TEE", None, 4)], Source("d-1"))
    assert done.adjustments == 1
    with shop.svc.uow(shop.tenant, write=False) as uow:
        target = uow.channels.targets(web.code, ["TEE"])["TEE"]
    assert (target.pushed, target.unexplained, target.level_at) == (4, -1, changed_at)


def test_a_polled_delivery_is_parsed_and_applied() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    delivery_id, body = polled.encode([_sale(quantity=3)])
    delivery = Delivery(1, shop.tenant, web.code, polled.KIND, delivery_id, polled.TOPIC,
                        {}, body, shop.clock(), "pending", 0, None, None, None)
    ingestor = Ingestor(shop.svc, fetch=None)
    channel = ingestor.load(delivery)
    assert anyio.run(ingestor.process, delivery, channel).sales == 1
    assert shop.on_hand("TEE") == 2

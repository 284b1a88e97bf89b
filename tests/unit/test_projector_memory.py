"""The projector (app/projector.py) on the memory twin: it follows the log from a
channel's cursor and records what the channel should show, from the current ledger."""

from __future__ import annotations

from stocksync.app import handlers as h
from stocksync.app.projector import project
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel
from stocksync.core.events import Event, EventType
from tests.unit.memory_shop import Shop


def _project(shop: Shop, channel: Channel, page: int = 2000) -> tuple[int, int, int]:
    shop.svc.admin.drain()
    with shop.svc.uow(shop.tenant) as uow:
        done = project(uow, shop.reload(channel), shop.clock(), page)
        uow.commit()
    return done.events, done.changed, done.cursor


def _wanted(shop: Shop, channel: Channel, *skus: str) -> dict[str, int | None]:
    with shop.svc.uow(shop.tenant, write=False) as uow:
        return {s: t.wanted for s, t in uow.channels.targets(channel.code, skus).items()}


def test_the_channel_is_told_what_its_locations_have_available() -> None:
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH", "NYC")))
    shop.item("TEE", WH=5, NYC=2)
    shop.item("HAT", WH=1)
    assert _project(shop, web) == (3, 2, 3)
    assert _wanted(shop, web, "TEE", "HAT") == {"TEE": 7, "HAT": 1}
    assert shop.reload(web).cursor == 3
    with shop.svc.uow(shop.tenant, write=False) as uow:
        assert uow.channels.pending_skus(web.code) == {"TEE", "HAT"}


def test_rules_shape_the_value_buffer_share_and_cap() -> None:
    shop = Shop()
    buffered = shop.channel("b", rules=ChannelRules(("WH",), safety_buffer=2,
                                                    allocation_percent=50))
    capped = shop.channel("c", rules=ChannelRules(("WH",), max_quantity=3))
    shop.item("TEE", WH=10)
    _project(shop, buffered)
    _project(shop, capped)
    assert _wanted(shop, buffered, "TEE") == {"TEE": 4}  # (10 - 2) * 50%
    assert _wanted(shop, capped, "TEE") == {"TEE": 3}


def test_many_events_on_a_sku_coalesce_and_an_unchanged_value_is_not_rewritten() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    shop.move(h.Movement("sale", "TEE", "WH", 1))
    shop.move(h.Movement("sale", "TEE", "WH", 1))
    assert _project(shop, web) == (3, 1, 3)
    assert _wanted(shop, web, "TEE") == {"TEE": 3}
    shop.move(h.Movement("receive", "TEE", "NYC", 4))  # not a location it sells from
    assert _project(shop, web) == (1, 0, 4)


def test_a_page_at_a_time_and_nothing_left_means_nothing_done() -> None:
    shop = Shop()
    web = shop.channel()
    for sku in ("A", "B", "C"):
        shop.item(sku, WH=1)
    assert _project(shop, web, page=2) == (2, 2, 2)
    assert _project(shop, web, page=2) == (1, 1, 3)
    assert _project(shop, web) == (0, 0, 3)


def test_excluded_and_deleted_items_show_zero() -> None:
    shop = Shop()
    web = shop.channel(rules=ChannelRules(("WH",), exclude=("SECRET-*",)))
    shop.item("SECRET-1", WH=5)
    shop.item("TEE", WH=5)
    _project(shop, web)
    assert _wanted(shop, web, "SECRET-1", "TEE") == {"TEE": 5}  # never listed there
    with shop.svc.uow(shop.tenant) as uow:
        uow.catalog.set_deleted("TEE", shop.clock(), shop.clock())
        uow.ledger.append(Event(EventType.ITEM_DELETED, "TEE", None), shop.ctx())
        uow.commit()
    _project(shop, web)
    assert _wanted(shop, web, "TEE") == {"TEE": 0}

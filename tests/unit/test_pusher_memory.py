"""The pusher (app/pusher.py) on the memory twin, against an in-memory connector: it sends
what a channel has not acknowledged, in the connector's batch size, records what was
acknowledged, leaves failures to be retried and parks what the channel refuses."""

from __future__ import annotations

import anyio
import pytest

from stocksync.app import handlers as h
from stocksync.app.projector import project
from stocksync.app.pusher import SETTLE_AFTER_ROUNDS, Pushed, Pusher
from stocksync.app.records import SkuTarget
from stocksync.channels.base import Rejected, Unavailable
from stocksync.core.channels import Channel, ChannelKind
from tests.unit.memory_shop import FakeConnector, Shop


def _shop_with(kind: ChannelKind = ChannelKind.GENERIC_HTTP,
               **stock: int) -> tuple[Shop, Channel]:
    shop = Shop()
    channel = shop.channel(kind=kind)
    for sku, quantity in stock.items():
        shop.item(sku, WH=quantity)
    _project(shop, channel)
    return shop, channel


def _project(shop: Shop, channel: Channel) -> None:
    shop.svc.admin.drain()
    with shop.svc.uow(shop.tenant) as uow:
        project(uow, shop.reload(channel), shop.clock())
        uow.commit()


def _push(shop: Shop, channel: Channel, connector: FakeConnector) -> Pushed:
    return anyio.run(Pusher(shop.svc, shop.reload(channel), connector).push_once)


def _targets(shop: Shop, channel: Channel, *skus: str) -> dict[str, SkuTarget]:
    with shop.svc.uow(shop.tenant, write=False) as uow:
        return uow.channels.targets(channel.code, skus)


def test_wanted_values_are_sent_and_acknowledged() -> None:
    shop, web = _shop_with(A=3, B=1)
    connector = FakeConnector()
    assert _push(shop, web, connector) == Pushed(2, 2, 0)
    assert connector.shown == {"A": 3, "B": 1}
    targets = _targets(shop, web, "A", "B")
    assert {s: (t.pushed, t.pending_since) for s, t in targets.items()} == \
        {"A": (3, None), "B": (1, None)}
    assert _push(shop, web, connector) == Pushed(0, 0, 0)  # nothing left to send
    assert len(connector.calls) == 1


def test_a_sale_reaches_the_channel_as_an_absolute_value() -> None:
    shop, web = _shop_with(A=3)
    connector = FakeConnector()
    _push(shop, web, connector)
    shop.move(h.Movement("sale", "A", "WH", 2))
    _project(shop, web)
    _push(shop, web, connector)
    assert connector.shown == {"A": 1}
    assert [c.quantity for c in connector.calls[-1]] == [1]
    assert connector.calls[-1][0].known == 3  # what stocksync knew the channel showed


def test_pushes_go_in_the_connectors_batch_size_oldest_first() -> None:
    shop = Shop()
    web = shop.channel()
    for sku in ("A", "B", "C"):
        shop.item(sku, WH=1)
        _project(shop, web)
        shop.clock.tick(1)
    connector = FakeConnector()
    assert _push(shop, web, connector).sent == 2
    assert _push(shop, web, connector).sent == 1
    assert [[c.sku for c in call] for call in connector.calls] == [["A", "B"], ["C"]]


def test_an_unavailable_channel_is_retried_with_the_same_values() -> None:
    shop, web = _shop_with(A=3)
    connector = FakeConnector(fail=Unavailable("HTTP 503"))
    with pytest.raises(Unavailable):
        _push(shop, web, connector)
    assert _targets(shop, web, "A")["A"].pending_since is not None
    assert _push(shop, web, connector) == Pushed(1, 1, 0)
    assert connector.calls[0] == connector.calls[1]
    assert connector.shown == {"A": 3}


def test_a_refused_push_parks_its_skus_until_they_change() -> None:
    shop, web = _shop_with(A=3, B=2)
    connector = FakeConnector(refuse={"A": "no such listing"})
    assert _push(shop, web, connector) == Pushed(2, 1, 1)
    assert _push(shop, web, connector) == Pushed(0, 0, 0)  # parked: not sent again
    with shop.svc.uow(shop.tenant, write=False) as uow:
        status = uow.channels.status(web.code, shop.reload(web).cursor, shop.clock())
    assert (status.pending, status.parked) == (1, 1)
    shop.move(h.Movement("receive", "A", "WH", 1))
    _project(shop, web)  # a new value unparks it
    connector.refuse.clear()
    assert _push(shop, web, connector) == Pushed(1, 1, 0)
    assert connector.shown["A"] == 4


def test_a_rejected_call_parks_every_sku_it_carried() -> None:
    shop, web = _shop_with(A=3)
    with pytest.raises(Rejected):
        _push(shop, web, FakeConnector(fail=Rejected("bad credentials")))
    with shop.svc.uow(shop.tenant, write=False) as uow:
        assert uow.channels.due(web.code, shop.clock(), 10) == []
        uow_status = uow.channels.status(web.code, 0, shop.clock())
    assert uow_status.parked == 1


def test_a_value_the_platform_has_not_applied_yet_is_asked_about_later() -> None:
    shop, web = _shop_with(A=3)
    connector = FakeConnector(slow={"A": 30.0})
    assert _push(shop, web, connector) == Pushed(1, 0, 0)
    assert _push(shop, web, connector) == Pushed(0, 0, 0)  # held for 30 s
    shop.clock.tick(31)
    connector.slow.clear()
    assert _push(shop, web, connector) == Pushed(1, 1, 0)


def test_a_push_that_crosses_a_sale_at_the_channel_waits_for_its_order() -> None:
    shop, web = _shop_with(ChannelKind.SHOPIFY, A=3)
    connector = FakeConnector()
    _push(shop, web, connector)

    class Crossed(FakeConnector):
        async def set_quantities(self, changes):  # type: ignore[no-untyped-def]
            report = await super().set_quantities([])
            report.changed = {c.sku: 2 for c in changes}  # the channel sold one itself
            return report

    shop.move(h.Movement("receive", "A", "WH", 2))
    _project(shop, web)
    pusher = Pusher(shop.svc, shop.reload(web), Crossed())
    assert anyio.run(pusher.push_once) == Pushed(1, 0, 0)
    target = _targets(shop, web, "A")["A"]
    assert (target.pushed, target.wanted) == (3, 5)  # not acknowledged: not overwritten
    assert anyio.run(pusher.push_once) == Pushed(0, 0, 0)  # its order has the grace
    shop.clock.tick(shop.svc.settings.level_notice_grace_seconds + 1)
    assert "A" in pusher.crossed


def test_a_lost_compare_and_set_is_forgotten_once_the_row_is_in_sync() -> None:
    """A reading kept past its rounds must not be settled later, when the channel has
    moved on: the row came in sync meanwhile, so the next push starts from scratch."""
    shop, web = _shop_with(ChannelKind.SHOPIFY, A=3)
    _push(shop, web, FakeConnector())

    class Crossed(FakeConnector):
        async def set_quantities(self, changes):  # type: ignore[no-untyped-def]
            report = await super().set_quantities([])
            report.changed = {c.sku: 2 for c in changes}
            return report

    shop.move(h.Movement("receive", "A", "WH", 2))
    _project(shop, web)
    pusher = Pusher(shop.svc, shop.reload(web), Crossed())
    for _ in range(SETTLE_AFTER_ROUNDS):
        assert anyio.run(pusher.push_once) == Pushed(1, 0, 0)
        shop.clock.tick(shop.svc.settings.level_notice_grace_seconds + 1)
    assert pusher.crossed["A"].rounds == SETTLE_AFTER_ROUNDS  # due to settle on its next turn
    # Before that turn, the ledger comes to what the channel was last known to show.
    shop.move(h.Movement("sale", "A", "WH", 2))
    _project(shop, web)
    assert anyio.run(pusher.push_once) == Pushed(0, 0, 0)  # in sync: nothing to send
    shop.move(h.Movement("receive", "A", "WH", 4))
    _project(shop, web)
    pusher.connector = FakeConnector()
    assert anyio.run(pusher.push_once) == Pushed(1, 1, 0)
    assert shop.on_hand("A") == 7  # the old reading (2) was never taken as a sale
    assert "stock.adjusted" not in shop.log_types()
    assert "A" not in pusher.crossed


def test_a_landed_set_forgets_an_earlier_lost_one() -> None:
    shop, web = _shop_with(ChannelKind.SHOPIFY, A=3)
    _push(shop, web, FakeConnector())
    shop.move(h.Movement("receive", "A", "WH", 2))
    _project(shop, web)

    class CrossedOnce(FakeConnector):
        crossed = False

        async def set_quantities(self, changes):  # type: ignore[no-untyped-def]
            if self.crossed:
                return await super().set_quantities(changes)
            self.crossed = True
            report = await super().set_quantities([])
            report.changed = {c.sku: 2 for c in changes}
            return report

    pusher = Pusher(shop.svc, shop.reload(web), CrossedOnce())
    assert anyio.run(pusher.push_once) == Pushed(1, 0, 0)
    assert "A" in pusher.crossed
    shop.clock.tick(shop.svc.settings.level_notice_grace_seconds + 1)
    assert anyio.run(pusher.push_once) == Pushed(1, 1, 0)
    assert "A" not in pusher.crossed


def test_the_pusher_records_the_channels_push_time() -> None:
    shop, web = _shop_with(A=1)
    _push(shop, web, FakeConnector())
    with shop.svc.uow(shop.tenant, write=False) as uow:
        status = uow.channels.status(web.code, shop.reload(web).cursor, shop.clock())
    assert status.last_push_at == shop.clock() and status.lag_since is None

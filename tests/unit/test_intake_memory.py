"""What comes in through the application layer alone, on the memory twin: orders read by
a poll are kept in the inbox once and the cursor moves on; the demo shop is seeded once
and its key is kept."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import anyio

from stocksync.app.demo import DEMO_TENANT, seed_demo
from stocksync.app.ingest import Ingestor
from stocksync.app.order_poller import OrderPoller
from stocksync.channels.base import OrderPage
from stocksync.core.inbound import ChannelSale, InboundMessage
from tests.unit.memory_shop import Shop


class FakeOrders:
    """A channel whose orders are read by polling: one page per call."""

    order_poll_seconds: ClassVar[float] = 5.0

    def __init__(self, pages: Sequence[list[InboundMessage]]) -> None:
        self.pages = list(pages)
        self.cursors: list[str] = []

    async def poll_orders(self, cursor: str) -> OrderPage:
        self.cursors.append(cursor)
        return OrderPage(self.pages.pop(0), f"c-{len(self.cursors)}")


def test_polled_orders_are_kept_once_and_applied_by_the_ingestor() -> None:
    shop = Shop()
    web = shop.channel()
    shop.item("TEE", WH=5)
    line = ChannelSale("TEE", 2, "web:1001:1", reference="#1001")
    orders = FakeOrders([[line], [line]])  # the second poll re-reads the same order
    poller = OrderPoller(shop.svc, web, orders)  # type: ignore[arg-type]
    assert anyio.run(poller.poll_once).orders == 1
    assert anyio.run(poller.poll_once).orders == 0
    assert orders.cursors == [web.created_at.isoformat(), "c-1"]  # type: ignore[union-attr]
    kept = shop.svc.inbox.listing(shop.tenant, "pending", 0, 10)
    assert len(kept) == 1
    ingestor = Ingestor(shop.svc, fetch=None)
    assert anyio.run(ingestor.process, kept[0], ingestor.load(kept[0])).sales == 1
    assert shop.on_hand("TEE") == 3


def test_the_demo_shop_is_seeded_once_and_its_key_reused(tmp_path: Path) -> None:
    shop = Shop()
    key_file = tmp_path / "shop.demo-key"
    first = seed_demo(shop.svc, key_file)
    again = seed_demo(shop.svc, key_file)
    assert (first.name, first.key_reused, again.key_reused) == (DEMO_TENANT, False, True)
    assert again.api_key == first.api_key == key_file.read_text().strip()
    assert shop.svc.tenants.tenant_for_key(first.api_key) == first.tenant_id
    with shop.svc.uow(first.tenant_id, write=False) as uow:
        assert len(uow.catalog.items(limit=1000)) == first.items == 30
        assert [loc.code for loc in uow.catalog.locations()] == ["NYC_01", "WH_MAIN"]
    key_file.write_text("sk_not-a-key\n")
    replaced = seed_demo(shop.svc, key_file)
    assert not replaced.key_reused and replaced.api_key != first.api_key

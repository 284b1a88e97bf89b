"""Square orders come back to stocksync: SquareConnector's order poll and order fetch, and
count stamps that keep Square's own later sales, against the simulator over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from stocksync.channels.base import FetchesOrders, OrderPage, PollsOrders, QuantitySet
from stocksync.channels.square import SquareConnector
from stocksync.core.inbound import ChannelReturn, ChannelSale, Ignored, OrderNotice
from stocksync.ingest.square import SquareWebhookParser
from tests.contract import test_square_connector as base
from tests.contract.test_square_connector import BATCH_CREATE, SIGNATURE_KEY, Square
from tests.webhook_receiver import WebhookReceiver

# The simulator fixtures of the connector's suite (same Square, same defaults).
start_square = base.start_square
square = base.square

SEARCH_ORDERS = "/v2/orders/search"
CHANGES = "/v2/inventory/changes/batch-retrieve"


def sell(square: Square, *lines: tuple[str, int], **extra: Any) -> dict[str, Any]:
    response = square.admin.post("/_sim/orders", json={
        "lines": [{"sku": sku, "quantity": str(n)} for sku, n in lines], **extra})
    response.raise_for_status()
    order: dict[str, Any] = response.json()
    return order


def give_back(square: Square, order_id: str, line_uid: str, quantity: int, restock: bool
              ) -> dict[str, Any]:
    response = square.admin.post(f"/_sim/orders/{order_id}/returns", json={
        "lines": [{"line_uid": line_uid, "quantity": str(quantity)}], "restock": restock})
    response.raise_for_status()
    order: dict[str, Any] = response.json()
    return order


def keys(messages: list[Any]) -> list[str]:
    return [m.key for m in messages if isinstance(m, ChannelSale | ChannelReturn)]


def since(minutes: int = 1) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def test_a_till_sale_is_polled_once_and_re_polls_yield_the_same_keys(square: Square) -> None:
    square.add("MUG", 10, price_cents=800)
    square.add("PLATE", 4)  # at Square, not managed by stocksync
    created = since()
    order = sell(square, ("MUG", 2), ("PLATE", 1))
    mug_line, plate_line = order["line_items"]

    async def work(c: SquareConnector) -> tuple[OrderPage, OrderPage, OrderPage]:
        assert isinstance(c, PollsOrders) and isinstance(c, FetchesOrders)
        await c.discover_mapping(["MUG"])
        first = await c.poll_orders(created)
        again = await c.poll_orders(first.cursor)
        return first, again, await c.poll_orders(created)

    first, again, replay = square.connect(work)
    sale_key = f"square:{order['id']}:{mug_line['uid']}"
    closed = datetime.fromisoformat(order["closed_at"])
    assert [m for m in first.messages if not isinstance(m, Ignored)] == [
        ChannelSale(sku="MUG", quantity=2, key=sale_key, occurred_at=closed,
                    reference=order["id"])]
    (skipped,) = [m for m in first.messages if isinstance(m, Ignored)]
    assert plate_line["uid"] in skipped.reason and "not mapped" in skipped.reason
    assert not first.more
    # The next poll re-reads a short overlap: the same key again, counted once downstream.
    assert keys(again.messages) == keys(replay.messages) == [sale_key]
    assert square.quantity("MUG") == 8  # Square itself took the sale from IN_STOCK
    (search, *_) = square.requests(SEARCH_ORDERS)
    assert search["status"] == 200 and square.violations()["count"] == 0


def test_an_order_webhook_names_the_order_and_fetch_gives_the_polled_keys(
        start_square: Callable[..., Square]) -> None:
    with WebhookReceiver("/hooks/square") as receiver:
        url = receiver.url
        square = start_square(webhook_retry_scale=0.0005)
        square.add("CUP", 5)
        square.admin.put("/_sim/webhooks", json={"url": url, "signature_key": SIGNATURE_KEY}
                         ).raise_for_status()
        created = since()
        order = sell(square, ("CUP", 1), source="API", paid=False)  # CreateOrder, unpaid
        receiver.wait_for(1, seconds=15)
        square.admin.post(f"/_sim/orders/{order['id']}/pay").raise_for_status()
        receiver.wait_for(3, seconds=15)  # order.updated and inventory.count.updated

    parser = SquareWebhookParser()
    parsed = []
    for headers, body in receiver.received:
        assert parser.verify(SIGNATURE_KEY, headers, body, url)
        parsed.append(parser.parse(headers, body, {}))
    by_type = {p.topic: p.messages for p in parsed}
    notice = OrderNotice(order_id=order["id"], channel_location=square.location_id)
    assert by_type["order.created"] == by_type["order.updated"] == [notice]

    async def work(c: SquareConnector) -> tuple[list[Any], list[Any], OrderPage]:
        await c.discover_mapping(["CUP"])
        fetched = await c.fetch_orders([notice.order_id, "NO-SUCH-ORDER"])
        return fetched, await c.fetch_orders([notice.order_id]), await c.poll_orders(created)

    fetched, refetched, polled = square.connect(work)
    line_uid = order["line_items"][0]["uid"]
    assert keys(fetched) == keys(refetched) == keys(polled.messages) == [
        f"square:{order['id']}:{line_uid}"]
    assert any(isinstance(m, Ignored) and "NO-SUCH-ORDER" in m.reason for m in fetched)
    assert square.quantity("CUP") == 4


def test_an_unpaid_or_canceled_order_moves_no_stock_and_sells_nothing(square: Square) -> None:
    square.add("CUP", 5)
    created = since()
    open_order = sell(square, ("CUP", 2), source="API", paid=False)
    canceled = sell(square, ("CUP", 1), source="API", paid=False)
    square.admin.post(f"/_sim/orders/{canceled['id']}/cancel").raise_for_status()

    async def work(c: SquareConnector) -> OrderPage:
        await c.discover_mapping(["CUP"])
        return await c.poll_orders(created)

    page = square.connect(work)
    assert keys(page.messages) == []
    reasons = " ".join(m.reason for m in page.messages if isinstance(m, Ignored))
    assert "OPEN and not paid" in reasons and "CANCELED" in reasons
    assert {open_order["id"], canceled["id"]} <= {o["id"] for o in
                                                  square.admin.get("/_sim/orders").json()}
    assert square.quantity("CUP") == 5


def test_only_a_return_square_restocked_comes_back_keyed_by_its_return_line(
        square: Square) -> None:
    square.add("MUG", 10)
    created = since()
    order = sell(square, ("MUG", 3))
    uid = order["line_items"][0]["uid"]
    restocked = give_back(square, order["id"], uid, 1, restock=True)
    kept = give_back(square, order["id"], uid, 1, restock=False)  # refunded, not restocked

    async def work(c: SquareConnector) -> tuple[OrderPage, list[Any]]:
        await c.discover_mapping(["MUG"])
        return await c.poll_orders(created), await c.fetch_orders([restocked["id"],
                                                                   kept["id"]])

    page, fetched = square.connect(work)
    sale_key = f"square:{order['id']}:{uid}"
    return_uid = restocked["returns"][0]["return_line_items"][0]["uid"]
    returns = [m for m in page.messages if isinstance(m, ChannelReturn)]
    assert [(r.sku, r.quantity, r.key, r.sale_key) for r in returns] == [
        ("MUG", 1, f"{sale_key}:return:{return_uid}", sale_key)]
    assert keys(page.messages) == [sale_key, f"{sale_key}:return:{return_uid}"]
    assert keys(fetched) == [f"{sale_key}:return:{return_uid}"]
    assert any(isinstance(m, Ignored) and "did not restock" in m.reason
               for m in page.messages)
    assert square.quantity("MUG") == 8  # 10 - 3 sold + 1 restocked
    assert square.requests(CHANGES)


def test_an_offline_sale_synced_after_our_count_is_not_erased(square: Square) -> None:
    square.add("MUG", 10)
    created = since()
    sell(square, ("MUG", 1))  # a sale stocksync then counts: 10 -> 9

    async def count_the_sale(c: SquareConnector) -> tuple[ChannelSale, datetime]:
        await c.discover_mapping(["MUG"])
        (sale,) = [m for m in (await c.poll_orders(created)).messages
                   if isinstance(m, ChannelSale)]
        offline_at = datetime.now(UTC)  # the till goes offline and sells one more
        time.sleep(0.05)
        assert sale.occurred_at is not None
        report = await c.set_quantities([QuantitySet("MUG", 9, as_of=sale.occurred_at)])
        assert report.acknowledged == {"MUG": 9}
        return sale, offline_at

    sale, offline_at = square.connect(count_the_sale)
    offline = sell(square, ("MUG", 1), occurred_at=offline_at.isoformat())  # synced now
    assert square.quantity("MUG") == 8  # applied on top of our count, not erased
    (push,) = square.requests(BATCH_CREATE)
    stamp = datetime.fromisoformat(push["body"]["changes"][0]["physical_count"]["occurred_at"])
    assert sale.occurred_at is not None
    assert stamp == sale.occurred_at + timedelta(milliseconds=1) < offline_at

    async def count_the_offline_sale(c: SquareConnector) -> ChannelSale:
        await c.discover_mapping(["MUG"])
        page = await c.poll_orders(created)
        (counted,) = [m for m in page.messages if isinstance(m, ChannelSale)
                      and m.key == f"square:{offline['id']}:{offline['line_items'][0]['uid']}"]
        await c.set_quantities([QuantitySet("MUG", 8, as_of=counted.occurred_at)])
        return counted

    counted = square.connect(count_the_offline_sale)
    assert counted.occurred_at == datetime.fromisoformat(offline["closed_at"])
    later = square.requests(BATCH_CREATE)[-1]["body"]["changes"][0]["physical_count"]
    assert datetime.fromisoformat(later["occurred_at"]) == (
        counted.occurred_at + timedelta(milliseconds=1))
    assert square.quantity("MUG") == 8
    assert square.violations()["count"] == 0


def test_after_a_restart_a_count_is_never_stamped_below_the_count_at_square(
        square: Square) -> None:
    square.add("MUG", 10)
    earlier = datetime.now(UTC) - timedelta(minutes=5)

    async def push(c: SquareConnector) -> None:
        await c.discover_mapping(["MUG"])
        await c.set_quantities([QuantitySet("MUG", 6, as_of=earlier)])
        await c.set_quantities([QuantitySet("MUG", 4, as_of=earlier)])

    square.connect(push)  # one process: 6, then 4 one millisecond later
    square.connect(push, key_namespace="restarted")  # a new process: 6, then 4
    stamps = [datetime.fromisoformat(p["body"]["changes"][0]["physical_count"]["occurred_at"])
              for p in square.requests(BATCH_CREATE)]
    seeded = square.sim.inventory.changes[0]["physical_count"]["occurred_at"]
    assert stamps[0] == datetime.fromisoformat(seeded) + timedelta(milliseconds=1)
    assert [b - a for a, b in pairwise(stamps)] == [
        timedelta(milliseconds=1)] * 3
    assert square.quantity("MUG") == 4  # every count applied, none left as history
    assert len(square.requests(CHANGES)) == 2  # Square's latest count, read once per process


def test_a_count_without_as_of_follows_the_last_stamp_and_keeps_later_till_sales(
        square: Square) -> None:
    square.add("MUG", 10)

    async def work(c: SquareConnector) -> list[str]:
        await c.discover_mapping(["MUG"])
        await c.set_quantities([QuantitySet("MUG", 5)])  # a first count: stamped now
        sell(square, ("MUG", 2))  # a till sale stocksync has not counted: 5 -> 3
        await c.set_quantities([QuantitySet("MUG", 5, known=5)])
        return [p["body"]["changes"][0]["physical_count"]["occurred_at"]
                for p in square.requests(BATCH_CREATE)]

    first, second = square.connect(work)
    gap = datetime.fromisoformat(second) - datetime.fromisoformat(first)
    assert gap == timedelta(milliseconds=1)
    assert square.quantity("MUG") == 3  # Square's own later sale stays applied


def test_order_search_pages_with_squares_cursor_and_refuses_a_mismatched_sort(
        square: Square) -> None:
    object_id = square.add("PEN", 50)
    for _ in range(3):
        sell(square, ("PEN", 1))
    query = {"filter": {"date_time_filter": {"updated_at": {"start_at": since()}}},
             "sort": {"sort_field": "UPDATED_AT", "sort_order": "ASC"}}
    body: dict[str, Any] = {"location_ids": [square.location_id], "limit": 2, "query": query}
    first = square.api(SEARCH_ORDERS, body).json()
    second = square.api(SEARCH_ORDERS, {**body, "cursor": first["cursor"]}).json()
    assert len(first["orders"]) == 2 and len(second["orders"]) == 1 and "cursor" not in second
    mismatched = square.api(SEARCH_ORDERS, {**body, "query": {**query, "sort": {
        "sort_field": "CREATED_AT"}}})
    assert mismatched.status_code == 400
    changes = square.api(CHANGES, {"catalog_object_ids": [object_id],
                                   "types": ["ADJUSTMENT"]}).json()["changes"]
    assert [(c["adjustment"]["from_state"], c["adjustment"]["to_state"],
             Decimal(c["adjustment"]["quantity"])) for c in changes] == [
        ("IN_STOCK", "SOLD", 1)] * 3
    assert json.dumps(changes)  # plain JSON


def test_a_poll_pages_through_squares_cursor_and_then_moves_its_watermark(
        start_square: Callable[..., Square]) -> None:
    square = start_square(orders_page_size=2)
    square.add("PEN", 50)
    created = since()
    orders = [sell(square, ("PEN", 1)) for _ in range(5)]

    async def work(c: SquareConnector) -> list[OrderPage]:
        await c.discover_mapping(["PEN"])
        pages = [await c.poll_orders(created)]
        while pages[-1].more:
            pages.append(await c.poll_orders(pages[-1].cursor))
        pages.append(await c.poll_orders(pages[-1].cursor))  # nothing new: the overlap
        return pages

    pages = square.connect(work)
    expected = [f"square:{o['id']}:{o['line_items'][0]['uid']}" for o in orders]
    assert [p.more for p in pages[:3]] == [True, True, False]
    # Every order once across the pages. Orders made within the same millisecond tie on
    # Square's sort field, so their order inside the pages is not the order they were made.
    paged = [k for p in pages[:3] for k in keys(p.messages)]
    assert sorted(paged) == sorted(expected) and len(set(paged)) == len(paged)
    assert set(keys(pages[3].messages)) <= set(expected)  # re-read, same keys
    searches = square.requests(SEARCH_ORDERS)
    assert len(searches) == 4 and square.violations()["count"] == 0
    assert square.quantity("PEN") == 45

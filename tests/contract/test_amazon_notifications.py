"""The ORDER_CHANGE parser and the order rules over Amazon's own published samples
(tests/fixtures/amazon/SOURCES.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stocksync.channels.amazon_orders import (
    AmazonOrders,
    OrderHead,
    order_head,
    order_line,
    order_messages,
)
from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    MalformedWebhook,
    OrderNotice,
)
from stocksync.ingest.amazon import AmazonNotificationParser, stocksync_signature
from stocksync.ingest.registry import parser_for

FIXTURES = Path(__file__).parents[1] / "fixtures" / "amazon"
PARSER = AmazonNotificationParser()
SETTINGS = {"seller_id": "A3TH9S8BH6GOGM", "marketplace_id": "ATVPDKIKX0DER"}


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _sample_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _fixture("get_order_items_sandbox.json")["payload"][
        "OrderItems"]
    return items


def _raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_amazons_sample_order_change_becomes_an_order_notice_keyed_by_notification_id() -> None:
    delivery = PARSER.parse({}, _raw("order_change_notification.json"), SETTINGS)
    assert delivery.delivery_id == "d0e9e693-c3ad-4373-979f-ed4ec98dd746"
    assert delivery.topic == "ORDER_CHANGE"
    [notice] = delivery.messages
    assert isinstance(notice, OrderNotice) and notice.order_id == "903-8868176-2219830"
    assert notice.summary == {
        "level": "OrderLevel", "status": "Unshipped", "fulfillment": "MFN",
        "purchased_at": "2022-07-13T19:42:04.284Z", "updated_at": "2022-11-29T19:42:04.284Z",
        "items": [{"item_id": "OIID34853450", "sku": "SellerSKUID1", "quantity": 10,
                   "buyer_requested_cancel": True}]}


def _summary_messages(summary: dict[str, Any], since: datetime | None = None) -> Any:
    orders = AmazonOrders(None, "ATVPDKIKX0DER", since=since)  # type: ignore[arg-type]
    return orders.from_summary("903-8868176-2219830", summary)


def test_an_order_level_summary_of_a_taken_order_counts_its_items_with_the_poll_keys() -> None:
    [notice] = PARSER.parse({}, _raw("order_change_notification.json"), SETTINGS).messages
    assert isinstance(notice, OrderNotice) and notice.summary is not None
    [sale] = _summary_messages(notice.summary)
    assert sale == ChannelSale(sku="SellerSKUID1", quantity=10,
                               key="amazon:903-8868176-2219830:OIID34853450",
                               occurred_at=datetime(2022, 7, 13, 19, 42, 4, 284000, UTC),
                               reference="903-8868176-2219830")
    # Placed before the channel was connected: already out of the counted stock.
    [ignored] = _summary_messages(notice.summary, since=datetime(2023, 1, 1, tzinfo=UTC))
    assert isinstance(ignored, Ignored)


@pytest.mark.parametrize("change", [{"level": "OrderItemLevel"}, {"status": "Canceled"},
                                    {"items": []}])
def test_a_summary_that_is_not_enough_leaves_the_order_to_be_read(
        change: dict[str, Any]) -> None:
    [notice] = PARSER.parse({}, _raw("order_change_notification.json"), SETTINGS).messages
    assert isinstance(notice, OrderNotice) and notice.summary is not None
    assert _summary_messages(notice.summary | change) is None


def test_a_summary_with_an_incomplete_item_is_dropped() -> None:
    sample = _fixture("order_change_notification.json")
    del sample["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]["SellerSKU"]
    [notice] = PARSER.parse({}, json.dumps(sample).encode(), SETTINGS).messages
    assert isinstance(notice, OrderNotice) and notice.summary is None


def test_the_forwarding_signature_is_an_hmac_of_the_raw_body() -> None:
    body = _raw("order_change_notification.json")
    signature = stocksync_signature("s3cret", body)
    assert PARSER.verify("s3cret", {"x-stocksync-signature": signature}, body, "")
    assert not PARSER.verify("s3cret", {"x-stocksync-signature": signature}, body + b" ", "")
    assert not PARSER.verify("", {"x-stocksync-signature": signature}, body, "")
    assert not PARSER.verify("s3cret", {}, body, "")
    assert parser_for("amazon") is not None and PARSER.secret_field == "webhook_secret"


def test_another_seller_marketplace_or_fba_order_is_ignored() -> None:
    sample = _fixture("order_change_notification.json")
    delivery = PARSER.parse({}, json.dumps(sample).encode(), {"seller_id": "AOTHER"})
    assert [type(m) for m in delivery.messages] == [Ignored]
    delivery = PARSER.parse({}, json.dumps(sample).encode(), {"marketplace_id": "A1PA6795UKMFR9"})
    assert [type(m) for m in delivery.messages] == [Ignored]
    sample["Payload"]["OrderChangeNotification"]["Summary"]["FulfillmentType"] = "AFN"
    delivery = PARSER.parse({}, json.dumps(sample).encode(), SETTINGS)
    assert [type(m) for m in delivery.messages] == [Ignored]


def test_an_eventbridge_event_is_unwrapped_and_other_types_are_ignored() -> None:
    sample = _fixture("order_change_notification.json")
    event = {"version": "0", "id": "e1", "detail-type": "ORDER_CHANGE", "detail": sample}
    delivery = PARSER.parse({}, json.dumps(event).encode(), SETTINGS)
    assert delivery.messages == PARSER.parse({}, json.dumps(sample).encode(), SETTINGS).messages
    assert [type(m) for m in delivery.messages] == [OrderNotice]
    sample["NotificationType"] = "ANY_OFFER_CHANGED"
    delivery = PARSER.parse({}, json.dumps(sample).encode(), SETTINGS)
    assert delivery.topic == "ANY_OFFER_CHANGED"
    assert [type(m) for m in delivery.messages] == [Ignored]


@pytest.mark.parametrize(("path", "field"), [
    (("NotificationMetadata", "NotificationId"), "NotificationMetadata.NotificationId"),
    (("Payload", "OrderChangeNotification", "AmazonOrderId"),
     "Payload.OrderChangeNotification.AmazonOrderId"),
    (("Payload", "OrderChangeNotification", "Summary", "FulfillmentType"),
     "Payload.OrderChangeNotification.Summary.FulfillmentType"),
])
def test_a_notification_missing_a_field_is_malformed_naming_it(
        path: tuple[str, ...], field: str) -> None:
    sample = _fixture("order_change_notification.json")
    target = sample
    for name in path[:-1]:
        target = target[name]
    del target[path[-1]]
    with pytest.raises(MalformedWebhook) as caught:
        PARSER.parse({}, json.dumps(sample).encode(), SETTINGS)
    assert caught.value.details["field"] == field
    with pytest.raises(MalformedWebhook):
        PARSER.parse({}, b"[1, 2]", SETTINGS)


def test_amazons_sample_order_and_items_make_one_sale_per_item() -> None:
    order = order_head(_fixture("get_order_sandbox.json")["payload"])
    items = [order_line(i) for i in _sample_items()]
    assert order == OrderHead("902-1845936-5435065", "Unshipped", "MFN",
                              "1970-01-19T03:58:30Z", "1970-01-19T03:58:32Z")
    [sale] = order_messages(order, items)
    assert isinstance(sale, ChannelSale)
    assert (sale.sku, sale.quantity, sale.key, sale.reference) == (
        "NABetaASINB00551Q3CS", 1, "amazon:902-1845936-5435065:05015851154158",
        "902-1845936-5435065")
    # The sample's buyer asked to cancel, but the order is still Unshipped: still a sale.
    assert items[0].buyer_requested_cancel


def test_amazons_sample_order_list_reads_as_order_heads() -> None:
    heads = [order_head(o) for o in _fixture("get_orders_sandbox.json")["payload"]["Orders"]]
    assert heads and all(h.order_id and h.status for h in heads)
    canceled = OrderHead(heads[0].order_id, "Canceled", "MFN", heads[0].purchased_at,
                         heads[0].updated_at)
    items = [order_line(i) for i in _sample_items()]
    [restock] = order_messages(canceled, items)  # the buyer asked: Amazon gives it back
    assert isinstance(restock, ChannelReturn)
    assert restock.sale_key == "amazon:902-1845936-5435065:05015851154158"

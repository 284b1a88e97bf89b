"""Webhook parsers: signature vectors, every parse path, malformed bodies (pure, no I/O)."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stocksync.core.inbound import (
    ChannelReturn,
    ChannelSale,
    Ignored,
    LevelReport,
    MalformedWebhook,
)
from stocksync.core.skus import LOCATION_PATTERN
from stocksync.ingest.pos import MAX_CLOCK_SKEW, REPLAY_WINDOW, PosParser, pos_signature
from stocksync.ingest.registry import PARSERS, parser_for
from stocksync.ingest.shopify import ShopifyWebhookParser, shopify_hmac
from stocksync.ingest.square import SquareWebhookParser, square_signature
from stocksync.ingest.woocommerce import WooCommerceWebhookParser, woocommerce_signature
from stocksync.simulators.shopify_state import ShopifySimConfig, ShopifySimState
from stocksync.simulators.shopify_webhooks import Delivery, WebhookDeliverer

Json = dict[str, Any]


def encode(payload: object) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def malformed(field: str) -> pytest.RaisesExc[MalformedWebhook]:
    """The message must name the offending field (brackets are regex metacharacters)."""
    return pytest.raises(MalformedWebhook, match=field.replace("[", r"\[").replace("]", r"\]"))


# -- signatures ------------------------------------------------------------------------

SHOPIFY_BODY = b'{"inventory_item_id":271878346596884015,"location_id":24826418,"available":6}'
SHOPIFY_HMAC = "qienOfUDGdDSvZPD0z6cgrv262O9Tq7ekMF4YZ+pslA="
WOO_BODY = b'{"id":22,"sku":"ABC","stock_quantity":5}'
WOO_SIGNATURE = "6RhSUSArQKntZ9dIU4uzWr8aoWim43cmrBwgHG7CV8s="
SQUARE_BODY = (
    b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
    b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f",'
    b'"created_at":"2022-07-13T20:30:59.037339943Z",'
    b'"data":{"type":"webhooks","id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
SQUARE_KEY = "Ibxx_5AKakO-3qeNVR61Dw"
SQUARE_URL = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
SQUARE_SIGNATURE = "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4="


def test_the_documented_shopify_hmac_vector_verifies() -> None:
    assert shopify_hmac("hush", SHOPIFY_BODY) == SHOPIFY_HMAC
    headers = {"x-shopify-hmac-sha256": SHOPIFY_HMAC}
    assert ShopifyWebhookParser().verify("hush", headers, SHOPIFY_BODY, "https://x/y")


def test_a_tampered_shopify_body_or_wrong_secret_fails_verification() -> None:
    parser, headers = ShopifyWebhookParser(), {"x-shopify-hmac-sha256": SHOPIFY_HMAC}
    assert not parser.verify("hush", headers, SHOPIFY_BODY.replace(b"6}", b"7}"), "")
    assert not parser.verify("hush!", headers, SHOPIFY_BODY, "")
    assert not parser.verify("hush", {}, SHOPIFY_BODY, "")
    assert not parser.verify("", headers, SHOPIFY_BODY, "")


def test_the_documented_woocommerce_signature_vector_verifies() -> None:
    assert woocommerce_signature("woo-secret", WOO_BODY) == WOO_SIGNATURE
    headers = {"x-wc-webhook-signature": WOO_SIGNATURE}
    assert WooCommerceWebhookParser().verify("woo-secret", headers, WOO_BODY, "")


def test_a_tampered_woocommerce_body_or_wrong_secret_fails_verification() -> None:
    parser, headers = WooCommerceWebhookParser(), {"x-wc-webhook-signature": WOO_SIGNATURE}
    assert not parser.verify("woo-secret", headers, WOO_BODY.replace(b"5}", b"50}"), "")
    assert not parser.verify("woo-secret2", headers, WOO_BODY, "")
    assert not parser.verify("woo-secret", {"x-wc-webhook-signature": "Zm9v"}, WOO_BODY, "")


def test_the_square_sdk_signature_vector_verifies_over_url_and_body() -> None:
    assert square_signature(SQUARE_KEY, SQUARE_URL, SQUARE_BODY) == SQUARE_SIGNATURE
    headers = {"x-square-hmacsha256-signature": SQUARE_SIGNATURE}
    assert SquareWebhookParser().verify(SQUARE_KEY, headers, SQUARE_BODY, SQUARE_URL)


def test_square_verification_fails_for_another_url_body_or_key() -> None:
    parser, headers = SquareWebhookParser(), {"x-square-hmacsha256-signature": SQUARE_SIGNATURE}
    assert not parser.verify(SQUARE_KEY, headers, SQUARE_BODY, SQUARE_URL + "/")
    assert not parser.verify(SQUARE_KEY, headers, SQUARE_BODY + b" ", SQUARE_URL)
    assert not parser.verify("another-key", headers, SQUARE_BODY, SQUARE_URL)
    assert not parser.verify(SQUARE_KEY, {}, SQUARE_BODY, SQUARE_URL)


def test_pos_signatures_verify_with_or_without_the_sha256_prefix() -> None:
    parser, body = PosParser(), b'{"event":"POS_TRANSACTION_COMPLETE"}'
    signature = pos_signature("till-secret", body)
    assert signature.startswith("sha256=")
    for value in (signature, signature.removeprefix("sha256="), signature.upper()):
        assert parser.verify("till-secret", {"x-pos-signature": value}, body, "")


def test_a_tampered_pos_body_wrong_secret_or_missing_header_fails_verification() -> None:
    parser, body = PosParser(), b'{"event":"POS_TRANSACTION_COMPLETE"}'
    headers = {"x-pos-signature": pos_signature("till-secret", body)}
    assert not parser.verify("till-secret", headers, body + b"\n", "")
    assert not parser.verify("other", headers, body, "")
    assert not parser.verify("till-secret", {}, body, "")
    assert not parser.verify("till-secret", {"x-pos-signature": "sha256=zz\u00e9"}, body, "")


def test_the_registry_has_one_parser_per_webhook_kind() -> None:
    assert set(PARSERS) == {"pos", "shopify", "woocommerce", "square", "ebay", "amazon"}
    for kind, parser in PARSERS.items():
        assert parser_for(kind) is parser and parser.kind == kind
    assert parser_for("square").secret_field == "signature_key"
    with pytest.raises(KeyError, match="generic_http"):
        parser_for("generic_http")


# -- POS -------------------------------------------------------------------------------

POS_SETTINGS = {"store.12": "NYC_01"}


def pos_body(**changes: object) -> Json:
    body: Json = {
        "event": "POS_TRANSACTION_COMPLETE", "timestamp": "2024-05-01T10:00:00+02:00",
        "store_id": "12", "transaction_id": "T-9",
        "line_items": [{"sku": "A-1", "quantity_change": -2},
                       {"sku": "B/2", "quantity_change": 3},
                       {"sku": "C.3", "quantity_change": 0}]}
    body.update(changes)
    return body


def test_a_pos_transaction_sells_negative_lines_and_returns_positive_ones() -> None:
    parsed = PosParser().parse({}, encode(pos_body()), POS_SETTINGS)
    at = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert parsed.delivery_id == "T-9" and parsed.topic == "POS_TRANSACTION_COMPLETE"
    assert parsed.messages == [
        ChannelSale(sku="A-1", quantity=2, key="pos:T-9:0", location="NYC_01",
                    occurred_at=at, reference="T-9"),
        ChannelReturn(sku="B/2", quantity=3, key="pos:T-9:1", location="NYC_01",
                      sale_key=None, occurred_at=at, reference="T-9"),
        Ignored("line_items[2].quantity_change is 0"),
    ]


def test_the_unsigned_pos_delivery_header_decides_nothing() -> None:
    parsed = PosParser().parse({"x-pos-delivery-id": "d-1"}, encode(pos_body()), POS_SETTINGS)
    assert parsed.delivery_id == "T-9"
    assert isinstance(parsed.messages[0], ChannelSale)
    assert parsed.messages[0].key == "pos:T-9:0"


def test_a_captured_pos_body_without_transaction_id_resent_with_new_headers_is_one_sale(
        ) -> None:
    body = pos_body()
    del body["transaction_id"]
    raw = encode(body)
    first = PosParser().parse({"x-pos-delivery-id": "d-1"}, raw, POS_SETTINGS)
    again = PosParser().parse({"x-pos-delivery-id": "d-2"}, raw, POS_SETTINGS)
    assert again.delivery_id == first.delivery_id  # answered "duplicate" by the inbox
    assert [m.key for m in again.messages if isinstance(m, ChannelSale)] == \
        [m.key for m in first.messages if isinstance(m, ChannelSale)]


def test_a_pos_body_signed_outside_the_replay_window_fails_verification() -> None:
    sent = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    raw = encode(pos_body())
    headers = {"x-pos-signature": pos_signature("till-secret", raw)}
    for now, ok in ((sent, True), (sent + REPLAY_WINDOW, True),
                    (sent + REPLAY_WINDOW + timedelta(seconds=1), False),
                    (sent - MAX_CLOCK_SKEW, True), (sent - MAX_CLOCK_SKEW * 2, False)):
        assert PosParser(clock=lambda n=now: n).verify("till-secret", headers, raw, "") is ok


def test_a_pos_delivery_without_ids_is_named_by_the_hash_of_its_body() -> None:
    body = pos_body()
    del body["transaction_id"]
    raw = encode(body)
    parsed = PosParser().parse({}, raw, POS_SETTINGS)
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert parsed.delivery_id == digest
    assert isinstance(parsed.messages[0], ChannelSale)
    assert parsed.messages[0].key == f"pos:{digest}:0"
    assert parsed.messages[0].reference is None


def test_an_unmapped_pos_store_falls_back_to_the_default_location() -> None:
    parsed = PosParser().parse({}, encode(pos_body(store_id="99")),
                               {"default_location": "WH"})
    assert isinstance(parsed.messages[0], ChannelSale)
    assert parsed.messages[0].location == "WH"


def test_an_unknown_pos_store_without_a_default_is_kept_to_fail_naming_the_setting() -> None:
    # Accepted (a signed sale is never lost), then dead-lettered: no location has this code.
    parsed = PosParser().parse({}, encode(pos_body(store_id="99")), POS_SETTINGS)
    assert isinstance(parsed.messages[0], ChannelSale)
    location = parsed.messages[0].location or ""
    assert "store_id '99'" in location and "'store.99'" in location
    assert not re.match(LOCATION_PATTERN, location)


def test_other_pos_events_are_ignored() -> None:
    parsed = PosParser().parse({}, encode({"event": "POS_SHIFT_CLOSED"}), {})
    assert parsed.topic == "POS_SHIFT_CLOSED"
    assert parsed.messages == [Ignored("POS event 'POS_SHIFT_CLOSED' is not handled")]


@pytest.mark.parametrize(("changes", "field"), [
    ({"event": None}, "event"),
    ({"timestamp": "2024-05-01T10:00:00"}, "timestamp"),
    ({"timestamp": "yesterday"}, "timestamp"),
    ({"timestamp": 1714550400}, "timestamp"),
    ({"store_id": 12}, "store_id"),
    ({"store_id": None}, "store_id"),
    ({"transaction_id": 9}, "transaction_id"),
    ({"transaction_id": "has space"}, "transaction_id"),
    ({"line_items": []}, "line_items"),
    ({"line_items": {"sku": "A"}}, "line_items"),
    ({"line_items": ["A-1"]}, "line_items[0]"),
    ({"line_items": [{"quantity_change": -1}]}, "line_items[0].sku"),
    ({"line_items": [{"sku": "A-1", "quantity_change": -1},
                     {"sku": "bad sku", "quantity_change": -1}]}, "line_items[1].sku"),
    ({"line_items": [{"sku": "A" * 65, "quantity_change": -1}]}, "line_items[0].sku"),
    ({"line_items": [{"sku": "A", "quantity_change": -1.0}]}, "line_items[0].quantity_change"),
    ({"line_items": [{"sku": "A", "quantity_change": True}]}, "line_items[0].quantity_change"),
    ({"line_items": [{"sku": "A", "quantity_change": "-1"}]}, "line_items[0].quantity_change"),
    ({"line_items": [{"sku": "A", "quantity_change": 0}, {"sku": "A", "quantity_change": 0},
                     {"sku": "A", "quantity_change": -1_000_000_001}]},
     "line_items[2].quantity_change"),
])
def test_a_malformed_pos_transaction_is_refused_naming_the_field(
        changes: Json, field: str) -> None:
    with malformed(field) as caught:
        PosParser().parse({}, encode(pos_body(**changes)), POS_SETTINGS)
    assert caught.value.details["field"] == field


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b"\xff\xfe{", b"[" * 100_000])
def test_a_pos_body_that_is_not_a_json_object_is_refused(raw: bytes) -> None:
    with malformed("body"):
        PosParser().parse({}, raw, POS_SETTINGS)


# -- Shopify ---------------------------------------------------------------------------

def simulator_deliveries(location_name: str = "Main warehouse") -> list[tuple[dict[str, str],
                                                                              bytes]]:
    """What the Shopify simulator sends for one order: the same headers and bytes."""
    config = ShopifySimConfig(webhook_url="http://hub/webhooks/shopify/shop",
                              webhook_secret="hush")
    state = ShopifySimState(config)
    sent: list[tuple[str, Json, str]] = []
    state.webhook_sink = lambda topic, payload, event_id: sent.append(
        (topic, payload, event_id))
    location = state.default_location_id
    state.add_product("Tee", [{"sku": "TEE-S", "quantities": {str(location): 5}},
                              {"sku": "TEE-M", "quantities": {str(location): 5}}])
    state.place_order([("TEE-S", 2), ("TEE-M", 1)], location)
    deliverer = WebhookDeliverer(config)
    deliveries: list[tuple[dict[str, str], bytes]] = []
    for topic, payload, event_id in sent:
        body = json.dumps(payload, separators=(",", ":")).encode()
        delivery = Delivery(topic, body, "http://hub", "hush", f"wh-{len(deliveries)}",
                            event_id, "2024-05-01T10:00:00+00:00")
        headers = {name.lower(): value for name, value in deliverer.headers(delivery).items()}
        deliveries.append((headers, body))
    return deliveries


def test_the_shopify_simulators_order_deliveries_verify_and_parse() -> None:
    parser = ShopifyWebhookParser()
    deliveries = simulator_deliveries()
    topics = [headers["x-shopify-topic"] for headers, _ in deliveries]
    assert topics == ["orders/create", "inventory_levels/update", "inventory_levels/update"]
    for headers, body in deliveries:
        assert parser.verify("hush", headers, body, "http://hub")
    order_headers, order_body = deliveries[0]
    order = json.loads(order_body)
    parsed = parser.parse(order_headers, order_body, {})
    assert parsed.delivery_id == "wh-0" and parsed.topic == "orders/create"
    lines = order["line_items"]
    assert parsed.messages == [
        ChannelSale(sku="TEE-S", quantity=2, key=f"shopify:{order['id']}:{lines[0]['id']}",
                    occurred_at=datetime.fromisoformat(order["created_at"]),
                    reference=order["name"]),
        ChannelSale(sku="TEE-M", quantity=1, key=f"shopify:{order['id']}:{lines[1]['id']}",
                    occurred_at=datetime.fromisoformat(order["created_at"]),
                    reference=order["name"]),
    ]
    level_headers, level_body = deliveries[1]
    level = json.loads(level_body)
    report = parser.parse(level_headers, level_body, {}).messages
    assert report == [LevelReport(
        sku=None, external_id=f"gid://shopify/InventoryItem/{level['inventory_item_id']}",
        value=3, channel_location=str(level["location_id"]),
        observed_at=datetime.fromisoformat(level["updated_at"]))]


def shopify_order(**changes: object) -> Json:
    order: Json = {
        "id": 450789469, "name": "#1001", "created_at": "2024-05-01T10:00:00-04:00",
        "cancelled_at": None, "location_id": None, "note_attributes": [],
        "line_items": [
            {"id": 1, "sku": "TEE-S", "quantity": 2, "properties": []},
            {"id": 2, "sku": "", "quantity": 1},
            {"id": 3, "sku": "TEE-M", "quantity": 1,
             "properties": [{"name": "stocksync_reservation_id", "value": "res-line"}]},
        ]}
    order.update(changes)
    return order


def shopify_headers(topic: str) -> dict[str, str]:
    return {"x-shopify-topic": topic, "x-shopify-webhook-id": "b54557e4-bdd9-4b37"}


def test_a_shopify_order_sells_lines_with_skus_and_ignores_the_rest() -> None:
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/create"),
                                          encode(shopify_order()), {})
    assert parsed.delivery_id == "b54557e4-bdd9-4b37"
    sale, skipped, reserved = parsed.messages
    assert sale == ChannelSale(sku="TEE-S", quantity=2, key="shopify:450789469:1",
                               occurred_at=datetime.fromisoformat("2024-05-01T14:00:00+00:00"),
                               reference="#1001")
    assert skipped == Ignored("line_items[1] has no sku")
    assert isinstance(reserved, ChannelSale)
    assert reserved.reservation_id == "res-line" and reserved.key == "shopify:450789469:3"


def test_an_order_level_reservation_applies_to_lines_without_their_own() -> None:
    order = shopify_order(note_attributes=[{"name": "gift", "value": "yes"},
                                           {"name": "stocksync_reservation_id",
                                            "value": "res-order"}])
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/create"), encode(order), {})
    reservations = [m.reservation_id for m in parsed.messages if isinstance(m, ChannelSale)]
    assert reservations == ["res-order", "res-line"]


def test_a_shopify_order_location_is_mapped_only_when_the_settings_name_it() -> None:
    order = encode(shopify_order(location_id=24826418))
    parser, headers = ShopifyWebhookParser(), shopify_headers("orders/create")
    mapped = parser.parse(headers, order, {"location.24826418": "NYC_01"}).messages[0]
    unmapped = parser.parse(headers, order, {"location.1": "WH"}).messages[0]
    assert isinstance(mapped, ChannelSale) and mapped.location == "NYC_01"
    assert isinstance(unmapped, ChannelSale) and unmapped.location is None


def shopify_refund(restock_type: str = "cancel", **changes: object) -> Json:
    """A REST Refund of line 1 of shopify_order() (refunds/create, orders/cancelled)."""
    refund: Json = {
        "id": 77, "order_id": 450789469, "created_at": "2024-05-02T09:00:00Z",
        "processed_at": "2024-05-02T09:00:00Z",
        "refund_line_items": [{
            "id": 901, "quantity": 2, "line_item_id": 1, "location_id": 24826418,
            "restock_type": restock_type, "line_item": {"id": 1, "sku": "TEE-S"}}]}
    refund.update(changes)
    return refund


def test_a_cancelled_shopify_order_returns_only_the_lines_its_refund_restocked() -> None:
    order = shopify_order(cancelled_at="2024-05-02T09:00:00Z", refunds=[
        shopify_refund("cancel"),
        shopify_refund("no_restock", id=78, refund_line_items=[{
            "id": 902, "quantity": 1, "line_item_id": 3, "location_id": None,
            "restock_type": "no_restock", "line_item": {"id": 3, "sku": "TEE-M"}}])])
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/cancelled"), encode(order),
                                          {"location.24826418": "NYC_01"})
    assert parsed.messages == [
        ChannelReturn(sku="TEE-S", quantity=2, key="shopify:450789469:1:refund:901",
                      location="NYC_01", sale_key="shopify:450789469:1",
                      occurred_at=datetime(2024, 5, 2, 9, tzinfo=UTC), reference="#1001"),
        Ignored("refunds[1].refund_line_items[0] restock_type 'no_restock' does not restock"),
    ]


def test_a_shopify_cancellation_without_restock_moves_no_stock() -> None:
    order = shopify_order(cancelled_at="2024-05-02T09:00:00Z", refunds=[])
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/cancelled"), encode(order),
                                          {})
    assert parsed.messages == [
        Ignored("the cancellation restocked nothing (no refund line restocks)")]


@pytest.mark.parametrize(("restock_type", "restocks"), [
    ("cancel", True), ("return", True), ("legacy_restock", True), ("no_restock", False)])
def test_a_shopify_refund_returns_stock_only_when_its_restock_type_restocks(
        restock_type: str, restocks: bool) -> None:
    parsed = ShopifyWebhookParser().parse(shopify_headers("refunds/create"),
                                          encode(shopify_refund(restock_type)), {})
    (message,) = parsed.messages
    assert isinstance(message, ChannelReturn) is restocks
    if isinstance(message, ChannelReturn):
        assert (message.key, message.sale_key, message.quantity, message.location) == (
            "shopify:450789469:1:refund:901", "shopify:450789469:1", 2, None)


def test_a_cancellation_and_its_refund_delivery_carry_the_same_return_key() -> None:
    parser = ShopifyWebhookParser()
    cancelled = shopify_order(cancelled_at="2024-05-02T09:00:00Z", refunds=[shopify_refund()])
    by_cancel = parser.parse(shopify_headers("orders/cancelled"), encode(cancelled), {})
    by_refund = parser.parse(shopify_headers("refunds/create"), encode(shopify_refund()), {})
    keys = {m.key for m in [*by_cancel.messages, *by_refund.messages]
            if isinstance(m, ChannelReturn)}
    assert keys == {"shopify:450789469:1:refund:901"}  # one restock, counted once


def test_a_refund_line_without_its_line_item_returns_with_the_sales_sku() -> None:
    refund = shopify_refund()
    del refund["refund_line_items"][0]["line_item"]
    (message,) = ShopifyWebhookParser().parse(shopify_headers("refunds/create"),
                                              encode(refund), {}).messages
    assert isinstance(message, ChannelReturn) and message.sku == ""
    assert message.sale_key == "shopify:450789469:1"


def test_an_online_shopify_order_leaves_the_location_to_the_ingestor() -> None:
    order = encode(shopify_order(location_id=None))
    sales = ShopifyWebhookParser().parse(shopify_headers("orders/create"), order,
                                         {"location.24826418": "NYC_01"}).messages
    assert [m.location for m in sales if isinstance(m, ChannelSale)] == [None, None]


def test_a_shopify_order_edit_asks_for_the_order_to_be_read() -> None:
    from stocksync.core.inbound import OrderNotice

    edit = {"order_edit": {"id": 5, "order_id": 450789469, "line_items": {
        "additions": [{"id": 9, "delta": 2}], "removals": [{"id": 1, "delta": 1}]}}}
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/edited"), encode(edit), {})
    assert parsed.messages == [OrderNotice(order_id="450789469")]
    no_lines = {"order_edit": {"id": 6, "order_id": 450789469, "line_items": {
        "additions": [], "removals": []}}}
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/edited"), encode(no_lines),
                                          {})
    assert parsed.messages == [Ignored("order edit 6 changed no line items")]


@pytest.mark.parametrize(("topic", "body", "field"), [
    ("refunds/create", shopify_refund(order_id="1"), "order_id"),
    ("refunds/create", shopify_refund(refund_line_items={}), "refund_line_items"),
    ("refunds/create", shopify_refund(restock_type=None), "refund_line_items[0].restock_type"),
    ("orders/cancelled", shopify_order(refunds=[shopify_refund(processed_at="soon")]),
     "refunds[0].processed_at"),
    ("orders/edited", {"order_edit": []}, "order_edit"),
    ("orders/edited", {"order_edit": {"id": 5, "order_id": 1, "line_items": {
        "additions": [{"id": 9, "delta": -1}]}}}, "order_edit.line_items.additions[0].delta"),
])
def test_a_malformed_shopify_refund_or_edit_is_refused_naming_the_field(
        topic: str, body: Json, field: str) -> None:
    with malformed(field) as caught:
        ShopifyWebhookParser().parse(shopify_headers(topic), encode(body), {})
    assert caught.value.details["field"] == field


def test_shopify_lines_with_a_sku_stocksync_cannot_hold_are_ignored() -> None:
    order = shopify_order(line_items=[{"id": 1, "sku": "has space", "quantity": 1}])
    parsed = ShopifyWebhookParser().parse(shopify_headers("orders/create"), encode(order), {})
    assert parsed.messages == [Ignored("line_items[0].sku 'has space' is not a valid "
                                       "stocksync SKU")]


def test_an_untracked_shopify_level_reports_no_value() -> None:
    level = {"inventory_item_id": 7, "location_id": 8, "available": None}
    parsed = ShopifyWebhookParser().parse(shopify_headers("inventory_levels/update"),
                                          encode(level), {})
    assert parsed.messages == [LevelReport(sku=None, external_id="gid://shopify/InventoryItem/7",
                                           value=None, channel_location="8")]


@pytest.mark.parametrize(("topic", "reason"), [
    ("products/update", "content sync is not handled by ingestion"),
    ("customers/create", "topic 'customers/create' is not handled"),
])
def test_other_shopify_topics_are_ignored(topic: str, reason: str) -> None:
    parsed = ShopifyWebhookParser().parse(shopify_headers(topic), b"{}", {})
    assert parsed.topic == topic and parsed.messages == [Ignored(reason)]


@pytest.mark.parametrize("missing", ["x-shopify-webhook-id", "x-shopify-topic"])
def test_a_shopify_delivery_without_its_id_or_topic_header_is_refused(missing: str) -> None:
    headers = shopify_headers("orders/create")
    del headers[missing]
    with malformed(missing):
        ShopifyWebhookParser().parse(headers, encode(shopify_order()), {})


def set_path(payload: Json, path: str, value: object) -> Json:
    """A copy of `payload` with `a.b.0.c` set to value (or deleted when value is ...)."""
    result = copy.deepcopy(payload)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    if value is ...:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return result


@pytest.mark.parametrize(("path", "value", "field"), [
    ("id", "450789469", "id"),
    ("id", ..., "id"),
    ("name", 1001, "name"),
    ("created_at", "2024-05-01 10:00", "created_at"),
    ("location_id", "main", "location_id"),
    ("line_items", ..., "line_items"),
    ("line_items.1", "TEE", "line_items[1]"),
    ("line_items.2.id", None, "line_items[2].id"),
    ("line_items.0.quantity", 1.5, "line_items[0].quantity"),
    ("line_items.0.quantity", -1, "line_items[0].quantity"),
    ("line_items.0.sku", 42, "line_items[0].sku"),
    ("note_attributes", {"stocksync_reservation_id": "r"}, "note_attributes"),
    ("line_items.2.properties.0.value", None, "line_items[2].properties[0].value"),
])
def test_a_malformed_shopify_order_is_refused_naming_the_field(
        path: str, value: object, field: str) -> None:
    body = encode(set_path(shopify_order(), path, value))
    with malformed(field) as caught:
        ShopifyWebhookParser().parse(shopify_headers("orders/create"), body, {})
    assert caught.value.details["field"] == field


@pytest.mark.parametrize(("changes", "field"), [
    ({"inventory_item_id": "7"}, "inventory_item_id"),
    ({"location_id": None}, "location_id"),
    ({"available": "6"}, "available"),
    ({"updated_at": "soon"}, "updated_at"),
])
def test_a_malformed_shopify_level_is_refused_naming_the_field(
        changes: Json, field: str) -> None:
    level = {"inventory_item_id": 7, "location_id": 8, "available": 6} | changes
    with malformed(field):
        ShopifyWebhookParser().parse(shopify_headers("inventory_levels/update"),
                                     encode(level), {})


def test_a_shopify_body_that_is_not_json_is_refused() -> None:
    with malformed("body"):
        ShopifyWebhookParser().parse(shopify_headers("orders/create"), b"<xml/>", {})


# -- WooCommerce -----------------------------------------------------------------------

def woo_order(**changes: object) -> Json:
    order: Json = {
        "id": 727, "number": "727", "status": "processing",
        "date_created_gmt": "2024-05-01T10:00:00", "date_modified_gmt": "2024-05-01T10:05:00",
        "line_items": [{"id": 315, "product_id": 93, "variation_id": 0, "sku": "WOO-1",
                        "quantity": 2},
                       {"id": 316, "product_id": 94, "variation_id": 0, "sku": "",
                        "quantity": 1}]}
    order.update(changes)
    return order


def woo_headers(topic: str) -> dict[str, str]:
    return {"x-wc-webhook-topic": topic, "x-wc-webhook-signature": "sig",
            "x-wc-webhook-delivery-id": "changes-every-attempt"}


def test_a_woocommerce_ping_is_recognised_and_ignored_but_never_verified() -> None:
    parser, body = WooCommerceWebhookParser(), b"webhook_id=42"
    assert parser.is_ping({}, body)
    assert not parser.verify("woo-secret", {}, body, "")
    parsed = parser.parse({}, body, {})
    assert (parsed.delivery_id, parsed.topic, parsed.messages) == ("ping:42", "ping",
                                                                   [Ignored("ping")])


@pytest.mark.parametrize(("headers", "body"), [
    ({"x-wc-webhook-signature": "sig"}, b"webhook_id=42"),
    ({}, b"webhook_id=42&sku=A"),
    ({}, b"webhook_id=abc"),
    ({}, b'{"webhook_id":42}'),
])
def test_anything_else_is_not_a_woocommerce_ping(headers: dict[str, str], body: bytes) -> None:
    assert not WooCommerceWebhookParser().is_ping(headers, body)


@pytest.mark.parametrize("topic", ["order.created", "order.updated"])
def test_a_paid_woocommerce_order_sells_its_lines_under_stable_keys(topic: str) -> None:
    body = encode(woo_order())
    parsed = WooCommerceWebhookParser().parse(woo_headers(topic), body, {})
    digest = hashlib.sha256(body).hexdigest()[:32]
    assert parsed.delivery_id == f"{topic}:727:2024-05-01T10:05:00:{digest}"
    assert parsed.messages == [
        ChannelSale(sku="WOO-1", quantity=2, key="woocommerce:727:315",
                    occurred_at=datetime(2024, 5, 1, 10, tzinfo=UTC), reference="727"),
        Ignored("line_items[1] has no sku"),
    ]


@pytest.mark.parametrize(("line", "reason"), [
    ({"id": 1, "sku": None, "quantity": 1}, "line_items[0] has no sku"),
    ({"id": 1, "sku": "a b", "quantity": 1},
     "line_items[0].sku 'a b' is not a valid stocksync SKU"),
    ({"id": 1, "sku": "A", "quantity": 0}, "line_items[0] has quantity 0"),
])
def test_woocommerce_lines_that_cannot_move_stock_are_ignored(line: Json, reason: str) -> None:
    parsed = WooCommerceWebhookParser().parse(woo_headers("order.created"),
                                              encode(woo_order(line_items=[line])), {})
    assert parsed.messages == [Ignored(reason)]


def woo_returned(*units: int, order: int = 727, line: int = 315) -> list[ChannelReturn]:
    sale_key = f"woocommerce:{order}:{line}"
    return [ChannelReturn(sku="WOO-1", quantity=1, key=f"{sale_key}:returned:{n}",
                          sale_key=sale_key, reference=str(order),
                          occurred_at=datetime(2024, 5, 1, 10, 5, tzinfo=UTC)) for n in units]


def woo_meta(**values: str) -> list[Json]:
    return [{"id": 900 + i, "key": f"_{key}", "value": value}
            for i, (key, value) in enumerate(values.items())]


def woo_line(**changes: object) -> Json:
    line: Json = {"id": 315, "product_id": 93, "variation_id": 0, "sku": "WOO-1",
                  "quantity": 2}
    line.update(changes)
    return line


@pytest.mark.parametrize("status", ["cancelled", "pending"])
def test_cancelling_or_reopening_a_woocommerce_order_gives_its_units_back_guarded_by_the_sale(
        status: str) -> None:
    # wc_maybe_increase_stock_levels runs on cancelled AND pending and deletes
    # _reduced_stock; an order that never reduced stock has no applied sale, so the
    # ingestor drops these returns.
    parsed = WooCommerceWebhookParser().parse(
        woo_headers("order.updated"), encode(woo_order(status=status, line_items=[woo_line()])),
        {})
    assert parsed.messages == woo_returned(1, 2)


def test_a_refunded_woocommerce_order_gives_nothing_back_by_itself() -> None:
    parsed = WooCommerceWebhookParser().parse(
        woo_headers("order.updated"),
        encode(woo_order(status="refunded", line_items=[woo_line(meta_data=woo_meta(
            reduced_stock="2"))])), {})
    assert parsed.messages == [Ignored("order status 'refunded' gives no stock back")]


@pytest.mark.parametrize(("status", "meta", "units"), [
    # still reduced: quantity - _reduced_stock came back through restocking refunds
    ("processing", {"reduced_stock": "1", "restock_refunded_items": "1"}, (1,)),
    ("completed", {"reduced_stock": "0", "restock_refunded_items": "2"}, (1, 2)),
    ("refunded", {"reduced_stock": "1", "restock_refunded_items": "1"}, (1,)),
    # a cancelled order whose stock WooCommerce did not restore keeps _reduced_stock
    ("cancelled", {"reduced_stock": "2"}, ()),
    # no _reduced_stock (never reduced, or restored): only refund restocks are known back
    ("refunded", {"restock_refunded_items": "1"}, (1,)),
    ("failed", {}, ()),
])
def test_woocommerce_returns_follow_the_lines_reduced_and_restocked_meta(
        status: str, meta: dict[str, str], units: tuple[int, ...]) -> None:
    line = woo_line(meta_data=woo_meta(**meta))
    parsed = WooCommerceWebhookParser().parse(
        woo_headers("order.updated"), encode(woo_order(status=status, line_items=[line])), {})
    returns = [m for m in parsed.messages if isinstance(m, ChannelReturn)]
    assert returns == woo_returned(*units)


def test_big_woocommerce_lines_come_back_in_at_most_100_blocks_never_more_than_returned() -> None:
    line = woo_line(quantity=250, meta_data=woo_meta(reduced_stock="101"))  # 149 back
    parsed = WooCommerceWebhookParser().parse(
        woo_headers("order.updated"), encode(woo_order(line_items=[line])), {})
    returns = [m for m in parsed.messages if isinstance(m, ChannelReturn)]
    assert [(r.key.rsplit(":", 1)[1], r.quantity) for r in returns] == [
        (str(3 * n), 3) for n in range(1, 50)]  # blocks of 3 units: 147 of the 149


@pytest.mark.parametrize(("product", "expected"), [
    ({"id": 22, "sku": "ABC", "manage_stock": True, "stock_quantity": 5},
     LevelReport(sku="ABC", external_id="22", value=5)),
    ({"id": 23, "sku": "", "manage_stock": False, "stock_quantity": None},
     LevelReport(sku=None, external_id="23", value=None)),
    ({"id": 24, "parent_id": 20, "sku": "V-1", "manage_stock": "parent", "stock_quantity": 9,
      "date_modified_gmt": "2024-05-01T10:05:00"},
     LevelReport(sku="V-1", external_id="24", value=None,
                 observed_at=datetime(2024, 5, 1, 10, 5, tzinfo=UTC))),
])
def test_a_woocommerce_product_update_reports_its_managed_stock(
        product: Json, expected: LevelReport) -> None:
    parsed = WooCommerceWebhookParser().parse(woo_headers("product.updated"),
                                              encode(product), {})
    assert parsed.messages == [expected]


def test_woocommerce_dedupe_ids_ignore_the_per_attempt_delivery_header() -> None:
    parser, body = WooCommerceWebhookParser(), encode(woo_order())
    first = parser.parse(woo_headers("order.created"), body, {})
    again = parser.parse({**woo_headers("order.created"), "x-wc-webhook-delivery-id": "x"},
                         body, {})
    assert first.delivery_id == again.delivery_id
    assert first.delivery_id.startswith("order.created:727:2024-05-01T10:05:00:")


def test_two_woocommerce_changes_in_the_same_second_get_two_dedupe_ids() -> None:
    parser = WooCommerceWebhookParser()
    paid = parser.parse(woo_headers("order.updated"), encode(woo_order()), {})
    cancelled = parser.parse(woo_headers("order.updated"),
                             encode(woo_order(status="cancelled")), {})
    assert paid.delivery_id != cancelled.delivery_id
    assert len(paid.delivery_id) <= 200 and len(cancelled.delivery_id) <= 200


def test_other_woocommerce_topics_are_ignored_and_named_by_their_body() -> None:
    body = b'{"id":727}'
    parsed = WooCommerceWebhookParser().parse(woo_headers("order.deleted"), body, {})
    assert parsed.delivery_id == "order.deleted:sha256:" + hashlib.sha256(body).hexdigest()
    assert parsed.messages == [Ignored("topic 'order.deleted' is not handled")]


def test_a_woocommerce_delivery_without_a_topic_header_is_refused() -> None:
    with malformed("x-wc-webhook-topic"):
        WooCommerceWebhookParser().parse({"x-wc-webhook-signature": "s"}, b"{}", {})


@pytest.mark.parametrize(("topic", "body", "field"), [
    ("order.created", woo_order(status=None), "status"),
    ("order.created", woo_order(id="727"), "id"),
    ("order.created", woo_order(number=727), "number"),
    ("order.created", woo_order(date_created_gmt="1 May"), "date_created_gmt"),
    ("order.created", woo_order(line_items=None), "line_items"),
    ("order.created", woo_order(line_items=[{"id": 1, "sku": "A", "quantity": "2"}]),
     "line_items[0].quantity"),
    ("order.updated", woo_order(status="cancelled", line_items=[{"sku": "A", "quantity": 1}]),
     "line_items[0].id"),
    ("order.updated", woo_order(line_items=[woo_line(meta_data={"_reduced_stock": 1})]),
     "line_items[0].meta_data"),
    ("order.updated", woo_order(line_items=[woo_line(meta_data=woo_meta(reduced_stock="x"))]),
     "line_items[0].meta_data._reduced_stock"),
    ("product.updated", {"id": 22, "manage_stock": True, "stock_quantity": "5"},
     "stock_quantity"),
    ("product.updated", {"id": 22, "sku": ["A"]}, "sku"),
    ("product.updated", {"sku": "A"}, "id"),
])
def test_a_malformed_woocommerce_payload_is_refused_naming_the_field(
        topic: str, body: Json, field: str) -> None:
    with malformed(field) as caught:
        WooCommerceWebhookParser().parse(woo_headers(topic), encode(body), {})
    assert caught.value.details["field"] == field


def test_a_woocommerce_order_body_that_is_not_json_is_refused() -> None:
    with malformed("body"):
        WooCommerceWebhookParser().parse(woo_headers("order.created"), b"webhook_id=x", {})


# -- Square ----------------------------------------------------------------------------

def square_event(*counts: Json, event_type: str = "inventory.count.updated") -> Json:
    return {"merchant_id": "6SSW7HV8K2ST5", "type": event_type,
            "event_id": "df5f3813-a913-45a1-94e9-fdc3f7d5e3b6",
            "created_at": "2019-10-29T18:38:45.455006797Z",
            "data": {"type": "inventory_counts", "id": "84e4ac73",
                     "object": {"inventory_counts": list(counts)}}}


def square_count(**changes: object) -> Json:
    count: Json = {"calculated_at": "2019-10-29T18:38:45.10296Z",
                   "catalog_object_id": "FGQ5JJWT2PYTHF35CKZ2DSKP",
                   "catalog_object_type": "ITEM_VARIATION", "location_id": "YYQR03DGCTXA4",
                   "quantity": "10", "state": "IN_STOCK"}
    count.update(changes)
    return count


def test_a_square_count_update_reports_each_in_stock_count() -> None:
    event = square_event(square_count(), square_count(state="WASTE", quantity="1"),
                         square_count(location_id="L2", quantity="-3.000"))
    parsed = SquareWebhookParser().parse({}, encode(event), {})
    assert parsed.delivery_id == "df5f3813-a913-45a1-94e9-fdc3f7d5e3b6"
    assert parsed.topic == "inventory.count.updated"
    observed = datetime(2019, 10, 29, 18, 38, 45, 102960, tzinfo=UTC)
    assert parsed.messages == [
        LevelReport(sku=None, external_id="FGQ5JJWT2PYTHF35CKZ2DSKP", value=10,
                    channel_location="YYQR03DGCTXA4", observed_at=observed),
        Ignored("data.object.inventory_counts[1] is in state 'WASTE'"),
        LevelReport(sku=None, external_id="FGQ5JJWT2PYTHF35CKZ2DSKP", value=-3,
                    channel_location="L2", observed_at=observed),
    ]


def test_other_square_event_types_are_ignored() -> None:
    parsed = SquareWebhookParser().parse({}, SQUARE_BODY, {})
    assert parsed.delivery_id == "ac3ac95b-f97d-458c-a6e6-18981597e05f"
    assert parsed.messages == [Ignored("event type 'webhooks.test_notification' is not handled")]


@pytest.mark.parametrize(("count", "field"), [
    (square_count(quantity="1.5"), "data.object.inventory_counts[0].quantity"),
    (square_count(quantity="ten"), "data.object.inventory_counts[0].quantity"),
    (square_count(quantity="NaN"), "data.object.inventory_counts[0].quantity"),
    (square_count(quantity=2.0), "data.object.inventory_counts[0].quantity"),
    (square_count(quantity="1e12"), "data.object.inventory_counts[0].quantity"),
    (square_count(catalog_object_id=None), "data.object.inventory_counts[0].catalog_object_id"),
    (square_count(location_id=""), "data.object.inventory_counts[0].location_id"),
    (square_count(state=1), "data.object.inventory_counts[0].state"),
    (square_count(calculated_at="2019-10-29"), "data.object.inventory_counts[0].calculated_at"),
    ("count", "data.object.inventory_counts[0]"),
])
def test_a_malformed_square_count_is_refused_naming_the_field(count: Json, field: str) -> None:
    with malformed(field) as caught:
        SquareWebhookParser().parse({}, encode(square_event(count)), {})
    assert caught.value.details["field"] == field


@pytest.mark.parametrize(("change", "field"), [
    ({"event_id": None}, "event_id"),
    ({"type": 3}, "type"),
    ({"data": {"object": {}}}, "data.object.inventory_counts"),
    ({"data": None}, "data.object.inventory_counts"),
])
def test_a_malformed_square_event_is_refused_naming_the_field(change: Json, field: str) -> None:
    with malformed(field):
        SquareWebhookParser().parse({}, encode(square_event() | change), {})


def test_a_square_body_that_is_not_json_is_refused() -> None:
    with malformed("body"):
        SquareWebhookParser().parse({}, b"\x00", {})


def square_sample(name: str) -> bytes:
    """Square's published example payloads (tests/fixtures/square/SOURCES.md)."""
    from pathlib import Path

    return (Path(__file__).parents[1] / "fixtures" / "square" / name).read_bytes()


@pytest.mark.parametrize(("name", "topic", "event_id"), [
    ("order_created.json", "order.created", "116038d3-2948-439f-8679-fc86dbf80f69"),
    ("order_updated.json", "order.updated", "4b8e5c91-9f17-4cf1-900a-4a0629f81add"),
])
def test_squares_sample_order_events_name_the_order_to_fetch(
        name: str, topic: str, event_id: str) -> None:
    from stocksync.core.inbound import OrderNotice

    parsed = SquareWebhookParser().parse({}, square_sample(name), {})
    assert (parsed.delivery_id, parsed.topic) == (event_id, topic)
    assert parsed.messages == [OrderNotice(order_id="eA3vssLHKJrv9H0IdJCM3gNqfdcZY",
                                           channel_location="FPYCBCHYMXFK1")]


def test_squares_sample_count_update_reports_its_in_stock_count() -> None:
    parsed = SquareWebhookParser().parse({}, square_sample("inventory_count_updated.json"), {})
    assert (parsed.delivery_id, parsed.topic) == ("df5f3813-a913-45a1-94e9-fdc3f7d5e3b6",
                                                  "inventory.count.updated")
    assert parsed.messages == [LevelReport(
        sku=None, external_id="FGQ5JJWT2PYTHF35CKZ2DSKP", value=10,
        channel_location="YYQR03DGCTXA4",
        observed_at=datetime(2019, 10, 29, 18, 38, 45, 102960, tzinfo=UTC))]


@pytest.mark.parametrize(("change", "field"), [
    ({"object": {}}, "data.object.order_updated"),
    ({"object": {"order_updated": {"location_id": "L1"}}},
     "data.object.order_updated.order_id"),
    ({"object": {"order_updated": {"order_id": "O1", "location_id": 7}}},
     "data.object.order_updated.location_id"),
])
def test_a_malformed_square_order_event_is_refused_naming_the_field(
        change: Json, field: str) -> None:
    event = json.loads(square_sample("order_updated.json"))
    event["data"].update(change)
    with malformed(field) as caught:
        SquareWebhookParser().parse({}, encode(event), {})
    assert caught.value.details["field"] == field

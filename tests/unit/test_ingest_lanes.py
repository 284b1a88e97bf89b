"""An ingest lane skips a notice that a later queued notice about the same items makes
redundant, and nothing else (orders, notices about other items, unreadable bodies)."""

from __future__ import annotations

import json
from collections import deque
from datetime import UTC, datetime

from stocksync.app.records import Delivery
from stocksync.workers.ingest import _Claim, _superseded

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 1000))


def delivery(topic: str, body: dict[str, object] | bytes) -> Delivery:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    n = next(_ids)
    return Delivery(id=n, tenant_id="t", channel="shop", kind="shopify",
                    delivery_id=f"d-{n}", topic=topic,
                    headers={"x-shopify-topic": topic, "x-shopify-webhook-id": f"w-{n}"},
                    body=raw, received_at=NOW, status="pending", attempts=0,
                    last_error=None, processed_at=None, correlation_id=None)


def level(item: int, available: int) -> Delivery:
    return delivery("inventory_levels/update", {
        "inventory_item_id": item, "location_id": 7, "available": available,
        "updated_at": "2026-11-30T12:00:00Z"})


def queued(*ds: Delivery) -> deque[tuple[Delivery, _Claim]]:
    claim = _Claim({d.id for d in ds}, NOW)
    return deque((d, claim) for d in ds)


def test_a_notice_followed_by_one_about_the_same_item_is_skipped() -> None:
    assert _superseded(level(1, 5), queued(level(2, 3), level(1, 4)))


def test_a_notice_about_another_item_or_an_order_is_not_skipped() -> None:
    order = delivery("orders/create", {"id": 1, "line_items": []})
    assert not _superseded(level(1, 5), queued(level(2, 3), order))
    assert not _superseded(order, queued(order, level(1, 4)))


def test_an_unreadable_notice_is_left_to_the_normal_path() -> None:
    assert not _superseded(delivery("inventory_levels/update", b"not json"),
                           queued(level(1, 4)))


def test_a_lane_applies_orders_before_the_notices_queued_ahead_of_them() -> None:
    from stocksync.workers.ingest import _next

    first, second = level(1, 5), level(2, 3)
    order = delivery("orders/create", {"id": 2, "line_items": []})
    cancel = delivery("orders/cancelled", {"id": 2, "line_items": []})
    lane = queued(first, order, second, cancel)
    taken = [_next(lane)[0] for _ in range(4)]
    assert taken == [order, cancel, first, second]  # orders keep their own order

"""Square's webhooks as the simulator sends them: signed like Square, retried, and read by
stocksync's parser."""

from __future__ import annotations

import json
from collections.abc import Callable

from stocksync.channels.base import PushReport, QuantitySet
from stocksync.channels.square import SquareConnector
from stocksync.core.inbound import LevelReport
from stocksync.ingest.square import SquareWebhookParser, count_reports
from stocksync.simulators.square_webhooks import square_signature
from tests.contract import test_square_connector as base
from tests.contract.test_square_connector import SIGNATURE_KEY, Square
from tests.webhook_receiver import WebhookReceiver

start_square = base.start_square


def test_count_changes_are_notified_signed_and_retried(
        start_square: Callable[..., Square]) -> None:
    with WebhookReceiver("/hooks/square", fail_first=2) as receiver:
        url = receiver.url
        square = start_square(webhook_retry_scale=0.0005)  # 1, 2, 4 minutes -> 30, 60 ms
        sock = square.add("SOCK", 10)
        square.admin.put("/_sim/webhooks", json={"url": url, "signature_key": SIGNATURE_KEY}
                         ).raise_for_status()
        square.merchant("SOCK", quantity=6)
        receiver.wait_for(3, seconds=15)  # two failures, then delivered

        async def push(c: SquareConnector) -> PushReport:
            await c.discover_mapping(["SOCK"])
            return await c.set_quantities([QuantitySet("SOCK", 9)])

        square.connect(push)  # changes made through the API are notified too
        receiver.wait_for(4, seconds=15)

    attempts = receiver.received[:3]
    assert len({body for _, body in attempts}) == 1  # retries resend the same event
    assert [h.get("square-retry-number") for h, _ in attempts] == [None, "1", "2"]
    assert [h.get("square-retry-reason") for h, _ in attempts] == [None, "http_error",
                                                                    "http_error"]
    assert len({h["square-initial-delivery-timestamp"] for h, _ in attempts}) == 1
    parser = SquareWebhookParser()
    for headers, body in receiver.received:
        assert headers["square-environment"] == "Sandbox"
        assert parser.verify(SIGNATURE_KEY, headers, body, url)
        assert not parser.verify(SIGNATURE_KEY, headers, body, url + "/")
    event = json.loads(attempts[0][1])
    assert event["type"] == "inventory.count.updated"
    reports = [count_reports(json.loads(body))[0] for _, body in receiver.received[2:]]
    assert all(isinstance(r, LevelReport) for r in reports)
    assert [(r.external_id, r.value, r.channel_location) for r in reports
            if isinstance(r, LevelReport)] == [(sock, 6, square.location_id),
                                               (sock, 9, square.location_id)]


def test_the_simulator_signs_like_squares_reference_vector() -> None:
    body = (b'{"merchant_id":"MLEFBHHSJGVHD","type":"webhooks.test_notification",'
            b'"event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":'
            b'"2022-07-13T20:30:59.037339943Z","data":{"type":"webhooks",'
            b'"id":"bc368e64-01aa-407e-b46e-3231809b1129"}}')
    url = "https://webhook.site/679a4f3a-dcfa-49ee-bac5-9d0edad886b9"
    assert square_signature(SIGNATURE_KEY, url, body) == (
        "GF4YkrJgGBDZ9NIYbNXBnMzqb2HoL4RW/S6vkZ9/2N4=")

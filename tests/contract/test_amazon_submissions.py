"""Quantity patches against the Amazon simulator: `merge` keeps the seller's other
fulfillment_availability fields, and ACCEPTED stays pending until Amazon shows the value."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx

from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.base import PushReport, QuantitySet
from tests.contract import test_amazon_connector as base
from tests.contract.test_amazon_connector import (
    CONFIG,
    Seller,
    push,
    push_settled,
)

# The simulator fixtures of the connector suite, shared.
start_seller = base.start_seller
seller = base.seller


def _listing(seller: Seller, sku: str) -> dict[str, object]:
    listing: dict[str, object] = seller.admin.get("/_sim/state").json()["listings"][sku]
    return listing


def test_the_quantity_patch_merges_so_the_handling_time_and_restock_date_survive(
        seller: Seller) -> None:
    seller.admin.post("/_sim/items", json={
        "sku": "SLOW-SHIP", "quantity": 2, "lead_time_to_ship_max_days": 7,
        "restock_date": "2026-12-01"}).raise_for_status()
    report = seller.connect(push_settled({"SLOW-SHIP": 9}))
    assert report.acknowledged == {"SLOW-SHIP": 9}
    assert _listing(seller, "SLOW-SHIP")["fulfillment_availability"] == [{
        "fulfillment_channel_code": "DEFAULT", "quantity": 9,
        "lead_time_to_ship_max_days": 7, "restock_date": "2026-12-01"}]
    patch = seller.requests("patchListingsItem")[0]
    assert patch["status"] == 200 and seller.violations()["count"] == 0


def test_the_simulator_drops_unsent_fields_on_replace_as_amazon_does(seller: Seller) -> None:
    seller.admin.post("/_sim/items", json={"sku": "R", "quantity": 2,
                                           "lead_time_to_ship_max_days": 7}).raise_for_status()
    token = httpx.post(f"{seller.server.url}/auth/o2/token", data={
        "grant_type": "refresh_token", "refresh_token": CONFIG.refresh_token,
        "client_id": CONFIG.lwa_client_id, "client_secret": CONFIG.lwa_client_secret,
    }).json()["access_token"]
    answer = seller.admin.patch(
        f"/listings/2021-08-01/items/{CONFIG.seller_id}/R",
        params={"marketplaceIds": CONFIG.marketplace_id}, headers={"x-amz-access-token": token},
        json={"productType": "PRODUCT", "patches": [{
            "op": "replace", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}]}]})
    assert answer.json()["status"] == "ACCEPTED"
    assert _listing(seller, "R")["fulfillment_availability"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 4}]


def test_an_accepted_value_is_pending_until_applied_and_is_not_sent_again(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(patch_apply_delay_s=0.6)
    seller.add("LATE", 1)

    async def work(c: AmazonConnector) -> list[PushReport]:
        reports = [await c.set_quantities([QuantitySet("LATE", 5)])]
        reports.append(await c.set_quantities([QuantitySet("LATE", 5)]))  # not applied yet
        await asyncio.sleep(0.7)
        reports.append(await c.set_quantities([QuantitySet("LATE", 5)]))
        return reports

    reports = seller.connect(work, pending_recheck_s=0.5)
    assert [r.pending for r in reports] == [{"LATE": 0.5}, {"LATE": 0.5}, {}]
    assert reports[2].acknowledged == {"LATE": 5}
    assert len(seller.requests("patchListingsItem")) == 1  # asked, never resent
    checks = seller.requests("getListingsItem")
    assert [c["status"] for c in checks] == [200, 200]
    assert seller.violations()["count"] == 0


def test_a_pending_value_is_sent_again_once_it_timed_out_and_a_new_value_at_once(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(patch_apply_delay_s=30.0)  # Amazon sits on it
    seller.add("LOST", 1)

    async def work(c: AmazonConnector) -> list[PushReport]:
        reports = [await c.set_quantities([QuantitySet("LOST", 5)])]
        await asyncio.sleep(0.3)  # past pending_timeout_s
        reports.append(await c.set_quantities([QuantitySet("LOST", 5)]))
        reports.append(await c.set_quantities([QuantitySet("LOST", 6)]))  # a new value
        return reports

    reports = seller.connect(work, pending_timeout_s=0.2)
    assert all(r.pending == {"LOST": 10.0} for r in reports)
    assert len(seller.requests("patchListingsItem")) == 3
    assert seller.requests("getListingsItem") == []  # nothing to confirm: all were resends
    assert seller.violations()["count"] == 0


def test_a_feed_is_pending_until_its_skus_show_the_values(
        start_seller: Callable[..., Seller]) -> None:
    seller = start_seller(patch_apply_delay_s=0.3)
    skus = [f"FD-{n}" for n in range(5)]
    for sku in skus:
        seller.add(sku, 0)
    changes = dict.fromkeys(skus, 3)

    async def work(c: AmazonConnector) -> tuple[PushReport, PushReport]:
        first = await c.set_quantities([QuantitySet(s, q) for s, q in changes.items()])
        await asyncio.sleep(0.4)
        return first, await c.set_quantities([QuantitySet(s, q) for s, q in changes.items()])

    first, second = seller.connect(work, feed_threshold=5, feed_poll_interval_s=0.05)
    assert set(first.pending) == set(skus) and not first.acknowledged
    assert second.acknowledged == changes
    assert len(seller.requests("createFeed")) == 1
    assert seller.requests("patchListingsItem") == []
    assert seller.violations()["count"] == 0


def test_invalid_answers_are_rejected_at_once(seller: Seller) -> None:
    seller.add("BAD", 1)
    report = seller.connect(push({"BAD": -3}))
    assert set(report.rejected) == {"BAD"} and not report.pending

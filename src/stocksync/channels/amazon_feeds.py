"""The bulk path: quantities as one `JSON_LISTINGS_FEED` through the Feeds API 2021-06-30
(amazon.md §4): createFeedDocument -> upload -> createFeed -> getFeed ... DONE ->
getFeedDocument -> download the processing report.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from stocksync.channels.amazon_auth import SpApi
from stocksync.channels.base import Unavailable

JsonObject = dict[str, Any]

FEEDS = "/feeds/2021-06-30"
FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
MAX_MESSAGES = 25_000  # per feed (amazon.md §4)
FINISHED = frozenset({"DONE", "CANCELLED", "FATAL"})
# productType "PRODUCT" = offer-only update (amazon.md §2.1); stocksync only sets quantities.
PRODUCT_TYPE = "PRODUCT"
MERCHANT_FULFILLED = "DEFAULT"  # FBA quantities are Amazon's to manage (amazon.md §2.1)


def quantity_patch(quantity: int) -> JsonObject:
    """The JSON Patch both paths send: an absolute quantity, MERGED into the DEFAULT entry of
    fulfillment_availability. `replace` would drop what it does not carry, i.e. the seller's
    handling time (lead_time_to_ship_max_days) and restock_date; `merge` keeps them ("Merge
    a listing", developer-docs.amazon.com/sp-api/docs/merge-a-listing; changelog 2025-06-16).
    The selector field fulfillment_channel_code must be present and non-empty."""
    return {"op": "merge", "path": "/attributes/fulfillment_availability",
            "value": [{"fulfillment_channel_code": MERCHANT_FULFILLED, "quantity": quantity}]}


@dataclass(slots=True)
class SubmittedFeed:
    """A feed Amazon has accepted and may still be applying."""

    feed_id: str
    quantities: dict[str, int]  # sku -> quantity the feed sets
    sku_by_message: dict[int, str]
    submitted_at: datetime
    status: str = "IN_QUEUE"
    result_document_id: str | None = None


@dataclass(slots=True)
class FeedOutcome:
    # sku -> value Amazon accepted. Not applied yet: the processing report's
    # messagesAccepted are messages "accepted, the associated updates are being applied"
    # (listings-feed-processing-report-schema-v2.json), like a patch's ACCEPTED.
    accepted: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # sku -> why (ERROR issues)


def feed_document(seller_id: str, quantities: Mapping[str, int]
                  ) -> tuple[bytes, dict[int, str]]:
    """The feed body (schema v2) and which message carries which SKU."""
    sku_by_message = {n: sku for n, sku in enumerate(quantities, start=1)}
    messages = [{"messageId": n, "sku": sku, "operationType": "PATCH",
                 "productType": PRODUCT_TYPE, "patches": [quantity_patch(quantities[sku])]}
                for n, sku in sku_by_message.items()]
    document = {"header": {"sellerId": seller_id, "version": "2.0", "issueLocale": "en_US"},
                "messages": messages}
    return json.dumps(document, separators=(",", ":")).encode(), sku_by_message


async def upload(api: SpApi, seller_id: str, quantities: Mapping[str, int]
                 ) -> tuple[str, dict[int, str]]:
    """createFeedDocument + PUT the feed body to its pre-signed URL: (document id, SKU by
    message id). Nothing is processed until createFeed."""
    if not 0 < len(quantities) <= MAX_MESSAGES:
        raise ValueError(f"a feed carries 1 to {MAX_MESSAGES} messages")
    content, sku_by_message = feed_document(seller_id, quantities)
    document = await api.call("createFeedDocument", "POST", f"{FEEDS}/documents",
                              body={"contentType": CONTENT_TYPE})
    await api.transfer("PUT", str(document["url"]), content=content,
                       headers={"Content-Type": CONTENT_TYPE})
    return str(document["feedDocumentId"]), sku_by_message


async def create(api: SpApi, marketplace_id: str, document_id: str) -> str:
    """createFeed: Amazon starts processing the uploaded document. Returns the feed id."""
    created = await api.call("createFeed", "POST", f"{FEEDS}/feeds", body={
        "feedType": FEED_TYPE, "marketplaceIds": [marketplace_id],
        "inputFeedDocumentId": document_id})
    return str(created["feedId"])


async def wait_until_finished(api: SpApi, feed: SubmittedFeed, wait_s: float,
                              poll_interval_s: float,
                              sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                              clock: Callable[[], float] = time.monotonic) -> bool:
    """Poll getFeed for at most `wait_s`; True once the feed reached a final status."""
    deadline = clock() + wait_s
    while True:
        status = await api.call("getFeed", "GET", f"{FEEDS}/feeds/{feed.feed_id}")
        feed.status = str(status.get("processingStatus"))
        document_id = status.get("resultFeedDocumentId")
        feed.result_document_id = str(document_id) if document_id else None
        if feed.status in FINISHED:
            return True
        if clock() + poll_interval_s > deadline:
            return False
        await sleep(poll_interval_s)


async def outcome(api: SpApi, feed: SubmittedFeed) -> FeedOutcome:
    """What a finished feed did, per SKU. Only a DONE feed accepted messages for sure: a FATAL
    feed may have accepted some, none or all, so its SKUs count as not sent and go again."""
    result = FeedOutcome()
    if feed.status != "DONE":
        return result
    if feed.result_document_id is None:
        raise Unavailable(f"feed {feed.feed_id} is DONE without a processing report")
    document = await api.call("getFeedDocument", "GET",
                              f"{FEEDS}/documents/{feed.result_document_id}")
    raw = await api.transfer("GET", str(document["url"]))
    if document.get("compressionAlgorithm") == "GZIP":
        raw = gzip.decompress(raw)
    try:
        report = json.loads(raw)
    except ValueError as exc:
        raise Unavailable(f"feed {feed.feed_id}: unreadable processing report") from exc
    errors: dict[str, list[str]] = {}
    unattributed = False  # an ERROR naming no message of ours: nothing counts as accepted
    for issue in report.get("issues") or []:
        if issue.get("severity") != "ERROR":
            continue  # WARNING / INFO do not stop a message
        sku = feed.sku_by_message.get(issue.get("messageId"))
        if sku is None:
            unattributed = True
        else:
            errors.setdefault(sku, []).append(f"{issue.get('code')}: {issue.get('message')}")
    for sku, quantity in feed.quantities.items():
        if sku in errors:
            result.failed[sku] = "; ".join(errors[sku])
        elif not unattributed:
            result.accepted[sku] = quantity
    return result

"""Amazon connector: merchant-fulfilled (`DEFAULT`) quantities through the Selling Partner API
Listings Items 2021-08-01, one `patchListingsItem` per SKU, or one `JSON_LISTINGS_FEED` for a
large batch. Wire format: /work/shared/channels/amazon.md, cited below as "amazon.md §N".

Amazon addresses listings by the seller's own SKU, so there is no `discover_mapping`.

What "acknowledged" means here: Amazon answers a patch `ACCEPTED` = queued, applied a little
later (amazon.md §2.1); validation problems come back at once as `INVALID`. Sending the same
absolute value again would change nothing, so ACCEPTED is reported as the value now there,
knowing getListingsItem may show it a moment later. A feed SKU is acknowledged only once the
feed is DONE and its processing report shows no ERROR for that SKU.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from urllib.parse import quote

import httpx

from stocksync.channels import amazon_feeds as feeds
from stocksync.channels.amazon_auth import (
    LWA_TOKEN_URL,
    JsonObject,
    LwaTokens,
    RateLimit,
    RequestRefused,
    SpApi,
)
from stocksync.channels.base import ChannelError, PushReport, QuantitySet, Unavailable

LISTINGS = "/listings/2021-08-01/items"
FEED_THRESHOLD = 200  # SKUs; below this, individual patches at 5/s finish within ~40 s
# Amazon asks sellers not to submit inventory feeds more often than every 20 minutes.
MIN_FEED_INTERVAL = timedelta(minutes=20)
FEED_WAIT_S = 5.0  # how long one set_quantities call waits for a feed to finish
FEED_POLL_INTERVAL_S = 1.0  # getFeed allows 2/s, burst 15
# One set_quantities call patches for at most this long, then reports what it did; the rest
# stays due and the pusher calls again at once. At 5 patches/s a 1,000-SKU batch would take
# 200 s, far past the channel worker's 15 s lease; short calls keep the lease renewed.
PUSH_BUDGET_S = 8.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AmazonConnector:
    """Pushes absolute DEFAULT (merchant-fulfilled) quantities for one seller, one marketplace."""

    kind: ClassVar[str] = "amazon"
    max_batch: ClassVar[int] = 1000

    def __init__(self, client: httpx.AsyncClient, endpoint: str, lwa_client_id: str,
                 lwa_client_secret: str, refresh_token: str, *, seller_id: str,
                 marketplace_id: str, token_url: str = LWA_TOKEN_URL,
                 feed_threshold: int = FEED_THRESHOLD,
                 min_feed_interval: timedelta = MIN_FEED_INTERVAL,
                 last_feed_at: datetime | None = None,
                 feed_wait_s: float = FEED_WAIT_S,
                 feed_poll_interval_s: float = FEED_POLL_INTERVAL_S,
                 push_budget_s: float = PUSH_BUDGET_S,
                 rate_limits: Mapping[str, RateLimit] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.seller_id = seller_id
        self.marketplace_id = marketplace_id
        self.tokens = LwaTokens(client, token_url, lwa_client_id, lwa_client_secret,
                                refresh_token, clock)
        self.api = SpApi(client, endpoint, self.tokens, rate_limits=rate_limits, sleep=sleep,
                         clock=clock)
        self.feed_threshold = feed_threshold
        self.min_feed_interval = min_feed_interval
        # When this connector last submitted a feed. Pass it in from storage if it must
        # survive restarts: a restarted process would otherwise feel free to send one at once.
        self.last_feed_at = last_feed_at
        self.pending_feed: feeds.SubmittedFeed | None = None  # submitted, not yet settled
        self.feed_wait_s = feed_wait_s
        self.feed_poll_interval_s = feed_poll_interval_s
        self.push_budget_s = push_budget_s
        self._sleep = sleep
        self._clock = clock
        self._now = now

    # -- ChannelConnector --------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        """Absolute quantities; SKUs left out of the report were not settled in this call
        (time budget used up, an unfinished feed holds them, or a failure after progress)
        and stay due. A call that settles nothing raises instead."""
        deadline = self._clock() + self.push_budget_s
        latest = {change.sku: change.quantity for change in changes}
        report = PushReport()
        held = await self._settle_pending_feed(latest, report)
        todo = {sku: quantity for sku, quantity in latest.items()
                if sku not in held and sku not in report.rejected
                and report.acknowledged.get(sku) != quantity}
        if todo and len(todo) >= self.feed_threshold and self.feed_allowed():
            batch = dict(list(todo.items())[:feeds.MAX_MESSAGES])  # the rest: next call
            held |= await self._push_feed(batch, report)
        else:
            await self._patch_each(todo, report, deadline)
        if not report.acknowledged and not report.rejected and held & latest.keys():
            feed = self.pending_feed
            status = f"{feed.feed_id} is still {feed.status}" if feed else "is unsettled"
            # The pusher retries later; the next call polls this feed instead of sending the
            # SKUs again (a second feed within 20 minutes, or a patch the feed may overwrite).
            raise Unavailable(f"Amazon feed {status}")
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        """DEFAULT quantities via getListingsItem, one SKU per call (5/s, burst 10). SKUs
        Amazon does not know, or lists without a merchant-fulfilled quantity, are left out.
        A patch ACCEPTED moments ago may not show yet (amazon.md §2.1)."""
        found: dict[str, int] = {}
        for sku in dict.fromkeys(skus):
            try:
                listing = await self.api.call(
                    "getListingsItem", "GET", self._listing_path(sku),
                    params={"marketplaceIds": self.marketplace_id,
                            "includedData": "fulfillmentAvailability"})
            except RequestRefused as exc:
                if exc.status == 404:
                    continue
                raise
            quantity = _merchant_quantity(listing)
            if quantity is not None:
                found[sku] = quantity
        return found

    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> list[object]:
        raise NotImplementedError("Amazon notifications arrive through SQS / EventBridge "
                                  "(amazon.md §5), not HTTP webhooks")

    def feed_allowed(self) -> bool:
        return (self.pending_feed is None and (
            self.last_feed_at is None
            or self._now() - self.last_feed_at >= self.min_feed_interval))

    # -- individual patches --------------------------------------------------------------
    async def _patch_each(self, todo: Mapping[str, int], report: PushReport,
                          deadline: float) -> None:
        for sku, quantity in todo.items():
            if self._clock() >= deadline:
                return  # the rest stays due: see PUSH_BUDGET_S
            try:
                answer = await self._patch(sku, quantity)
            except RequestRefused as exc:  # 400/413/415 for this SKU's request
                report.rejected[sku] = str(exc)
                continue
            except ChannelError:
                if report.acknowledged or report.rejected:
                    return  # keep what was done; the next call meets the failure first
                raise
            if answer.get("status") == "ACCEPTED":
                report.acknowledged[sku] = quantity
            else:
                report.rejected[sku] = _issues(answer) or f"status {answer.get('status')}"

    async def _patch(self, sku: str, quantity: int) -> JsonObject:
        return await self.api.call(
            "patchListingsItem", "PATCH", self._listing_path(sku),
            params={"marketplaceIds": self.marketplace_id, "includedData": "issues"},
            body={"productType": feeds.PRODUCT_TYPE,
                  "patches": [feeds.quantity_patch(quantity)]})

    def _listing_path(self, sku: str) -> str:
        # SKUs may hold "/" or "#": unescaped they end the path early (amazon.md §2.1 path).
        return f"{LISTINGS}/{quote(self.seller_id, safe='')}/{quote(sku, safe='')}"

    # -- feeds -----------------------------------------------------------------------------
    async def _push_feed(self, todo: dict[str, int], report: PushReport) -> set[str]:
        """Submit `todo` as one feed and wait a little for it; returns the SKUs it still holds."""
        document_id, sku_by_message = await feeds.upload(self.api, self.seller_id, todo)
        # Counted from the createFeed attempt: if the answer is lost, the feed may exist.
        self.last_feed_at = self._now()
        feed_id = await feeds.create(self.api, self.marketplace_id, document_id)
        self.pending_feed = feeds.SubmittedFeed(feed_id, dict(todo), sku_by_message,
                                                self.last_feed_at)
        return await self._settle_pending_feed(todo, report)

    async def _settle_pending_feed(self, latest: Mapping[str, int], report: PushReport
                                   ) -> set[str]:
        """Poll the unfinished feed (waiting only if this call wants some of its SKUs).
        Finished: its results go into `report` and nothing is held. Else: its SKUs are held,
        because a patch sent now could be overwritten by the feed applying later."""
        feed = self.pending_feed
        if feed is None:
            return set()
        wait = self.feed_wait_s if feed.quantities.keys() & latest.keys() else 0.0
        if not await feeds.wait_until_finished(self.api, feed, wait, self.feed_poll_interval_s,
                                               self._sleep, self._clock):
            return set(feed.quantities)
        result = await feeds.outcome(self.api, feed)
        self.pending_feed = None
        # Everything the feed set is now there, wanted in this call or not.
        report.acknowledged.update(result.applied)
        for sku, reason in result.failed.items():
            if latest.get(sku) == feed.quantities[sku]:  # else the new value gets its own try
                report.rejected[sku] = reason
        return set()


def _merchant_quantity(listing: JsonObject) -> int | None:
    for entry in listing.get("fulfillmentAvailability") or []:
        quantity = entry.get("quantity")
        if entry.get("fulfillmentChannelCode") == feeds.MERCHANT_FULFILLED and isinstance(
                quantity, int):
            return quantity
    return None


def _issues(answer: JsonObject) -> str:
    return "; ".join(f"{issue.get('code')}: {issue.get('message')}"
                     for issue in answer.get("issues") or []
                     if issue.get("severity") == "ERROR")

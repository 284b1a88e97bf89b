"""Amazon connector: merchant-fulfilled (`DEFAULT`) quantities through the Selling Partner API
Listings Items 2021-08-01, one `patchListingsItem` per SKU, or one `JSON_LISTINGS_FEED` for a
large batch; orders in through the Orders API v0 (amazon_orders.py). Wire format:
/work/shared/channels/amazon.md, cited below as "amazon.md §N".

Amazon addresses listings by the seller's own SKU, so there is no `discover_mapping`.

What "acknowledged" means here: a patch answered `ACCEPTED`, like a feed message the
processing report accepts, is only queued: Amazon applies it asynchronously (amazon.md §2.1).
Such a SKU is reported `pending` and remembered as a submission; when the pusher asks for the
same value again, getListingsItem(includedData=fulfillmentAvailability,issues) tells whether
it is applied (acknowledged), refused by an ERROR issue (rejected) or still queued (pending
again, not resent). Only a submission older than `pending_timeout_s` is sent again.
`INVALID`, or any ERROR issue in the answer, is rejected at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
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
from stocksync.channels.amazon_orders import (
    MAX_PAGE_SIZE,
    ORDER_POLL_SECONDS,
    POLL_BUDGET_S,
    AmazonOrders,
)
from stocksync.channels.base import (
    ChannelError,
    OrderPage,
    PushReport,
    QuantitySet,
    Unavailable,
)
from stocksync.channels.facts import PlatformFacts
from stocksync.core.inbound import InboundMessage

LISTINGS = "/listings/2021-08-01/items"
# A SKU no seller has: reading it costs one getListingsItem and answers 404 when the token
# may read the seller's listings (check_credentials).
CHECK_SKU = "stocksync-credentials-check"
FEED_THRESHOLD = 200  # SKUs; below this, individual patches at 5/s finish within ~40 s
# Amazon asks sellers not to submit inventory feeds more often than every 20 minutes.
MIN_FEED_INTERVAL = timedelta(minutes=20)
FEED_WAIT_S = 5.0  # how long one set_quantities call waits for a feed to finish
FEED_POLL_INTERVAL_S = 1.0  # getFeed allows 2/s, burst 15
# One set_quantities call patches for at most this long, then reports what it did; the rest
# stays due and the pusher calls again at once. At 5 patches/s a 1,000-SKU batch would take
# 200 s, far past the channel worker's 15 s lease; short calls keep the lease renewed.
PUSH_BUDGET_S = 8.0
# Amazon does not publish how long an ACCEPTED submission takes to apply (seconds to minutes
# in practice). Ask again after PENDING_RECHECK_S; resend only after PENDING_TIMEOUT_S.
PENDING_RECHECK_S = 10.0
PENDING_TIMEOUT_S = 900.0
FULFILLMENT_ATTRIBUTE = "fulfillment_availability"


@dataclass(frozen=True, slots=True)
class Submission:
    """A quantity Amazon accepted (patch ACCEPTED or feed message accepted), not yet seen."""

    quantity: int
    sent_at: float  # connector clock


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AmazonConnector(PlatformFacts):
    """Pushes absolute DEFAULT (merchant-fulfilled) quantities for one seller, one marketplace."""

    kind: ClassVar[str] = "amazon"
    max_batch: ClassVar[int] = 1000
    required_settings: ClassVar[tuple[str, ...]] = ("endpoint", "seller_id", "marketplace_id")
    required_credentials: ClassVar[tuple[str, ...]] = (
        "lwa_client_id", "lwa_client_secret", "refresh_token")
    self_paced: ClassVar[bool] = True
    order_poll_seconds: ClassVar[float] = ORDER_POLL_SECONDS  # see amazon_orders.py

    def __init__(self, client: httpx.AsyncClient, endpoint: str, lwa_client_id: str,
                 lwa_client_secret: str, refresh_token: str, *, seller_id: str,
                 marketplace_id: str, token_url: str = LWA_TOKEN_URL,
                 feed_threshold: int = FEED_THRESHOLD,
                 min_feed_interval: timedelta = MIN_FEED_INTERVAL,
                 last_feed_at: datetime | None = None,
                 feed_wait_s: float = FEED_WAIT_S,
                 feed_poll_interval_s: float = FEED_POLL_INTERVAL_S,
                 push_budget_s: float = PUSH_BUDGET_S,
                 pending_recheck_s: float = PENDING_RECHECK_S,
                 pending_timeout_s: float = PENDING_TIMEOUT_S,
                 poll_budget_s: float = POLL_BUDGET_S,
                 orders_since: datetime | None = None,
                 orders_page_size: int = MAX_PAGE_SIZE,
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
        self.pending_recheck_s = pending_recheck_s
        self.pending_timeout_s = pending_timeout_s
        # Accepted, not yet confirmed. In memory: after a restart a pending value is simply
        # sent again (an absolute value, so harmless).
        self.submissions: dict[str, Submission] = {}
        # `orders_since` (the channel's creation time) keeps fetch_orders from counting an
        # order placed before the channel existed; poll_orders gets it from its cursor.
        self.orders = AmazonOrders(self.api, marketplace_id, since=orders_since,
                                   budget_s=poll_budget_s, page_size=orders_page_size,
                                   clock=clock, now=now)
        self._sleep = sleep
        self._clock = clock
        self._now = now

    # -- ChannelConnector --------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        """Absolute quantities. Accepted but not yet visible at Amazon: `pending` (asked
        again later, confirmed, not resent). SKUs left out of the report were not settled in
        this call (time budget used up, an unfinished feed holds them, or a failure after
        progress) and stay due. A call that settles nothing raises instead."""
        deadline = self._clock() + self.push_budget_s
        latest = {change.sku: change.quantity for change in changes}
        report = PushReport()
        held = await self._settle_pending_feed(latest, report)
        todo = {sku: quantity for sku, quantity in latest.items()
                if sku not in held and sku not in report.rejected
                and sku not in report.pending and report.acknowledged.get(sku) != quantity}
        await self._check_submissions(todo, report, deadline)
        if todo and len(todo) >= self.feed_threshold and self.feed_allowed():
            batch = dict(list(todo.items())[:feeds.MAX_MESSAGES])  # the rest: next call
            held |= await self._push_feed(batch, report)
        else:
            await self._patch_each(todo, report, deadline)
        settled = report.acknowledged or report.rejected or report.pending
        if not settled and held & latest.keys():
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

    async def check_credentials(self) -> None:
        """ChecksCredentials: a Login with Amazon token (400 invalid_grant / 401
        invalid_client, amazon.md §1), then getListingsItem for a SKU no seller has, under
        the Product Listing role the connector needs anyway: 404 means the token may read
        this seller's listings on this marketplace; 403 Unauthorized (token not authorised
        for this seller id) or 400 (marketplace) are refusals."""
        try:
            await self.api.call("getListingsItem", "GET", self._listing_path(CHECK_SKU),
                                params={"marketplaceIds": self.marketplace_id})
        except RequestRefused as exc:
            if exc.status != 404:
                raise

    # -- PollsOrders / FetchesOrders -------------------------------------------------------
    async def poll_orders(self, cursor: str) -> OrderPage:
        """Merchant-fulfilled orders updated since the cursor (getOrders + getOrderItems)."""
        return await self.orders.poll(cursor)

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        """The named orders (getOrder + getOrderItems), for ORDER_CHANGE notices."""
        return await self.orders.fetch(order_ids)

    def orders_from_summary(self, order_id: str, summary: Mapping[str, Any]
                            ) -> list[InboundMessage] | None:
        """ReadsOrderSummaries: a new order counted from its ORDER_CHANGE at once, instead
        of after getOrder + getOrderItems (0.5 requests/s: a burst of orders waits minutes
        for them). The keys are the poll's, so the poll that reads it later changes nothing."""
        return self.orders.from_summary(order_id, summary)

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
            errors = _issues(answer)
            if answer.get("status") == "ACCEPTED" and not errors:
                self._submitted(sku, quantity, report)
            else:
                report.rejected[sku] = errors or f"status {answer.get('status')}"

    def _submitted(self, sku: str, quantity: int, report: PushReport) -> None:
        self.submissions[sku] = Submission(quantity, self._clock())
        report.pending[sku] = self.pending_recheck_s

    # -- accepted submissions --------------------------------------------------------------
    async def _check_submissions(self, todo: dict[str, int], report: PushReport,
                                 deadline: float) -> None:
        """SKUs whose value was accepted earlier: confirm instead of sending again. What is
        settled here leaves `todo`; the rest (new values, timed-out submissions) is sent."""
        for sku, quantity in list(todo.items()):
            submission = self.submissions.get(sku)
            if submission is None:
                continue
            if (submission.quantity != quantity
                    or self._clock() - submission.sent_at >= self.pending_timeout_s):
                del self.submissions[sku]  # a new value, or Amazon lost it: send again
                continue
            del todo[sku]
            if self._clock() >= deadline:
                report.pending[sku] = self.pending_recheck_s  # not checked: ask later
                continue
            try:
                listing = await self.api.call(
                    "getListingsItem", "GET", self._listing_path(sku),
                    params={"marketplaceIds": self.marketplace_id,
                            "includedData": "fulfillmentAvailability,issues"})
            except RequestRefused as exc:
                if exc.status != 404:  # 404: an offer-only listing not created yet
                    raise
                listing = {}
            except ChannelError:
                if report.acknowledged or report.rejected or report.pending:
                    report.pending[sku] = self.pending_recheck_s
                    continue
                raise
            self._settle_submission(sku, quantity, listing, report)

    def _settle_submission(self, sku: str, quantity: int, listing: JsonObject,
                           report: PushReport) -> None:
        if _merchant_quantity(listing) == quantity:
            del self.submissions[sku]
            report.acknowledged[sku] = quantity
        elif errors := _issues(listing, FULFILLMENT_ATTRIBUTE):
            del self.submissions[sku]
            report.rejected[sku] = errors
        else:
            report.pending[sku] = self.pending_recheck_s

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
        # Everything the feed carried is now queued at Amazon, wanted in this call or not;
        # a SKU this call wants at another value is sent anew below.
        for sku, quantity in result.accepted.items():
            if latest.get(sku, quantity) == quantity:
                self._submitted(sku, quantity, report)
            else:
                self.submissions[sku] = Submission(quantity, self._clock())
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


def _issues(answer: JsonObject, attribute: str | None = None) -> str:
    """ERROR issues of an answer (those naming `attribute`, when given)."""
    return "; ".join(f"{issue.get('code')}: {issue.get('message')}"
                     for issue in answer.get("issues") or []
                     if issue.get("severity") == "ERROR" and (
                         attribute is None or attribute in (issue.get("attributeNames") or [])))

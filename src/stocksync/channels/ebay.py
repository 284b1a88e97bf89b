"""eBay connector: absolute quantities through the Sell Inventory API's
`bulkUpdatePriceQuantity`, within eBay's call quota and its daily revision cap; sales
back in through the Sell Fulfillment API (channels/ebay_orders.py).

Wire format: ebay.md in the channel notes (/work/shared/channels/ebay.md), cited as
"ebay.md §N". What it does per SKU:

- write (§3, §4; eBay's bulk-updates guide): the channel's quantity is the share of ONE
  marketplace (`marketplace_id`), so it goes to the `availableQuantity` of the SKU's
  published fixed-price offer there. The inventory item's ship-to-home quantity is the
  item's quantity across every marketplace, and a listing shows the smaller of the two,
  so it is set to the largest share any published offer of the SKU now has (read with
  getOffers just before): every marketplace shows its own share, two channels on one
  account (EBAY_US, EBAY_GB) never overwrite each other, and eBay still takes each sale
  off that shared total, so buyers on two marketplaces cannot together buy more than it;
- read (§2, §3): the smaller of the item's ship-to-home quantity and the offer's share;
- map (§3): SKU -> offerId via getOffers; the offer's listing id keys the revision count.

Batch size: the call reference says one SKU per call, the current guide and the
`BulkPriceQuantity` type say up to 25 inventory items (§4). The connector sends up to 25
SKUs per call; the first time eBay refuses a multi-SKU call as a whole (HTTP 400) it
re-sends those SKUs one per call and keeps doing so (`skus_per_call=1` pins that).

Revision cap (§2, §5): a listing may be revised at most 250 times per calendar day. The
connector counts its own revisions per listing per UTC day and refuses, per SKU, an
update that would exceed the cap; deciding when to spend revisions is the pusher's job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import ClassVar

import httpx

from stocksync.channels.base import (
    ChannelError,
    OrderPage,
    PushReport,
    QuantitySet,
    RateLimited,
    Rejected,
)
from stocksync.channels.ebay_auth import (
    DEFAULT_CALL_LIMIT,
    DEFAULT_CALL_WINDOW_S,
    SELL_FULFILLMENT_READONLY_SCOPE,
    SELL_INVENTORY_SCOPE,
    BadRequest,
    EbaySession,
    JsonObject,
    error_summary,
    json_body,
)
from stocksync.channels.ebay_notification_keys import NotificationKeys
from stocksync.channels.ebay_orders import (
    DEFAULT_FULFILLMENT_CALL_LIMIT,
    ORDER_POLL_SECONDS,
    EbayOrders,
)
from stocksync.channels.ebay_revisions import (
    DAILY_REVISION_CAP,
    REVISION_CAP_REASON,
    RevisionCount,
    utc_now,
)
from stocksync.channels.facts import PlatformFacts
from stocksync.core.inbound import InboundMessage

__all__ = ["DAILY_REVISION_CAP", "REVISION_CAP_REASON", "EbayConnector", "RevisionCount"]

BASE = "/sell/inventory/v1"
MAX_SKUS_PER_CALL = 25  # bulk_update_price_quantity / bulk_get_inventory_item (ebay.md §2, §4)
ITEMS_PAGE = 100  # GET /inventory_item page size (offset is a page index, ebay.md §2)
OFFERS_PAGE = 25  # getOffers returns at most 25 offers for one SKU
FIXED_PRICE = "FIXED_PRICE"  # auction offers must keep availableQuantity 1 (ebay.md §3)


class EbayConnector(PlatformFacts):
    """Pushes absolute quantities of one seller account's listings on one marketplace,
    and reads that marketplace's sales back (PollsOrders, FetchesOrders)."""

    kind: ClassVar[str] = "ebay"
    max_batch: ClassVar[int] = MAX_SKUS_PER_CALL
    required_credentials: ClassVar[tuple[str, ...]] = (
        "client_id", "client_secret", "refresh_token")
    mapping_field: ClassVar[str | None] = "offer_id"
    self_paced: ClassVar[bool] = True
    revision_capped: ClassVar[bool] = True
    order_poll_seconds: ClassVar[float] = ORDER_POLL_SECONDS

    def __init__(self, client: httpx.AsyncClient, api_url: str, client_id: str,
                 client_secret: str, refresh_token: str, *, marketplace_id: str = "EBAY_US",
                 merchant_location_key: str | None = None,
                 skus_per_call: int = MAX_SKUS_PER_CALL,
                 revision_cap: int = DAILY_REVISION_CAP,
                 revisions_today: Mapping[str, int] | None = None,
                 call_limit: int = DEFAULT_CALL_LIMIT,
                 call_window_s: float = DEFAULT_CALL_WINDOW_S,
                 fulfillment_call_limit: int = DEFAULT_FULFILLMENT_CALL_LIMIT,
                 restock_cancellations: bool = False,
                 scopes: Sequence[str] = (SELL_INVENTORY_SCOPE,),
                 mapping: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 now: Callable[[], datetime] = utc_now) -> None:
        """`api_url`: https://api.ebay.com, https://api.sandbox.ebay.com or a simulator.
        `revisions_today`: sku -> revisions already made today (e.g. before a restart).
        `call_limit`/`call_window_s`: this connector's share of the app's Inventory API
        quota; `fulfillment_call_limit` likewise for the Fulfillment API (per window).
        `restock_cancellations`: the merchant relists cancelled orders' units (see
        channels/ebay_orders.py), so a cancellation is a return."""
        self.session = EbaySession(client, api_url, client_id, client_secret, refresh_token,
                                   scopes=scopes, call_limit=call_limit,
                                   call_window_s=call_window_s, clock=clock, sleep=sleep)
        # Orders need the sell.fulfillment(.readonly) scope, which the merchant must have
        # granted; a separate token keeps pushes working if it was not. Its own pacer:
        # eBay counts each API's quota separately (ebay.md §5).
        self.orders = EbayOrders(
            EbaySession(client, api_url, client_id, client_secret, refresh_token,
                        scopes=(SELL_FULFILLMENT_READONLY_SCOPE,),
                        call_limit=fulfillment_call_limit, call_window_s=call_window_s,
                        clock=clock, sleep=sleep),
            marketplace_id, restock_cancellations=restock_cancellations)
        self.notification_keys = NotificationKeys(client, api_url, client_id, client_secret,
                                                  clock)
        self.marketplace_id = marketplace_id
        self.merchant_location_key = merchant_location_key
        self.skus_per_call = max(1, min(MAX_SKUS_PER_CALL, skus_per_call))
        self.mapping: dict[str, str] = dict(mapping or {})  # sku -> offerId
        self.listings: dict[str, str] = {}  # sku -> listingId (variations share one)
        self.revisions = RevisionCount(revision_cap, now)
        self._seeded = dict(revisions_today or {})
        self._seeded_on = now().date()

    # -- orders (PollsOrders, FetchesOrders) ------------------------------------------------
    async def poll_orders(self, cursor: str) -> OrderPage:
        """Sales (and, if configured, restocking cancellations) of this marketplace
        modified since `cursor`; see channels/ebay_orders.py."""
        return await self.orders.poll(cursor)

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        return await self.orders.fetch(order_ids)

    # -- revision cap --------------------------------------------------------------------
    def revisions_left(self, sku: str) -> int:
        """Revisions this connector may still make today to the listing of `sku`."""
        return self.revisions.left(self._listing(sku))

    def _listing(self, sku: str) -> str:
        """The revision-count key: the listing id once known, else the offer (or SKU)."""
        offer = self.mapping.get(sku)
        listing = self.listings.get(sku) or (f"offer:{offer}" if offer else f"sku:{sku}")
        seeded = self._seeded.get(sku)
        if seeded and self.revisions.now().date() == self._seeded_on:
            self.revisions.at_least(listing, seeded)
        return listing

    # -- ChannelConnector ------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        """If a call fails after earlier calls were acknowledged, those acknowledgements
        are returned and the rest stays unacknowledged (the pusher sends it again); the
        error is raised only when nothing was acknowledged."""
        report = PushReport()
        latest = {change.sku: change.quantity for change in changes}
        for sku in latest:
            if sku not in self.mapping:
                report.rejected[sku] = (f"no published eBay {FIXED_PRICE} offer on "
                                        f"{self.marketplace_id} is mapped to this SKU")
        pending: list[tuple[str, int]] = []
        try:
            totals = await self._read_offers([s for s in latest if s in self.mapping],
                                             latest, report)
            pending = self._reserve_revisions(latest, report)
            while pending:
                size = self.skus_per_call
                chunk, pending = pending[:size], pending[size:]
                pending = await self._push(chunk, totals, report) + pending
        except ChannelError:
            for sku, _ in pending:  # never sent
                self.revisions.add(self._listing(sku), -1)
            if not report.acknowledged:
                raise
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        """What this marketplace shows: the smaller of the item's ship-to-home quantity
        and the mapped offer's share (ebay.md §3); the item's quantity for SKUs without
        a mapped offer; unknown SKUs are left out."""
        found = await self._item_quantities(skus)
        for sku in [s for s in found if s in self.mapping]:
            response = await self.session.call("GET", f"{BASE}/offer/{self.mapping[sku]}",
                                               missing_ok=True)
            share = (json_body(response).get("availableQuantity")
                     if response is not None else None)
            if isinstance(share, int):
                found[sku] = min(found[sku], share)
        return found

    async def _item_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        wanted = list(dict.fromkeys(skus))
        for start in range(0, len(wanted), MAX_SKUS_PER_CALL):
            batch = wanted[start:start + MAX_SKUS_PER_CALL]
            response = await self.session.call("POST", f"{BASE}/bulk_get_inventory_item",
                                               json={"requests": [{"sku": s} for s in batch]})
            assert response is not None
            for result in json_body(response).get("responses") or []:
                if result.get("statusCode") != 200 or result.get("sku") not in batch:
                    continue
                ship = (((result.get("inventoryItem") or {}).get("availability") or {})
                        .get("shipToLocationAvailability") or {})
                found[str(result["sku"])] = int(ship.get("quantity") or 0)
        return found

    async def check_credentials(self) -> None:
        """ChecksCredentials: a refresh_token grant (400 invalid_grant / 401 invalid_client
        for wrong credentials, ebay.md §1), then one inventory item (getInventoryItems,
        limit=1) with the sell.inventory token. The fulfillment scope is not required:
        pushes work without it (see __init__)."""
        await self.session.call("GET", f"{BASE}/inventory_item",
                                params={"limit": 1, "offset": 0})

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]:
        """Look up the published fixed-price offer of each SKU (all inventory items when
        `skus` is None) on `marketplace_id`; records sku -> offerId in `mapping` and the
        offer's listing id. SKUs without such an offer are left out."""
        wanted = list(skus) if skus is not None else await self._all_skus()
        found: dict[str, str] = {}
        for sku in wanted:
            try:
                response = await self.session.call("GET", f"{BASE}/offer", params={
                    "sku": sku, "marketplace_id": self.marketplace_id, "format": FIXED_PRICE,
                    "limit": OFFERS_PAGE}, missing_ok=True)
            except BadRequest:
                continue  # eBay answers an unknown SKU with 404 (or 400, unconfirmed)
            if response is None:
                continue
            for offer in json_body(response).get("offers") or []:
                if self._usable(offer):
                    found[sku] = str(offer["offerId"])
                    self._remember_listing(sku, offer)
                    break
        self.mapping.update(found)
        return found

    # -- pushing -----------------------------------------------------------------------------
    def _reserve_revisions(self, latest: dict[str, int], report: PushReport
                           ) -> list[tuple[str, int]]:
        """Count a revision per SKU before sending (a call that times out may still have
        revised the listing; a refused one gives it back), and refuse SKUs whose listing
        has none left today. Each SKU counts as one revision of its listing even when
        variations of one listing share a call (eBay may count that call once; counting
        more can only make us stop early, never too late)."""
        allowed: list[tuple[str, int]] = []
        for sku, quantity in latest.items():
            if sku in report.rejected:
                continue
            listing = self._listing(sku)
            if self.revisions.left(listing) < 1:
                report.rejected[sku] = REVISION_CAP_REASON
                continue
            self.revisions.add(listing)
            allowed.append((sku, quantity))
        return allowed

    async def _push(self, chunk: list[tuple[str, int]], totals: dict[str, int],
                    report: PushReport) -> list[tuple[str, int]]:
        """One bulkUpdatePriceQuantity call; returns SKUs to send again (one per call).
        Their revisions were reserved; what eBay refused is given back here."""
        listings = [self._listing(sku) for sku, _ in chunk]
        body = {"requests": [self._request(sku, quantity, totals.get(sku, quantity))
                             for sku, quantity in chunk]}
        try:
            response = await self.session.call("POST", f"{BASE}/bulk_update_price_quantity",
                                               json=body)
        except BadRequest as exc:
            if len(chunk) > 1:
                # ebay.md §4: eBay may allow one SKU per call only; from now on, do that.
                self.skus_per_call = 1
                return chunk  # still reserved: sent again right away
            self.revisions.add(listings[0], -1)
            report.rejected[chunk[0][0]] = error_summary(exc.errors)
            return []
        except (RateLimited, Rejected):  # refused as a whole: nothing was revised
            for listing in listings:
                self.revisions.add(listing, -1)
            raise
        assert response is not None
        results = self._results(json_body(response))
        for (sku, quantity), listing in zip(chunk, listings, strict=True):
            errors = results.get(sku)
            if errors is None:
                continue  # not answered: unknown whether it applied; the pusher resends
            if not errors:
                report.acknowledged[sku] = quantity
                continue
            self.revisions.add(listing, -1)
            if any("revis" in str(e.get("message", "")).lower() for e in errors):
                # eBay counted revisions we did not (Seller Hub edits, another app):
                # nothing more today. The error code is undocumented (ebay.md §5).
                self.revisions.at_least(listing, self.revisions.cap)
                report.rejected[sku] = f"{REVISION_CAP_REASON} ({error_summary(errors)})"
            else:
                report.rejected[sku] = error_summary(errors)
        return []

    def _request(self, sku: str, quantity: int, total: int) -> JsonObject:
        """Our marketplace's share on our offer; the item's all-marketplace quantity set
        to `total` (the largest share, ours included; see the module docstring)."""
        ship: JsonObject = {"quantity": total}
        if self.merchant_location_key:
            ship["availabilityDistributions"] = [
                {"merchantLocationKey": self.merchant_location_key, "quantity": total}]
        return {"sku": sku, "shipToLocationAvailability": ship,
                "offers": [{"offerId": self.mapping[sku], "availableQuantity": quantity}]}

    def _results(self, body: JsonObject) -> dict[str, list[JsonObject]]:
        """sku -> errors ([] = applied) from one element per offer (ebay.md §4)."""
        sku_of_offer = {offer: sku for sku, offer in self.mapping.items()}
        results: dict[str, list[JsonObject]] = {}
        for element in body.get("responses") or []:
            sku = element.get("sku") or sku_of_offer.get(str(element.get("offerId")))
            if sku is None:
                continue
            errors = [e for e in element.get("errors") or [] if isinstance(e, dict)]
            if not errors and element.get("statusCode") not in (200, None):
                errors = [{"errorId": None, "message": f"status {element.get('statusCode')}"}]
            results.setdefault(str(sku), []).extend(errors)
        return results

    async def _read_offers(self, skus: list[str], latest: dict[str, int],
                           report: PushReport) -> dict[str, int]:
        """getOffers (every marketplace) per SKU just before writing: checks the mapped
        offer still exists and is published, learns its listing id, and returns
        sku -> the item total to write: the largest published share, ours as `latest`."""
        totals: dict[str, int] = {}
        for sku in skus:
            response = await self.session.call("GET", f"{BASE}/offer", params={
                "sku": sku, "limit": OFFERS_PAGE}, missing_ok=True)
            offers = [o for o in (json_body(response).get("offers") or [])
                      if isinstance(o, dict)] if response is not None else []
            ours = next((o for o in offers if str(o.get("offerId")) == self.mapping[sku]),
                        None)
            if ours is None:
                del self.mapping[sku]
                report.rejected[sku] = "the mapped eBay offer no longer exists"
                continue
            if ours.get("status") != "PUBLISHED":
                report.rejected[sku] = "the mapped eBay offer is not published"
                continue
            self._remember_listing(sku, ours)
            shares = [int(o["availableQuantity"]) for o in offers
                      if o is not ours and o.get("status") == "PUBLISHED"
                      and isinstance(o.get("availableQuantity"), int)]
            totals[sku] = max([latest[sku], *shares])
        return totals

    # -- mapping -----------------------------------------------------------------------------
    def _usable(self, offer: JsonObject) -> bool:
        """Only published offers can be changed by bulkUpdatePriceQuantity (ebay.md §4)."""
        return (bool(offer.get("offerId")) and offer.get("status") == "PUBLISHED"
                and offer.get("marketplaceId", self.marketplace_id) == self.marketplace_id
                and offer.get("format", FIXED_PRICE) == FIXED_PRICE)

    def _remember_listing(self, sku: str, offer: JsonObject) -> None:
        listing = (offer.get("listing") or {}).get("listingId")
        if listing:
            before = self._listing(sku)
            self.listings[sku] = str(listing)
            # Revisions counted under the provisional key move to the listing.
            if before != self.listings[sku]:
                self.revisions.at_least(self.listings[sku], self.revisions.of(before))

    async def _all_skus(self) -> list[str]:
        skus: list[str] = []
        page = 0
        while True:
            response = await self.session.call("GET", f"{BASE}/inventory_item",
                                               params={"limit": ITEMS_PAGE, "offset": page})
            assert response is not None
            body = json_body(response)
            skus += [str(i["sku"]) for i in body.get("inventoryItems") or [] if i.get("sku")]
            if not body.get("next"):
                return skus
            page += 1

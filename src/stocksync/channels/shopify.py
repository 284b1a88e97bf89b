"""Shopify connector: Admin GraphQL `inventorySetQuantities` with compare-and-set,
idempotency keys and cost-based throttling. Wire format: shopify.md in channels/ docs
(/work/shared/channels/shopify.md), cited below as "shopify.md §N".
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from stocksync.channels.base import (
    OrderPage,
    PushReport,
    QuantitySet,
    Rejected,
    Unavailable,
    note_level_time,
)
from stocksync.channels.facts import PlatformFacts
from stocksync.channels.shopify_inventory_wire import (
    CHECK_SHOP,
    LIST_VARIANTS,
    READ_LEVELS,
    SET_QUANTITIES,
    LevelEntry,
    available_after,
    created_before,
    location_gid,
    search_escape,
)
from stocksync.channels.shopify_order_messages import parse_time
from stocksync.channels.shopify_orders import ShopifyOrderReader
from stocksync.channels.shopify_throttle import (
    LEVEL_COST_PER_ITEM,
    MUTATION_COST,
    VARIANT_COST_PER_NODE,
    VARIANT_PAGE_OVERHEAD,
    CostTooHigh,
    ShopifyPacer,
    raise_for_status,
)
from stocksync.core.channel_rules import split_key
from stocksync.core.inbound import InboundMessage

JsonObject = dict[str, Any]  # JSON at the wire boundary

MAX_INPUT_ARRAY = 250  # Shopify caps every input array at 250 (shopify.md §2)
SKUS_PER_SEARCH = 50  # keeps `sku:a OR sku:b ...` search strings short
KEYS_REMEMBERED = 4096
SET_REASON = "correction"  # stocksync corrects the channel to the ledger's truth
# Compare-and-set lost: 2026-01+ (changeFromQuantity) and up to 2025-10 (compareQuantity).
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE", "COMPARE_QUANTITY_STALE"})
# A result created this long before we sent the request is a replay of an earlier attempt
# (createdAt has one-second resolution; allow some clock skew).
REPLAY_SLACK_S = 2.0
CONCURRENCY_VERSION = "2026-01"  # changeFromQuantity and @idempotent exist from here

def verify_webhook(secret: str, body: bytes, header_value: str) -> bool:
    """X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(client secret, raw body)) (shopify.md §6.3).
    During a secret rotation call this once per secret and accept either."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(base64.b64encode(digest), header_value.strip().encode())


class ShopifyConnector(PlatformFacts):
    """Pushes absolute `available` quantities of one location of one shop (or, for target
    keys `SKU@<location id>`, of each mapped location: core/channel_rules.py), and reads
    its orders back (FetchesOrders, PollsOrders: channels/shopify_orders.py).

    `locations`: Shopify location id -> stocksync location code, the channel settings'
    `location.<id>` entries (as the webhook parser reads them)."""

    kind: ClassVar[str] = "shopify"
    max_batch: ClassVar[int] = 250
    required_settings: ClassVar[tuple[str, ...]] = ("shop_url", "location_id")
    required_credentials: ClassVar[tuple[str, ...]] = ("access_token",)
    mapping_field: ClassVar[str | None] = "inventory_item_id"
    compare_and_set: ClassVar[bool] = True
    self_paced: ClassVar[bool] = True
    echoes_pushes: ClassVar[bool] = True
    order_poll_seconds: ClassVar[float] = ShopifyOrderReader.order_poll_seconds

    def __init__(self, client: httpx.AsyncClient, shop_url: str, access_token: str, *,
                 location_id: str, api_version: str = "2026-04",
                 mapping: Mapping[str, str] | None = None, key_namespace: str | None = None,
                 locations: Mapping[str, str] | None = None, order_page_size: int = 50,
                 legs: Sequence[str] = (),
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.endpoint = f"{shop_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self.location_id = location_gid(location_id)
        self.api_version = api_version
        # Mapped store locations (location_map.<id>): quantities are per `SKU@<id>` key.
        self.legs = tuple(legs)
        self.mapping: dict[str, str] = dict(mapping or {})  # sku -> InventoryItem GID
        self.pacer = ShopifyPacer(clock)
        self._headers = {"X-Shopify-Access-Token": access_token}
        self._sleep = sleep
        self._send_lock = asyncio.Lock()
        # Idempotency keys: see _idempotency_key. A random namespace per instance by default.
        self._key_namespace = uuid.uuid4().hex if key_namespace is None else key_namespace
        self._key_uses: OrderedDict[str, int] = OrderedDict()
        self.orders = ShopifyOrderReader(self._graphql, locations or {},
                                         page_size=order_page_size)

    # -- ChannelConnector --------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        report = PushReport()
        latest = {change.sku: change for change in changes}  # one entry per item per call
        entries: list[LevelEntry] = []
        for key, change in latest.items():
            if self.legs and split_key(key)[1] is None:
                # A pooled value (a reconciliation) would land on one location only.
                report.rejected[key] = ("this channel is set per store location "
                                        "(location_map): one quantity per SKU@<location>")
                continue
            sku, location_id = self._level_of(key)
            item_id = self.mapping.get(sku)
            if item_id is None:
                report.rejected[key] = "no Shopify inventory item is mapped to this SKU"
            else:
                entries.append(LevelEntry(key, item_id, change.quantity, change.known,
                                      location_id))
        for start in range(0, len(entries), MAX_INPUT_ARRAY):
            await self._push(entries[start:start + MAX_INPUT_ARRAY], report)
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        """Current `available` at the location (per key: the SKU's, or `SKU@<location>`'s);
        SKUs unmapped or not stocked are left out."""
        keys_by_level: dict[tuple[str, str], list[str]] = {}
        for key in skus:
            sku, leg = split_key(key)
            if sku not in self.mapping:
                continue
            # A bare SKU on a mapped channel: the sum over its store locations (what a
            # reconciliation compares with the pooled quantity).
            for location_id in ([location_gid(x) for x in self.legs] if self.legs and leg is
                                None else [self._level_of(key)[1]]):
                keys_by_level.setdefault((self.mapping[sku], location_id), []).append(key)
        times: dict[tuple[str, str], datetime] = {}
        levels = await self._read_available(list(keys_by_level), times)
        found: dict[str, int] = {}
        for level, qty in levels.items():
            for key in keys_by_level[level] if qty is not None else ():
                found[key] = found.get(key, 0) + qty
                if level in times:
                    note_level_time(key, times[level])
        return found

    def _level_of(self, key: str) -> tuple[str, str]:
        """A target key -> (SKU, Location GID): a mapped store location's, or the channel's."""
        sku, leg = split_key(key)
        return sku, (self.location_id if leg is None else location_gid(leg))

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        return await self.orders.fetch_orders(order_ids)

    async def poll_orders(self, cursor: str) -> OrderPage:
        return await self.orders.poll_orders(cursor)

    async def check_credentials(self) -> None:
        """ChecksCredentials: `shop { name }` (cost 1); a wrong or revoked token is a 401
        (https://shopify.dev/docs/api/admin-graphql, "Authentication")."""
        await self._graphql(CHECK_SHOP, {}, 1)

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]:
        """Page through product variants (all, or those with the given SKUs) and record
        sku -> InventoryItem GID in `mapping`. Returns what was found."""
        wanted = None if skus is None else set(skus)
        ordered = sorted(wanted or ())
        searches: list[str | None] = [None] if wanted is None else [
            " OR ".join(f'sku:"{search_escape(sku)}"' for sku in ordered[i:i + SKUS_PER_SEARCH])
            for i in range(0, len(ordered), SKUS_PER_SEARCH)]
        found: dict[str, str] = {}
        for search in searches:
            cursor: str | None = None
            while True:
                first = self.pacer.fit(VARIANT_COST_PER_NODE, VARIANT_PAGE_OVERHEAD)
                variables = {"first": first, "after": cursor, "query": search}
                cost = VARIANT_PAGE_OVERHEAD + first * VARIANT_COST_PER_NODE
                try:
                    data = await self._graphql(LIST_VARIANTS, variables, cost)
                except CostTooHigh:
                    if self.pacer.fit(VARIANT_COST_PER_NODE, VARIANT_PAGE_OVERHEAD) < first:
                        continue  # now we know the real bucket size: ask for a smaller page
                    raise
                page = data["productVariants"]
                for node in page["nodes"]:
                    sku = node.get("sku")
                    # Shopify's search is not an exact match: keep only the SKUs asked for.
                    if sku and (wanted is None or sku in wanted) and node.get("inventoryItem"):
                        found.setdefault(sku, node["inventoryItem"]["id"])
                if not page["pageInfo"]["hasNextPage"]:
                    break
                cursor = page["pageInfo"]["endCursor"]
        self.mapping.update(found)
        return found

    # -- pushing -------------------------------------------------------------------------------
    async def _push(self, entries: list[LevelEntry], report: PushReport) -> None:
        unknown = [e for e in entries if e.change_from is None]
        if unknown:
            await self._refresh(unknown)
        pending = list(entries)
        # Each round succeeds, drops rejected and stale entries, or confirms a replayed
        # result (at most once: the replayed key is retired).
        errors: list[JsonObject] = []
        for _ in range(len(entries) + 3):
            if not pending:
                return
            sent_at = datetime.now(UTC)
            payload = await self._mutate(pending)
            errors = payload.get("userErrors") or []
            if not errors:
                if created_before(payload, sent_at - timedelta(seconds=REPLAY_SLACK_S)):
                    pending = await self._confirm_replay(pending, report)
                    continue
                after = available_after(payload)
                for entry in pending:
                    report.acknowledged[entry.sku] = after.get(entry.level, entry.quantity)
                return
            stale = self._sort_user_errors(errors, pending, report)
            if stale:
                await self._report_changed([e for e in pending if e.sku in stale], report)
            # One stale entry fails the whole call (shopify.md §3.1): send the rest again.
            pending = [e for e in pending
                       if e.sku not in report.rejected and e.sku not in stale]
        raise Unavailable(f"inventorySetQuantities did not settle: {errors[:3]}")

    async def _report_changed(self, entries: list[LevelEntry], report: PushReport) -> None:
        """Compare-and-set lost (shopify.md §3.1): Shopify's stock moved since `known`, most
        likely a sale whose orders/create stocksync has not counted yet. Setting stocksync's
        value over it would erase that sale, so report what Shopify shows now and let the
        pusher wait for the order that explains it."""
        report.changed_read_at = datetime.now(UTC)  # sales before it are in what is read
        times: dict[tuple[str, str], datetime] = {}
        current = await self._read_available([e.level for e in entries], times)
        for entry in entries:
            value = current.get(entry.level)
            if value is None:
                report.rejected[entry.sku] = "the item is not stocked at this Shopify location"
            else:
                # Even when it equals stocksync's value it is reported, not acknowledged:
                # it was read, not set, and may include a sale whose order comes later.
                report.changed[entry.sku] = value
                if entry.level in times:
                    report.changed_as_of[entry.sku] = times[entry.level]

    async def _confirm_replay(self, pending: list[LevelEntry],
                              report: PushReport) -> list[LevelEntry]:
        """Shopify answered with the stored result of an earlier attempt under this key.
        Usually that is our own unacknowledged attempt (a retry after a timeout), but with a
        namespace that survives restarts it can be an older push of identical content
        (stock went 5 -> 3 and is being set to 5 again from 3): then nothing happened now.
        One read tells which; entries not at their value are pushed again under a new key,
        still compared with the value stocksync expects (never with what Shopify shows now:
        when our own attempt was applied and Shopify sold since, that would set the sold
        units back; the comparison fails instead and the sale waits for its order)."""
        current = await self._read_available([e.level for e in pending])
        again: list[LevelEntry] = []
        for entry in pending:
            if current.get(entry.level) == entry.quantity:
                report.acknowledged[entry.sku] = entry.quantity
            else:
                again.append(entry)
        return again

    def _sort_user_errors(self, errors: list[JsonObject], pending: list[LevelEntry],
                          report: PushReport) -> set[str]:
        """Reject the entries Shopify refused for good; return the SKUs that were stale."""
        stale: set[str] = set()
        for error in errors:
            code, path = error.get("code"), error.get("field") or []
            index = int(path[2]) if len(path) > 2 and str(path[2]).isdigit() else None
            if code == "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED":
                continue  # the key was retired in _mutate; the next round uses a fresh one
            if code == "IDEMPOTENCY_CONCURRENT_REQUEST":
                raise Unavailable("the same push is still running at Shopify")
            if index is None or index >= len(pending):
                raise Rejected(f"inventorySetQuantities refused the batch: {code}", errors)
            if code in STALE_CODES:
                stale.add(pending[index].sku)
            else:
                report.rejected[pending[index].sku] = f"{code}: {error.get('message')}"
        return stale

    async def _mutate(self, entries: list[LevelEntry]) -> JsonObject:
        concurrency = self.api_version >= CONCURRENCY_VERSION or self.api_version == "unstable"
        quantities: list[JsonObject] = []
        for entry in entries:
            quantity: JsonObject = {"inventoryItemId": entry.item_id,
                                    "locationId": entry.location_id,
                                    "quantity": entry.quantity}
            # 2026-01+: changeFromQuantity (null = no check); older: compareQuantity.
            quantity["changeFromQuantity" if concurrency else "compareQuantity"] = (
                entry.change_from)
            quantities.append(quantity)
        content = json.dumps([self._key_namespace, self.endpoint, quantities], sort_keys=True)
        key = self._idempotency_key(content)
        directive = f' @idempotent(key: "{key}")' if concurrency else ""
        set_input: JsonObject = {"name": "available", "reason": SET_REASON,
                                 "referenceDocumentUri": f"gid://stocksync/ChannelPush/{key}",
                                 "quantities": quantities}
        data = await self._graphql(SET_QUANTITIES % {"directive": directive},
                                   {"input": set_input}, MUTATION_COST)
        payload: JsonObject = data["inventorySetQuantities"]
        codes = {e.get("code") for e in payload.get("userErrors") or []}
        if "IDEMPOTENCY_CONCURRENT_REQUEST" not in codes:
            self._retire_key(content)  # Shopify has a result for this key now
        return payload

    def _idempotency_key(self, content: str) -> str:
        """Same batch content -> same key, so a retry after a timeout or 5xx (whose first
        attempt may have been applied) is deduplicated by Shopify (shopify.md §3.4). Once a
        key got a definitive answer it is retired: an identical batch pushed later is a new
        operation (stock went 3 -> 5 -> 3 -> 5) and must not be answered from the old result.
        The per-instance namespace stops a restarted process from reusing old keys; a retry
        across a restart is then re-applied, which compare-and-set makes harmless."""
        uses = self._key_uses.get(content, 0)
        digest = hashlib.sha256(f"{uses}:{content}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=5))

    def _retire_key(self, content: str) -> None:
        self._key_uses[content] = self._key_uses.get(content, 0) + 1
        self._key_uses.move_to_end(content)
        while len(self._key_uses) > KEYS_REMEMBERED:
            self._key_uses.popitem(last=False)

    async def _refresh(self, entries: list[LevelEntry]) -> None:
        current = await self._read_available([e.level for e in entries])
        for entry in entries:
            entry.change_from = current.get(entry.level)  # None: not stocked -> Shopify says

    # -- reading -------------------------------------------------------------------------------
    async def _read_available(self, wanted: list[tuple[str, str]],
                              times: dict[tuple[str, str], datetime] | None = None,
                              ) -> dict[tuple[str, str], int | None]:
        """`available` per (InventoryItem GID, Location GID): one query per location.
        `times` gets each level's `updatedAt` where Shopify gives it: every change to the
        level up to then is in the value read, none after it."""
        by_location: dict[str, list[str]] = {}
        for item_id, location_id in wanted:
            by_location.setdefault(location_id, []).append(item_id)
        levels: dict[tuple[str, str], int | None] = {}
        changed: dict[str, datetime] = {}
        for location_id, item_ids in by_location.items():
            changed.clear()
            for item_id, value in (await self._read_at(item_ids, location_id,
                                                       changed)).items():
                levels[(item_id, location_id)] = value
                if times is not None and item_id in changed:
                    times[(item_id, location_id)] = changed[item_id]
        return levels

    async def _read_at(self, item_ids: list[str], location_id: str,
                       changed: dict[str, datetime]) -> dict[str, int | None]:
        levels: dict[str, int | None] = {}
        start = 0
        while start < len(item_ids):
            size = self.pacer.fit(LEVEL_COST_PER_ITEM, 0)
            batch = item_ids[start:start + size]
            variables = {"ids": batch, "locationId": location_id}
            try:
                data = await self._graphql(READ_LEVELS, variables,
                                           len(batch) * LEVEL_COST_PER_ITEM)
            except CostTooHigh:
                if self.pacer.fit(LEVEL_COST_PER_ITEM, 0) < size:
                    continue
                raise
            for item_id, node in zip(batch, data["nodes"], strict=True):
                level = (node or {}).get("inventoryLevel")
                available = None if not level else next(
                    (q for q in level["quantities"] if q["name"] == "available"), None)
                levels[item_id] = None if available is None else available["quantity"]
                at = parse_time((available or {}).get("updatedAt"))
                if at is not None:
                    changed[item_id] = at
            start += len(batch)
        return levels

    # -- transport -----------------------------------------------------------------------------
    async def _graphql(self, query: str, variables: JsonObject, cost: int) -> JsonObject:
        """POST one operation, waiting first if the estimated bucket cannot cover `cost`."""
        async with self._send_lock:
            wait = self.pacer.wait_for(cost)
            if wait > 0:
                await self._sleep(wait)
            self.pacer.spend(cost)
        try:
            response = await self.client.post(self.endpoint, headers=self._headers,
                                              json={"query": query, "variables": variables})
        except httpx.TimeoutException as exc:
            raise Unavailable(f"Shopify timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"Shopify unreachable: {exc!r}") from exc
        finally:
            self.pacer.settle(cost)
        return raise_for_status(response, self.pacer)

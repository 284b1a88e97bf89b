"""Square connector: absolute IN_STOCK counts of one location, written as PHYSICAL_COUNT
changes with BatchChangeInventory, read back with BatchRetrieveInventoryCounts; SKUs are
mapped to ITEM_VARIATION ids by SearchCatalogObjects. Sales and restocked returns made at
Square come back as orders (PollsOrders, FetchesOrders: square_order_reader.py and
square_orders.py); each count is stamped so that Square keeps applying its own later sales
on top of it (square_stamps.py). Wire format: square.md in the channels docs
(/work/shared/channels/square.md), cited below as "square.md §N".

Why PHYSICAL_COUNT and not ADJUSTMENT: stocksync is the source of truth and always knows the
absolute value it wants. An adjustment is a delta computed from a value read earlier; Square
has no compare-and-set (square.md §3), so a sale landing between our read and our write would
be counted twice or lost, and a replayed or duplicated adjustment applies twice. A physical
count says "there are N", so sending it again is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import ClassVar

import httpx

from stocksync.channels.base import OrderPage, PushReport, QuantitySet, Rejected, Unavailable
from stocksync.channels.facts import PlatformFacts
from stocksync.channels.square_order_reader import SquareOrderReader
from stocksync.channels.square_pacing import (
    DEFAULT_BURST,
    DEFAULT_REQUESTS_PER_SECOND,
    JsonObject,
    SquarePacer,
    codes_of,
    errors_of,
    raise_for_status,
)
from stocksync.channels.square_stamps import CountStamps
from stocksync.core.inbound import InboundMessage

PRODUCTION_URL = "https://connect.squareup.com"
SANDBOX_URL = "https://connect.squareupsandbox.com"
DEFAULT_SQUARE_VERSION = "2026-08-19"  # what the official Python SDK pins (square.md §1)
BATCH_CHANGE = "/v2/inventory/changes/batch-create"
BATCH_COUNTS = "/v2/inventory/counts/batch-retrieve"
CATALOG_SEARCH = "/v2/catalog/search"
MAX_CHANGES = 100  # BatchChangeInventory: "Max size is 100 changes" (square.md §3)
READ_PAGE_LIMIT = 1000  # BatchRetrieveInventoryCounts `limit`: 1..1000 (square.md §4)
# No published cap on catalog_object_ids / attribute_values: keep each request modest.
IDS_PER_READ = 500
SKUS_PER_SEARCH = 100
SEARCH_PAGE_LIMIT = 1000  # SearchCatalogObjects ignores a limit above 1,000
PENDING_REMEMBERED = 4096
# A retry re-sends the first attempt's body (same occurred_at) so Square sees the same key
# with the same request. After this long we send a fresh one: occurred_at may not be older
# than 24 hours (square.md §3) and Square's key retention is unpublished.
REPLAY_WINDOW_S = 3600.0
MAX_ROUNDS = 4  # each round drops refused changes or swaps a reused key
CHANGE_INDEX = re.compile(r"changes\[(\d+)\]")
# Refusals that are about the channel's setup or this host, not about one SKU.
SETUP_FIELDS = (".location_id", ".occurred_at", ".state")


@dataclass(frozen=True, slots=True)
class _Entry:
    sku: str
    object_id: str
    quantity: int
    as_of: datetime | None = None  # QuantitySet.as_of: Square's own changes included


class SquareConnector(PlatformFacts):
    """Pushes absolute IN_STOCK quantities of one location of one Square seller."""

    kind: ClassVar[str] = "square"
    max_batch: ClassVar[int] = MAX_CHANGES
    required_settings: ClassVar[tuple[str, ...]] = ("location_id",)
    required_credentials: ClassVar[tuple[str, ...]] = ("access_token",)
    mapping_field: ClassVar[str | None] = "catalog_object_id"
    self_paced: ClassVar[bool] = True
    echoes_pushes: ClassVar[bool] = True
    # Square publishes no numeric rate limit (square.md §5): one search every 30 s is a
    # small share of the budget the pacer keeps, and till sales arrive within it.
    order_poll_seconds: ClassVar[float] = 30.0

    def __init__(self, client: httpx.AsyncClient, base_url: str, access_token: str, *,
                 location_id: str, square_version: str = DEFAULT_SQUARE_VERSION,
                 mapping: Mapping[str, str] | None = None, key_namespace: str | None = None,
                 requests_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
                 burst: float = DEFAULT_BURST,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.location_id = location_id
        self.mapping: dict[str, str] = dict(mapping or {})  # sku -> ITEM_VARIATION id
        self.ambiguous: dict[str, list[str]] = {}  # SKUs several variations carry
        # Variations whose inventory Square does not track: their sales move no stock there.
        self.untracked: set[str] = set()
        self.stamps = CountStamps()
        self.orders = SquareOrderReader(self._post_json, location_id, self.mapping,
                                        self.untracked)
        self.pacer = SquarePacer(requests_per_second, burst, clock, sleep)
        self._headers = {"Authorization": f"Bearer {access_token}",
                         "Square-Version": square_version, "Accept": "application/json"}
        self._clock = clock
        # Idempotency keys: see _request. A random namespace per instance by default.
        self._key_namespace = uuid.uuid4().hex if key_namespace is None else key_namespace
        self._pending: OrderedDict[str, tuple[list[str], float]] = OrderedDict()

    # -- ChannelConnector --------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        report = PushReport()
        entries: list[_Entry] = []
        for sku, change in {c.sku: c for c in changes}.items():  # the last value per SKU
            object_id = self.mapping.get(sku)
            if object_id is not None:
                entries.append(_Entry(sku, object_id, change.quantity, change.as_of))
            elif sku in self.ambiguous:
                report.rejected[sku] = (f"{len(self.ambiguous[sku])} Square item variations "
                                        f"have this SKU: {', '.join(self.ambiguous[sku])}")
            else:
                report.rejected[sku] = "no Square item variation is mapped to this SKU"
        for start in range(0, len(entries), MAX_CHANGES):
            await self._push(entries[start:start + MAX_CHANGES], report)
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        """IN_STOCK at the location. SKUs Square has no variation for are left out; a mapped
        variation without a count there has never been stocked there: 0."""
        wanted = list(dict.fromkeys(skus))
        unmapped = [s for s in wanted if s not in self.mapping and s not in self.ambiguous]
        if unmapped:
            await self.discover_mapping(unmapped)
        skus_by_object: dict[str, list[str]] = {}
        for sku in wanted:
            if sku in self.mapping:
                skus_by_object.setdefault(self.mapping[sku], []).append(sku)
        counts = await self._read_in_stock(list(skus_by_object))
        return {sku: counts.get(object_id, 0)
                for object_id, mapped in skus_by_object.items() for sku in mapped}

    async def check_credentials(self) -> None:
        """ChecksCredentials: one count at the location (BatchRetrieveInventoryCounts,
        limit 1), under the INVENTORY_READ scope the connector needs anyway (ListLocations
        would need MERCHANT_PROFILE_READ, which it does not). A wrong token is a 401
        UNAUTHORIZED, a missing scope a 403 INSUFFICIENT_SCOPES (square.md §1)."""
        await self._post_json("/v2/inventory/counts/batch-retrieve",
                              {"location_ids": [self.location_id], "limit": 1})

    # -- PollsOrders / FetchesOrders ----------------------------------------------------------
    async def poll_orders(self, cursor: str) -> OrderPage:
        """Orders of the location updated since `cursor` (SearchOrders by updated_at)."""
        return await self.orders.poll(cursor)

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        """The orders an order.created/updated webhook named (BatchRetrieveOrders)."""
        return await self.orders.fetch(order_ids)

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]:
        """Search ITEM_VARIATIONs (all, or those with the given SKUs) and record
        sku -> variation id in `mapping`. Square lets several variations share a SKU: such
        SKUs are left out and listed in `ambiguous`, and pushes to them are rejected."""
        wanted = None if skus is None else set(skus)
        ordered = sorted(wanted or ())
        queries: list[JsonObject | None] = [None] if wanted is None else [
            {"set_query": {"attribute_name": "sku",
                           "attribute_values": ordered[i:i + SKUS_PER_SEARCH]}}
            for i in range(0, len(ordered), SKUS_PER_SEARCH)]
        ids_by_sku: dict[str, set[str]] = {}
        for query in queries:
            async for variation in self._search_variations(query):
                data = variation.get("item_variation_data") or {}
                sku = data.get("sku")
                # The search matches case-insensitively; stocksync SKUs are exact.
                if isinstance(sku, str) and sku and (wanted is None or sku in wanted):
                    ids_by_sku.setdefault(sku, set()).add(str(variation["id"]))
                    self._note_tracking(variation)
        found = {sku: next(iter(ids)) for sku, ids in ids_by_sku.items() if len(ids) == 1}
        for sku, ids in ids_by_sku.items():
            if len(ids) > 1:
                self.ambiguous[sku] = sorted(ids)
                self.mapping.pop(sku, None)
        for sku in found:
            self.ambiguous.pop(sku, None)
        self.mapping.update(found)
        return found

    def _note_tracking(self, variation: JsonObject) -> None:
        """track_inventory of the variation, overridden per location (CatalogItemVariation
        `track_inventory`, `location_overrides[].track_inventory`)."""
        data = variation.get("item_variation_data") or {}
        tracked = data.get("track_inventory") is not False
        for override in data.get("location_overrides") or []:
            if (isinstance(override, dict) and override.get("location_id") == self.location_id
                    and isinstance(override.get("track_inventory"), bool)):
                tracked = override["track_inventory"]
        if tracked:
            self.untracked.discard(str(variation["id"]))
        else:
            self.untracked.add(str(variation["id"]))

    # -- pushing -------------------------------------------------------------------------------
    async def _push(self, entries: list[_Entry], report: PushReport) -> None:
        pending = sorted(entries, key=lambda e: (e.object_id, e.sku))
        unknown = sorted({e.object_id for e in pending if e.as_of is not None
                          and not self.stamps.known(e.object_id)})
        if unknown:
            # First count of these items in this process: never stamp one older than the
            # count already at Square (square_stamps.py), e.g. ours from before a restart.
            now = datetime.now(UTC)
            for object_id, moment in (await self.orders.latest_counts(unknown, now)).items():
                self.stamps.learn(object_id, moment)
        for _ in range(MAX_ROUNDS):
            if not pending:
                return
            content, request, retry = self._request(pending)
            status, body = await self._post(BATCH_CHANGE, request, batch_errors=True)
            self._pending.pop(content, None)  # answered: an equal push later is a new one
            if status < 300:
                after = self._in_stock(body.get("counts"))
                if retry:
                    # Possibly Square's stored answer to the attempt we lost, with the counts
                    # of that moment; what is there now may differ (a sale since then).
                    after = await self._read_in_stock([e.object_id for e in pending])
                for entry in pending:
                    report.acknowledged[entry.sku] = after.get(entry.object_id, entry.quantity)
                return
            if "IDEMPOTENCY_KEY_REUSED" in codes_of(body):
                # Another process with this namespace used the key for another body; the
                # next round's fresh occurred_at makes a fresh key.
                continue
            for index, reason in self._refused(body, pending).items():
                report.rejected[pending[index].sku] = reason
            pending = [e for e in pending if e.sku not in report.rejected]
        raise Unavailable("BatchChangeInventory did not settle")

    def _request(self, entries: list[_Entry]) -> tuple[str, JsonObject, bool]:
        """The request for `entries`, the content it is remembered by, and whether it
        repeats an attempt that got no answer.

        The idempotency key is a hash of the namespace and the exact request (changes with
        their occurred_at), so one key never names two different bodies - Square refuses that
        with IDEMPOTENCY_KEY_REUSED. A push that failed without an answer (timeout, 5xx,
        429) is sent again with the first attempt's occurred_at, so the retry has the same
        key and body and Square applies it once. Once Square answers, the content is
        forgotten: the same values pushed later (stock went 3 -> 5 -> 3) get a new time and
        so a new key, instead of being swallowed as a replay.
        """
        content = json.dumps([self.location_id, [
            (e.object_id, e.quantity, e.as_of and _rfc3339(e.as_of)) for e in entries]])
        now = self._clock()
        first = self._pending.get(content)
        retry = first is not None and now - first[1] <= REPLAY_WINDOW_S
        if first is None or not retry:
            moment = datetime.now(UTC)
            stamps = [_rfc3339(self.stamps.stamp(e.object_id, e.as_of, moment))
                      for e in entries]
            first = (stamps, now)
            self._pending[content] = first
            self._pending.move_to_end(content)
            while len(self._pending) > PENDING_REMEMBERED:
                self._pending.popitem(last=False)
        counts = [{"catalog_object_id": e.object_id, "state": "IN_STOCK",
                   "location_id": self.location_id, "quantity": str(e.quantity),
                   "occurred_at": stamp} for e, stamp in zip(entries, first[0], strict=True)]
        digest = hashlib.sha256(json.dumps([self._key_namespace, self.base_url, counts],
                                           sort_keys=True).encode()).digest()
        key = str(uuid.UUID(bytes=digest[:16], version=5))
        return content, {
            "idempotency_key": key,
            "changes": [{"type": "PHYSICAL_COUNT",
                         "physical_count": {**count, "reference_id": f"stocksync-{key}"}}
                        for count in counts],
            # Default true skips a count equal to the last physical count even when sales
            # moved stock since (square.md §3): pushing 5 after "5, then 2 sold" would leave
            # 3. stocksync's value must win, so every count is applied.
            "ignore_unchanged_counts": False,
        }, retry

    def _refused(self, body: JsonObject, pending: list[_Entry]) -> dict[int, str]:
        """Which changes Square refused, by index; raises Rejected when the refusal is about
        the whole batch (the location, the clock, a bug) rather than particular SKUs."""
        errors = errors_of(body)
        refused: dict[int, str] = {}
        for err in errors:
            code, field = str(err.get("code")), str(err.get("field") or "")
            detail = str(err.get("detail") or "")
            match = CHANGE_INDEX.search(field)
            index = int(match.group(1)) if match else next(
                (i for i, e in enumerate(pending) if e.object_id in detail), None)
            if index is None or index >= len(pending) or field.endswith(SETUP_FIELDS):
                raise Rejected(f"BatchChangeInventory refused the batch: {code} {field} "
                               f"{detail}", errors)
            reason = f"{code}: {detail}"
            refused[index] = f"{refused[index]}; {reason}" if index in refused else reason
        if not refused:
            raise Rejected("BatchChangeInventory refused the batch without errors", body)
        return refused

    # -- reading -------------------------------------------------------------------------------
    async def _read_in_stock(self, object_ids: list[str]) -> dict[str, int]:
        counts: dict[str, int] = {}
        for start in range(0, len(object_ids), IDS_PER_READ):
            request: JsonObject = {"catalog_object_ids": object_ids[start:start + IDS_PER_READ],
                                   "location_ids": [self.location_id], "states": ["IN_STOCK"],
                                   "limit": READ_PAGE_LIMIT}
            while True:
                _, page = await self._post(BATCH_COUNTS, request)
                counts.update(self._in_stock(page.get("counts")))
                cursor = page.get("cursor")
                if not cursor:
                    break
                request = {**request, "cursor": cursor}
        return counts

    def _in_stock(self, counts: object) -> dict[str, int]:
        found: dict[str, int] = {}
        for count in counts if isinstance(counts, list) else []:
            if (isinstance(count, dict) and count.get("state") == "IN_STOCK"
                    and count.get("location_id") == self.location_id):
                found[str(count.get("catalog_object_id"))] = _whole(count.get("quantity"))
        return found

    async def _search_variations(self, query: JsonObject | None
                                 ) -> AsyncIterator[JsonObject]:
        request: JsonObject = {"object_types": ["ITEM_VARIATION"],
                               "include_deleted_objects": False, "limit": SEARCH_PAGE_LIMIT}
        if query is not None:
            request["query"] = query
        while True:
            _, page = await self._post(CATALOG_SEARCH, request)
            for obj in page.get("objects") or []:  # left out when nothing matched
                if (isinstance(obj, dict) and obj.get("type") == "ITEM_VARIATION"
                        and not obj.get("is_deleted") and obj.get("id")):
                    yield obj
            cursor = page.get("cursor")
            if not cursor:
                return
            request = {**request, "cursor": cursor}

    # -- transport -----------------------------------------------------------------------------
    async def _post_json(self, path: str, body: JsonObject) -> JsonObject:
        return (await self._post(path, body))[1]

    async def _post(self, path: str, body: JsonObject, *, batch_errors: bool = False
                    ) -> tuple[int, JsonObject]:
        """POST once the pacer allows; the one place where failures become ChannelErrors."""
        await self.pacer.acquire()
        try:
            response = await self.client.post(f"{self.base_url}{path}", json=body,
                                              headers=self._headers)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"Square timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"Square unreachable: {exc!r}") from exc
        return raise_for_status(response, self.pacer, batch_errors=batch_errors)


def _whole(quantity: object) -> int:
    """Square's decimal string as whole sellable units, rounded down: 2.5 kg of something
    sold by the kilo is 2 whole units, and rounding up could oversell."""
    try:
        number = Decimal(str(quantity))
    except InvalidOperation as exc:
        raise Unavailable(f"Square sent an unreadable quantity {quantity!r}") from exc
    if not number.is_finite():
        raise Unavailable(f"Square sent an unreadable quantity {quantity!r}")
    return int(number.to_integral_value(rounding=ROUND_FLOOR))


def _rfc3339(moment: datetime) -> str:
    # Microseconds: Square orders changes by occurred_at, so a sale stamped a fraction of a
    # millisecond before our count must not look later than it (RFC 3339 allows any digits).
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")

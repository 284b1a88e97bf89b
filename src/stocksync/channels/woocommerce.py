"""WooCommerce connector: REST v3 batch endpoints for product and variation stock.
Wire format: woocommerce.md in the channels docs (/work/shared/channels/woocommerce.md),
cited below as "woocommerce.md §N".

WooCommerce addresses stock by post id, and a variation only under its parent product, so
`mapping` holds per SKU one of (the pusher stores it as the channel's external id):

    "<product id>"                         a product with its own stock
    "<parent product id>/<variation id>"   a variation

Writes are absolute (`stock_quantity` with `manage_stock: true`; WooCommerce ignores a
quantity while stock is not managed) through `POST /products/batch` and
`POST /products/{id}/variations/batch`, at most 100 objects each; the batch is not atomic
and reports per-item errors inline with HTTP 200 (§3). There is no compare-and-set nor
idempotency key (§2): a repeated absolute set is harmless, and writes are serialised here.

Orders come in by webhook (stocksync.ingest.woocommerce) and, as a safety net, by polling
`GET /orders` (PollsOrders) or reading named orders (FetchesOrders): see
woocommerce_order_reader.py; what an order means for stock is in woocommerce_orders.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from stocksync.channels import woocommerce_order_reader as orders
from stocksync.channels.base import OrderPage, PushReport, QuantitySet, Rejected, Unavailable
from stocksync.channels.facts import PlatformFacts
from stocksync.channels.woocommerce_pacing import BatchTooLarge, WooCommercePacer, raise_for_status
from stocksync.core.inbound import InboundMessage

JsonObject = dict[str, Any]  # JSON at the wire boundary

API_PATH = "/wp-json/wc/v3"
BATCH_LIMIT = 100  # create+update+delete per batch request, plugin default (§3)
PER_PAGE = 100  # WordPress caps per_page at 100 (§1)
SKUS_PER_SEARCH = 40  # the `sku` filter takes a comma-separated list; keep URLs short
INVALID_ID_SUFFIX = "_invalid_id"  # woocommerce_rest_product(_variation)_invalid_id


@dataclass(frozen=True, slots=True)
class ItemRef:
    """Where a SKU's stock is written: a product, or a variation under its parent."""

    product_id: int
    variation_id: int | None = None

    @classmethod
    def parse(cls, value: str | None) -> ItemRef | None:
        head, _, tail = (value or "").partition("/")
        if not head.isdigit() or (tail and not tail.isdigit()):
            return None
        return cls(int(head), int(tail) if tail else None)

    @classmethod
    def of(cls, row: JsonObject, parent_id: int | None = None) -> ItemRef | None:
        """From a product or variation representation. A variation found through the `sku`
        filter of GET /products carries its parent in `parent_id`."""
        item_id = row.get("id")
        if not _is_int(item_id) or item_id <= 0:
            return None
        if parent_id is None and row.get("type") != "variation":
            return cls(item_id)
        parent = parent_id if parent_id is not None else row.get("parent_id")
        return cls(parent, item_id) if _is_int(parent) and parent > 0 else None

    @property
    def item_id(self) -> int:
        return self.product_id if self.variation_id is None else self.variation_id

    @property
    def batch_path(self) -> str:
        if self.variation_id is None:
            return "/products/batch"
        return f"/products/{self.product_id}/variations/batch"

    def __str__(self) -> str:
        if self.variation_id is None:
            return str(self.product_id)
        return f"{self.product_id}/{self.variation_id}"


@dataclass(frozen=True, slots=True)
class _Update:
    sku: str
    item_id: int
    quantity: int


class WooCommerceConnector(PlatformFacts):
    """Pushes absolute stock quantities of products and variations of one store, and reads
    its orders back (PollsOrders, FetchesOrders)."""

    kind: ClassVar[str] = "woocommerce"
    max_batch: ClassVar[int] = BATCH_LIMIT
    required_settings: ClassVar[tuple[str, ...]] = ("store_url",)
    required_credentials: ClassVar[tuple[str, ...]] = ("consumer_key", "consumer_secret")
    mapping_field: ClassVar[str | None] = "product_id"
    self_paced: ClassVar[bool] = True
    echoes_pushes: ClassVar[bool] = True
    order_poll_seconds: ClassVar[float] = orders.ORDER_POLL_SECONDS

    def __init__(self, client: httpx.AsyncClient, store_url: str, consumer_key: str,
                 consumer_secret: str, *, credentials_in_query: bool = False,
                 batch_limit: int = BATCH_LIMIT, requests_per_second: float | None = None,
                 mapping: Mapping[str, str] | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.base_url = api_base(store_url)
        self.mapping: dict[str, str] = dict(mapping or {})  # sku -> "pid" or "pid/vid"
        # A merchant may lower the limit with woocommerce_rest_batch_items_limit; a 413
        # tells us the real one (see _push_group).
        self.batch_limit = max(1, batch_limit)
        self.pacer = WooCommercePacer(clock=clock, sleep=sleep, min_interval=(
            1.0 / requests_per_second if requests_per_second else 0.0))
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        # Query-string keys are for servers that strip Authorization (§1); they end up in
        # access logs, so Basic is the default.
        self._credentials_in_query = credentials_in_query
        self._write_lock = asyncio.Lock()

    # -- ChannelConnector --------------------------------------------------------------------
    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        report = PushReport()
        groups = self._group({c.sku: c.quantity for c in changes}, report)
        # No compare-and-set in WooCommerce: two of our own writes racing could leave the
        # older value last, so one write at a time.
        async with self._write_lock:
            stale = await self._push_groups(groups, report)
            if stale:
                # Deleted, or deleted and re-created under a new id (a catalog re-import):
                # look those SKUs up again and retry once under their new ids.
                moved = await self.discover_mapping([u.sku for u in stale])
                again = {u.sku: u.quantity for u in stale if u.sku in moved}
                for sku in again:
                    del report.rejected[sku]
                await self._push_groups(self._group(again, report), report)
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        """Current stock by SKU (products and variations); SKUs WooCommerce does not know,
        or whose stock it does not manage, are left out."""
        quantities: dict[str, int] = {}
        for sku, row in (await self._search_skus(skus)).items():
            ref = ItemRef.of(row)
            if ref is not None:
                self.mapping[sku] = str(ref)
            value = _quantity(row.get("stock_quantity"))
            # "parent": the variation shows (and sells from) its parent's stock (§2).
            if row.get("manage_stock") in (True, "parent") and value is not None:
                quantities[sku] = value
        return quantities

    async def check_credentials(self) -> None:
        """ChecksCredentials: one product (GET /products?per_page=1), a read the key needs
        anyway; a wrong key or secret is a 401 woocommerce_rest_authentication_error
        (woocommerce.md §1)."""
        await self._call("GET", "/products", params={"per_page": "1"})

    # -- PollsOrders / FetchesOrders ----------------------------------------------------------
    async def poll_orders(self, cursor: str) -> OrderPage:
        return await orders.poll_orders(self._call, cursor)

    async def fetch_orders(self, order_ids: Sequence[str]) -> list[InboundMessage]:
        return await orders.fetch_orders(self._call, order_ids)

    async def discover_mapping(self, skus: Sequence[str] | None = None) -> dict[str, str]:
        """Find the products and variations with the given SKUs (or the whole catalog) and
        record sku -> "pid" / "pid/vid" in `mapping`. Returns what was found."""
        if skus is None:
            found = await self._scan_catalog()
        else:
            found = {sku: str(ref) for sku, row in (await self._search_skus(skus)).items()
                     if (ref := ItemRef.of(row)) is not None}
        self.mapping.update(found)
        return found

    # -- pushing -------------------------------------------------------------------------------
    def _group(self, quantities: dict[str, int], report: PushReport
               ) -> dict[str, list[_Update]]:
        """Updates per batch endpoint: one for products, one per variable product."""
        groups: dict[str, list[_Update]] = {}
        for sku, quantity in quantities.items():
            ref = ItemRef.parse(self.mapping.get(sku))
            if ref is None:
                report.rejected[sku] = "no WooCommerce product or variation is mapped to this SKU"
            else:
                groups.setdefault(ref.batch_path, []).append(_Update(sku, ref.item_id, quantity))
        return groups

    async def _push_groups(self, groups: dict[str, list[_Update]], report: PushReport
                           ) -> list[_Update]:
        """Push every group in batches; returns the updates refused for an unknown id."""
        stale: list[_Update] = []
        for path, updates in groups.items():
            start = 0
            while start < len(updates):
                chunk = updates[start:start + self.batch_limit]
                payload = {"update": [{"id": u.item_id, "stock_quantity": u.quantity,
                                       "manage_stock": True} for u in chunk]}
                try:
                    body, _ = await self._call("POST", path, json=payload)
                except BatchTooLarge as exc:
                    if exc.limit is None or exc.limit >= len(chunk):
                        raise
                    self.batch_limit = max(1, exc.limit)  # the store's limit: split again
                    continue
                stale += self._read_batch(chunk, body, report)
                start += len(chunk)
        return stale

    def _read_batch(self, chunk: list[_Update], body: object, report: PushReport
                    ) -> list[_Update]:
        """Results come in request order; failed ones are {"id", "error"} (§3). An update
        missing from the answer is left out of the report, so the pusher sends it again.
        Returns the updates WooCommerce refused because the id no longer exists."""
        results = body.get("update") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise Unavailable("WooCommerce answered the batch without an update list")
        by_id = {r["id"]: r for r in reversed(results) if isinstance(r, dict) and "id" in r}
        stale: list[_Update] = []
        for index, update in enumerate(chunk):
            result = results[index] if index < len(results) else None
            if not isinstance(result, dict) or result.get("id") != update.item_id:
                result = by_id.get(update.item_id)
            if result is None:
                continue
            error = result.get("error")
            if isinstance(error, dict):
                code = str(error.get("code") or "error")
                report.rejected[update.sku] = f"{code}: {error.get('message') or ''}".strip()
                if code.endswith(INVALID_ID_SUFFIX):
                    self.mapping.pop(update.sku, None)
                    stale.append(update)
                continue
            value = _quantity(result.get("stock_quantity"))
            if result.get("manage_stock") is not True or value is None:
                report.rejected[update.sku] = "WooCommerce did not keep stock managed"
                continue
            report.acknowledged[update.sku] = value
        return stale

    # -- reading -------------------------------------------------------------------------------
    async def _search_skus(self, skus: Sequence[str]) -> dict[str, JsonObject]:
        """GET /products?sku=a,b,c matches products AND variations (a variation comes with
        its parent_id). The filter splits on commas, so a SKU containing one is searched
        alone; it also matches case-insensitively, so only exact SKUs are kept."""
        wanted = {sku for sku in skus if sku}
        plain = sorted(sku for sku in wanted if "," not in sku)
        searches = [",".join(plain[i:i + SKUS_PER_SEARCH])
                    for i in range(0, len(plain), SKUS_PER_SEARCH)]
        searches += sorted(sku for sku in wanted if "," in sku)
        found: dict[str, JsonObject] = {}
        for search in searches:
            async for row in self._pages("/products", {"sku": search}):
                sku = row.get("sku")
                if isinstance(sku, str) and sku in wanted:
                    found.setdefault(sku, row)
        return found

    async def _scan_catalog(self) -> dict[str, str]:
        found: dict[str, str] = {}
        variable: list[tuple[int, object]] = []
        async for row in self._pages("/products", {}):
            sku, ref = row.get("sku"), ItemRef.of(row)
            if isinstance(sku, str) and sku and ref is not None:
                found.setdefault(sku, str(ref))
            if row.get("type") == "variable" and ref is not None:
                variable.append((ref.product_id, sku))
        for parent_id, parent_sku in variable:
            async for row in self._pages(f"/products/{parent_id}/variations", {}):
                sku, ref = row.get("sku"), ItemRef.of(row, parent_id)
                # A variation without its own SKU shows its parent's: not addressable by it.
                if isinstance(sku, str) and sku and sku != parent_sku and ref is not None:
                    found.setdefault(sku, str(ref))
        return found

    async def _pages(self, path: str, params: dict[str, str]) -> AsyncIterator[JsonObject]:
        page = 1
        while True:
            body, headers = await self._call(
                "GET", path, params={**params, "per_page": str(PER_PAGE), "page": str(page)})
            if not isinstance(body, list):
                raise Unavailable(f"WooCommerce answered {path} with something not a list")
            for row in body:
                if isinstance(row, dict):
                    yield row
            total_pages = headers.get("X-WP-TotalPages", "")
            last = (page >= int(total_pages) if total_pages.isdigit()
                    else len(body) < PER_PAGE)
            if last or not body:
                return
            page += 1

    # -- transport -----------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None,
                    json: JsonObject | None = None) -> tuple[object, httpx.Headers]:
        """One request, paced; the JSON body and headers of a 2xx answer."""
        query = dict(params or {})
        auth: httpx.BasicAuth | None = None
        if self._credentials_in_query:
            query.update(consumer_key=self._consumer_key,
                         consumer_secret=self._consumer_secret)
        else:
            auth = httpx.BasicAuth(self._consumer_key, self._consumer_secret)
        await self.pacer.acquire()
        response: httpx.Response | None = None
        try:
            response = await self.client.request(method, self.base_url + path, params=query,
                                                 json=json, auth=auth)
        # Messages name the path only: the URL may carry consumer_secret.
        except httpx.TimeoutException as exc:
            raise Unavailable(f"WooCommerce timed out on {method} {path}: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"WooCommerce unreachable on {method} {path}: "
                              f"{type(exc).__name__}") from exc
        finally:
            self.pacer.settle(response)
        raise_for_status(response)
        try:
            return response.json(), response.headers
        except ValueError as exc:
            # Typically the shop's home page: /wp-json needs pretty permalinks (§1).
            raise Rejected(f"WooCommerce answered {method} {path} without JSON; is the REST "
                           "API reachable (pretty permalinks enabled)?",
                           response.text[:300]) from exc


def api_base(store_url: str) -> str:
    """https://shop.example -> https://shop.example/wp-json/wc/v3 (also accepts the API URL)."""
    base = store_url.rstrip("/")
    if base.endswith(API_PATH):
        return base
    if base.endswith("/wp-json"):
        return base + "/wc/v3"
    return base + API_PATH


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quantity(value: object) -> int | None:
    """stock_quantity is an integer, but decimal-stock plugins make it a float like 3.0."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None

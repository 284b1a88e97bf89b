"""The simulator's WooCommerce REST v3 routes: products, variations, batches, orders and
their refunds (read), webhooks.

Paths, shapes and error codes follow woocommerce.md §1-§3: errors are
`{"code", "message", "data": {"status"}}`; lists are paged with X-WP-Total,
X-WP-TotalPages and a Link header; a batch counts create+update+delete against the limit
(413 above it) and reports per-item errors inline with HTTP 200. Authentication, faults and
the host rate limit run before these routes (see woocommerce.py).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync.simulators import woocommerce_catalog
from stocksync.simulators.woocommerce_limits import Monitor, RequestRecord
from stocksync.simulators.woocommerce_orders import Order
from stocksync.simulators.woocommerce_resources import order_json, product_json, refund_json
from stocksync.simulators.woocommerce_state import (
    Item,
    ItemError,
    JsonObject,
    WooCommerceSimState,
)
from stocksync.simulators.woocommerce_webhooks import (
    WEBHOOK_STATUSES,
    Webhook,
    WebhookDeliverer,
)

API_PREFIX = "/wp-json/wc/v3"
DEFAULT_PER_PAGE = 10
STOCK_FIELDS = ("manage_stock", "stock_quantity", "backorders", "stock_status")
# WC_REST_CRUD_Controller::get_collection_params `orderby` enum (the v3 docs omit modified).
ORDERBY = ("date", "id", "include", "title", "slug", "modified")


class WooError(Exception):
    """An error answer of the whole request (not of one batch item)."""

    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None, params: JsonObject | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers, self.params = headers or {}, params

    def response(self) -> JSONResponse:
        data: JsonObject = {"status": self.status}
        if self.params is not None:
            data["params"] = self.params
        return JSONResponse({"code": self.code, "message": self.message, "data": data},
                            status_code=self.status, headers=self.headers)


def invalid_id(variation: bool = False) -> ItemError:
    """WC_REST_CRUD_Controller::update_item / delete_item: "woocommerce_rest_{post type}
    _invalid_id", status 400 (a GET of a missing id answers 404)."""
    code = ("woocommerce_rest_product_variation_invalid_id" if variation
            else "woocommerce_rest_product_invalid_id")
    return ItemError(code, "Invalid ID.", 400)


def rest_router(sim: WooCommerceSimState, monitor: Monitor,
                webhooks: WebhookDeliverer) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)

    def record(request: Request) -> RequestRecord:
        found: RequestRecord = request.state.record
        return found

    async def body_of(request: Request) -> JsonObject:
        try:
            body = await request.json()
        except ValueError as exc:
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from exc
        if not isinstance(body, dict):
            raise WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
        record(request).body = body
        return body

    def paged(request: Request, rows: list[JsonObject]) -> JSONResponse:
        per_page = _int_param(request, "per_page", DEFAULT_PER_PAGE)
        if not 1 <= per_page <= sim.config.max_per_page:
            monitor.violation(record(request), "per_page_too_large", f"per_page={per_page}")
            message = (f"per_page must be between 1 (inclusive) and "
                       f"{sim.config.max_per_page} (inclusive)")
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): per_page",
                           params={"per_page": message})
        page = max(1, _int_param(request, "page", 1))
        offset = request.query_params.get("offset")
        start = int(offset) if offset and offset.isdigit() else (page - 1) * per_page
        total, pages = len(rows), math.ceil(len(rows) / per_page)
        links = [f'<{_page_url(request, page + 1)}>; rel="next"'] if page < pages else []
        if page > 1:
            links.append(f'<{_page_url(request, page - 1)}>; rel="prev"')
        headers = {"X-WP-Total": str(total), "X-WP-TotalPages": str(pages)}
        if links:
            headers["Link"] = ", ".join(links)
        return JSONResponse(rows[start:start + per_page], headers=headers)

    async def batch(request: Request, create: Callable[[JsonObject], JsonObject],
                    update: Callable[[JsonObject], JsonObject],
                    delete: Callable[[int], JsonObject]) -> JSONResponse:
        body = await body_of(request)
        parts = {key: body.get(key) or [] for key in ("create", "update", "delete")}
        if not all(isinstance(value, list) for value in parts.values()):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): create, update, "
                           "delete must be arrays")
        count = sum(len(value) for value in parts.values())
        if count > sim.batch_limit:  # check_batch_limit (§3)
            monitor.violation(record(request), "batch_too_large",
                              f"{count} items > {sim.batch_limit}")
            raise WooError(413, "woocommerce_rest_request_entity_too_large",
                           f"Unable to accept more than {sim.batch_limit} items for this "
                           "request.")
        answer: dict[str, list[JsonObject]] = {}
        errors = 0
        for key, handler in (("create", create), ("update", update), ("delete", delete)):
            if key not in body:
                continue
            answer[key] = []
            for spec in parts[key]:
                ref = spec if key == "delete" else (spec.get("id", 0)
                                                    if isinstance(spec, dict) else 0)
                try:
                    if key != "delete" and not isinstance(spec, dict):
                        raise ItemError("rest_invalid_param", "Invalid parameter(s): item")
                    answer[key].append(handler(spec))
                except ItemError as exc:
                    errors += 1
                    answer[key].append({"id": ref if key != "create" else 0,
                                        "error": exc.as_json()})
        record(request).item_errors = errors
        if errors:
            record(request).outcome = "item_errors"
        return JSONResponse(answer)

    # -- products ------------------------------------------------------------------------
    def product(product_id: str) -> Item:
        item = sim.items.get(_id(product_id))
        if item is None:
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return item

    def update_product(spec: JsonObject) -> JsonObject:
        item = sim.items.get(_id(spec.get("id")))
        if item is None:
            raise invalid_id()
        woocommerce_catalog.apply_content(sim, item, spec)  # content sync: name, prices...
        sim.update_stock(item, {k: spec[k] for k in STOCK_FIELDS if k in spec}, by_api=True)
        return product_json(sim, item)

    def create_product(spec: JsonObject, parent_sku: str | None = None) -> JsonObject:
        woocommerce_catalog.check_content(spec, spec.get("name") or "Product")  # before any change
        quantity = spec.get("stock_quantity")
        if quantity is not None and (isinstance(quantity, bool) or not isinstance(quantity, int)):
            raise ItemError("rest_invalid_param", "Invalid parameter(s): stock_quantity")
        try:
            item = sim.add_item(str(spec.get("sku") or ""), quantity,
                                name=str(spec["name"]) if spec.get("name") else None,
                                parent_sku=parent_sku,
                                manage_stock=spec.get("manage_stock") is True,
                                backorders=str(spec.get("backorders", "no")))
        except ValueError as exc:
            raise ItemError("product_invalid_sku", str(exc)) from exc
        woocommerce_catalog.apply_content(sim, item, spec)  # content sync: prices, images...
        return product_json(sim, item)

    def delete_product(product_id: object) -> JsonObject:
        item = sim.items.get(_id(product_id))
        if item is None:
            raise invalid_id()
        body = product_json(sim, item)
        sim.delete_item(item)
        return body

    @router.get("/products")
    async def list_products(request: Request) -> JSONResponse:
        sku = request.query_params.get("sku")
        if sku:
            parts = sku.split(",")
            items = sim.find_skus([*parts, sku] if len(parts) > 1 else parts)
        else:
            items = [i for i in sim.items.values() if i.type != "variation"]
        kind = request.query_params.get("type")
        status = request.query_params.get("stock_status")
        rows = [product_json(sim, i) for i in sorted(items, key=lambda i: i.id)
                if (not kind or i.type == kind)]
        return paged(request, [r for r in rows if not status or r["stock_status"] == status])

    @router.post("/products/batch")
    async def products_batch(request: Request) -> JSONResponse:
        return await batch(request, create_product, update_product, delete_product)

    @router.get("/products/{product_id}")
    async def get_product(product_id: str) -> JsonObject:
        return product_json(sim, product(product_id))

    @router.put("/products/{product_id}")
    async def put_product(product_id: str, request: Request) -> JsonObject:
        body = await body_of(request)
        return _single(update_product, {**body, "id": product(product_id).id})

    # -- variations ----------------------------------------------------------------------
    def parent(product_id: str) -> Item:
        item = product(product_id)
        if item.type != "variable":
            raise WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return item

    def variation_updater(parent_item: Item) -> Callable[[JsonObject], JsonObject]:
        def update(spec: JsonObject) -> JsonObject:
            variation_id = _id(spec.get("id"))
            if variation_id not in parent_item.variation_ids:
                raise invalid_id(variation=True)
            return update_product({**spec, "id": variation_id})
        return update

    @router.get("/products/{product_id}/variations")
    async def list_variations(product_id: str, request: Request) -> JSONResponse:
        item = parent(product_id)
        wanted = request.query_params.get("sku")
        rows = [product_json(sim, sim.items[v]) for v in item.variation_ids
                if not wanted or sim.items[v].sku.casefold() in
                {s.casefold() for s in wanted.split(",")}]
        return paged(request, rows)

    @router.post("/products/{product_id}/variations/batch")
    async def variations_batch(product_id: str, request: Request) -> JSONResponse:
        item = parent(product_id)

        def create(spec: JsonObject) -> JsonObject:
            return create_product(spec, parent_sku=item.sku)

        def delete(variation_id: object) -> JsonObject:
            if _id(variation_id) not in item.variation_ids:
                raise invalid_id(variation=True)
            return delete_product(variation_id)

        return await batch(request, create, variation_updater(item), delete)

    @router.get("/products/{product_id}/variations/{variation_id}")
    async def get_variation(product_id: str, variation_id: str) -> JsonObject:
        item = parent(product_id)
        if _id(variation_id) not in item.variation_ids:
            raise WooError(404, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return product_json(sim, sim.items[_id(variation_id)])

    @router.put("/products/{product_id}/variations/{variation_id}")
    async def put_variation(product_id: str, variation_id: str, request: Request
                            ) -> JsonObject:
        body = await body_of(request)
        return _single(variation_updater(parent(product_id)), {**body, "id": variation_id})

    # -- orders (read) -------------------------------------------------------------------
    def order(order_id: str) -> Order:
        found = sim.orders.get(_id(order_id))
        if found is None:
            raise WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
        return found

    @router.get("/orders")
    async def list_orders(request: Request) -> JSONResponse:
        """modified_after/_before are exclusive (WP_Date_Query) and compare the local dates
        unless dates_are_gmt=true; orderby/order as WC_REST_CRUD_Controller."""
        query = request.query_params
        orderby, direction = query.get("orderby", "date"), query.get("order", "desc")
        if orderby not in ORDERBY or direction not in ("asc", "desc"):
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): orderby, order")
        gmt = query.get("dates_are_gmt", "false").lower() in ("true", "1")
        shift = timedelta(0 if gmt else sim.config.utc_offset_minutes * 60)
        statuses = set(query.get("status", "any").split(","))
        rows = [o for o in sim.orders.values() if "any" in statuses or o.status in statuses]
        for name, field, newer in (("modified_after", "modified_gmt", True),
                                   ("modified_before", "modified_gmt", False),
                                   ("after", "created_gmt", True),
                                   ("before", "created_gmt", False)):
            if name in query:
                bound = _date_param(query[name], name)
                rows = [o for o in rows if _beyond(_at(getattr(o, field)) + shift, bound, newer)]
        key = {"modified": lambda o: (o.modified_gmt, o.id),
               "id": lambda o: ("", o.id)}.get(orderby, lambda o: (o.created_gmt, o.id))
        rows.sort(key=key, reverse=direction == "desc")
        return paged(request, [order_json(sim, o) for o in rows])

    @router.get("/orders/{order_id}")
    async def get_order(order_id: str) -> JsonObject:
        return order_json(sim, order(order_id))

    @router.get("/orders/{order_id}/refunds")
    async def list_refunds(order_id: str, request: Request) -> JSONResponse:
        refunds = sorted(order(order_id).refunds, key=lambda r: (r.created_gmt, r.id),
                         reverse=True)
        return paged(request, [refund_json(sim, r) for r in refunds])

    # -- webhooks (so stocksync or a test can re-enable a disabled one, §5.3) -------------
    def webhook(webhook_id: str) -> Webhook:
        found = webhooks.webhooks.get(_id(webhook_id))
        if found is None:
            raise WooError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return found

    @router.get("/webhooks")
    async def list_webhooks(request: Request) -> JSONResponse:
        return paged(request, [w.as_json() for w in webhooks.webhooks.values()])

    @router.post("/webhooks", status_code=201)
    async def create_webhook(request: Request) -> JsonObject:
        body = await body_of(request)
        topic, url = body.get("topic"), body.get("delivery_url")
        status = body.get("status", "active")
        if not isinstance(topic, str) or not isinstance(url, str) or (
                status not in WEBHOOK_STATUSES):
            raise WooError(400, "rest_missing_callback_param",
                           "Missing or invalid parameter(s): topic, delivery_url, status")
        secret = str(body.get("secret") or "")
        created = webhooks.create(topic, url, secret, str(body.get("name") or topic), status)
        return dict(created.as_json())

    @router.get("/webhooks/{webhook_id}")
    async def get_webhook(webhook_id: str) -> JsonObject:
        return dict(webhook(webhook_id).as_json())

    @router.put("/webhooks/{webhook_id}")
    async def put_webhook(webhook_id: str, request: Request) -> JsonObject:
        body = await body_of(request)
        if "status" in body and body["status"] not in WEBHOOK_STATUSES:
            raise WooError(400, "rest_invalid_param", "Invalid parameter(s): status")
        return dict(webhooks.update(webhook(webhook_id), body).as_json())

    @router.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def no_route() -> None:
        raise WooError(404, "rest_no_route",
                       "No route was found matching the URL and request method.")

    return router


def _single(update: Callable[[JsonObject], JsonObject], spec: JsonObject) -> JsonObject:
    """A single PUT answers an item error as the whole response."""
    try:
        return update(spec)
    except ItemError as exc:
        raise WooError(exc.status, exc.code, exc.message) from exc


def _id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else 0


def _date_param(raw: str, name: str) -> datetime:
    """An ISO-8601 query date; one with an offset is turned into UTC wall time."""
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError as exc:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from exc
    return value.replace(tzinfo=None) - (value.utcoffset() or timedelta(0))


def _at(gmt: str) -> datetime:
    return datetime.fromisoformat(gmt)


def _beyond(moment: datetime, bound: datetime, after: bool) -> bool:
    return moment > bound if after else moment < bound


def _int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    try:
        return default if raw is None else int(raw)
    except ValueError as exc:
        raise WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from exc


def _page_url(request: Request, page: int) -> str:
    url = request.url.remove_query_params(["consumer_key", "consumer_secret"])
    return str(url.include_query_params(page=page))

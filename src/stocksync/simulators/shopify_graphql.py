"""The GraphQL endpoint of the Shopify simulator: dispatch, query cost and throttling.

Supported operations: `inventorySetQuantities` (shopify_mutations.py), `nodes(ids:)` on
InventoryItem, `productVariants` and `shop` (shopify_queries.py), `order(id:)` and `orders`
(shopify_order_queries.py, which states their cost). Anything else gets an
UNSUPPORTED_BY_SIMULATOR error. Every recognised operation answers a fixed superset of the
fields the stocksync connector selects.

Requested cost (shopify.md §4: objects 1, scalars 0, connections scale with `first`; the
bucket must hold the requested cost and the unused part is refunded afterwards):

- mutation: 10 points flat (Shopify's published mutation cost; not stated in shopify.md);
- `nodes`: per id 1 (InventoryItem) + 1 (InventoryLevel) + one per quantity name; the actual
  cost counts only the items and levels found;
- `productVariants`: 2 + first x (1 + 1 if `inventoryItem` selected + 1 if `product`
  selected); the actual cost uses the number of variants returned.

A query whose requested cost exceeds the single-query cap (1,000) or the bucket size gets
MAX_COST_EXCEEDED, since waiting could never make it fit.
"""

from __future__ import annotations

from collections.abc import Callable

from stocksync.simulators import shopify_catalog as catalog
from stocksync.simulators import shopify_media as media
from stocksync.simulators import shopify_product_create as product_create
from stocksync.simulators.shopify_mutations import cost_set_quantities, run_set_quantities
from stocksync.simulators.shopify_operation import (
    Executed,
    GraphQLFailure,
    Operation,
    Version,
    recognise,
)
from stocksync.simulators.shopify_order_queries import (
    cost_order,
    cost_orders,
    run_order,
    run_orders,
)
from stocksync.simulators.shopify_queries import (
    cost_nodes,
    cost_shop,
    cost_variants,
    run_nodes,
    run_shop,
    run_variants,
)
from stocksync.simulators.shopify_state import (
    JsonObject,
    RequestRecord,
    ShopifySimState,
    now_iso,
)

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"

CostFn = Callable[[Operation], int]
RunFn = Callable[[ShopifySimState, Operation], Executed]
HANDLERS: dict[tuple[str, str], tuple[CostFn, RunFn]] = {
    ("mutation", "inventorySetQuantities"): (cost_set_quantities, run_set_quantities),
    ("query", "nodes"): (cost_nodes, run_nodes),
    ("query", "productVariants"): (cost_variants, run_variants),
    ("query", "order"): (cost_order, run_order),
    ("query", "orders"): (cost_orders, run_orders),
    ("query", "shop"): (cost_shop, run_shop),
    # Product content (content sync): shopify_catalog.py.
    ("mutation", "productUpdate"): (catalog.cost_mutation, catalog.run_product_update),
    ("mutation", "productVariantsBulkUpdate"): (catalog.cost_mutation,
                                                catalog.run_variants_bulk_update),
    # Product images: shopify_media.py.
    ("query", "product"): (media.cost_query, media.run_product),
    ("mutation", "fileUpdate"): (catalog.cost_mutation, media.run_file_update),
    # Listings stocksync creates (create_missing): shopify_product_create.py.
    ("mutation", "productCreate"): (catalog.cost_mutation, product_create.run_product_create),
    ("mutation", "productVariantsBulkCreate"): (catalog.cost_mutation,
                                                product_create.run_variants_bulk_create),
}


def _cost_extension(state: ShopifySimState, requested: int, actual: int | None) -> JsonObject:
    return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                     "throttleStatus": state.bucket.status()}}


def execute(state: ShopifySimState, body: JsonObject, version_label: str,
            version: Version) -> JsonObject:
    """Answer one GraphQL request body (auth and faults are checked by the route)."""
    record = RequestRecord(seq=state.next_request_seq(), at=now_iso(),
                           api_version=version_label, kind="unknown", root_field=None,
                           operation_name=None, outcome="ok")
    try:
        op = recognise(body, version)
        record.kind, record.root_field, record.operation_name = op.kind, op.root_field, op.name
        if op.kind == "mutation":
            record.variables = op.variables
        handler = HANDLERS.get((op.kind, op.root_field))
        if handler is None:
            raise GraphQLFailure(f"simulator: unsupported {op.kind} field {op.root_field!r}",
                                 "UNSUPPORTED_BY_SIMULATOR")
        cost_of, run = handler
        requested = cost_of(op)
    except GraphQLFailure as failure:
        record.outcome, record.codes = "error", [failure.code]
        state.record(record)
        return {"errors": failure.errors}
    record.requested_cost = requested
    cap = min(state.config.max_query_cost, state.bucket.maximum_available)
    if requested > cap:
        record.outcome, record.codes = "error", ["MAX_COST_EXCEEDED"]
        state.record(record)
        return {"errors": [{"message": f"Query cost is {requested}, which exceeds the single "
                                       f"query max cost limit ({int(cap)}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested,
                                           "maxCost": int(cap)}}],
                "extensions": _cost_extension(state, requested, None)}
    if state.faults.force_throttle:
        state.bucket.drain()
    if not state.bucket.take(requested):
        # shopify.md §4: HTTP 200, data absent, errors[].extensions.code THROTTLED.
        record.outcome, record.codes = "throttled", ["THROTTLED"]
        state.record(record)
        return {"errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
                "extensions": _cost_extension(state, requested, None)}
    try:
        result = run(state, op)
    except GraphQLFailure as failure:  # runtime error: the cost was spent
        record.outcome, record.codes, record.actual_cost = "error", [failure.code], requested
        state.record(record)
        response: JsonObject = {"errors": failure.errors}
        if failure.data is not None:
            response["data"] = failure.data
        response["extensions"] = _cost_extension(state, requested, requested)
        return response
    state.bucket.refund(requested - result.actual_cost)
    record.actual_cost, record.codes = result.actual_cost, result.codes
    record.idempotency_key, record.replayed = result.idempotency_key, result.replayed
    record.outcome = "user_errors" if result.codes else "ok"
    state.record(record)
    return {"data": {op.response_key: result.data},
            "extensions": _cost_extension(state, requested, result.actual_cost)}

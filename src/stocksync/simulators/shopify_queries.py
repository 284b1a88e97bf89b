"""Read queries in the simulator: levels of many inventory items through `nodes(ids:)`
(shopify.md §2, "Reading levels for many items", option 1) and `productVariants` pages for
SKU mapping discovery. Only `sku:` terms of Shopify's search syntax are honoured (exact match,
joined by OR); other terms are ignored.
"""

from __future__ import annotations

import base64
import json
import re

from stocksync.simulators.shopify_operation import (
    MAX_INPUT_ARRAY,
    Executed,
    GraphQLFailure,
    Operation,
    argument,
    max_input,
)
from stocksync.simulators.shopify_state import (
    JsonObject,
    ShopifySimState,
    gid,
    level_gid,
    parse_gid,
)

MAX_PAGE_SIZE = 250
_SKU_TERM = re.compile(r'\bsku:(?:"((?:[^"\\]|\\.)*)"|([^\s()"]+))')


def _level_names(op: Operation) -> list[str] | None:
    """Quantity names selected under `inventoryLevel`, or None when no level is selected."""
    if not re.search(r"\binventoryLevel\s*\(", op.query):
        return None
    names = argument(op, "quantities", "names")
    return [str(n) for n in names] if isinstance(names, list) else ["available"]


def _node_ids(op: Operation) -> list[str]:
    ids = argument(op, "nodes", "ids")
    if not isinstance(ids, list):
        raise GraphQLFailure("nodes(ids:) must be a list of IDs", "INVALID_VARIABLE")
    if len(ids) > MAX_INPUT_ARRAY:
        raise max_input(len(ids))
    return [str(i) for i in ids]


def cost_nodes(op: Operation) -> int:
    names = _level_names(op)
    per_item = 1 + (0 if names is None else 1 + len(names))
    return max(1, len(_node_ids(op)) * per_item)


def run_nodes(state: ShopifySimState, op: Operation) -> Executed:
    names = _level_names(op)
    location_id = parse_gid(argument(op, "inventoryLevel", "locationId"), "Location")
    nodes: list[JsonObject | None] = []
    cost = 0
    for node_id in _node_ids(op):
        item_id = parse_gid(node_id, "InventoryItem") if node_id.startswith("gid://") else None
        variant_id = state.variant_by_item.get(item_id or 0)
        if variant_id is None:
            nodes.append(None)
            continue
        node: JsonObject = {"id": node_id, "sku": state.variants[variant_id].sku,
                            "tracked": True}
        cost += 1
        if names is not None:
            level = state.levels.get((item_id or 0, location_id or 0))
            node["inventoryLevel"] = None if level is None else {
                "id": level_gid(item_id or 0, location_id or 0),
                "location": {"id": gid("Location", location_id or 0)},
                "quantities": [{"name": n, "quantity": level.quantity(n),
                                "updatedAt": level.updated_at} for n in names]}
            cost += 0 if level is None else 1 + len(names)
        nodes.append(node)
    return Executed(nodes, max(1, cost))


# -- productVariants(first:, after:, query:) ------------------------------------------------
def _variant_page_args(op: Operation) -> tuple[int, int, int]:
    """(first, id after which to start, cost per node)."""
    first = argument(op, "productVariants", "first")
    if not isinstance(first, int) or not 0 < first <= MAX_PAGE_SIZE:
        raise GraphQLFailure(f"productVariants(first:) must be 1..{MAX_PAGE_SIZE}",
                             "BAD_REQUEST")
    after = argument(op, "productVariants", "after")
    after_id = 0
    if isinstance(after, str):
        after_id = int(json.loads(base64.b64decode(after))["last_id"])
    per_node = (1 + bool(re.search(r"\binventoryItem\s*\{", op.query))
                + bool(re.search(r"\bproduct\s*\{", op.query)))
    return first, after_id, per_node


def cost_variants(op: Operation) -> int:
    first, _, per_node = _variant_page_args(op)
    return 2 + first * per_node


def run_variants(state: ShopifySimState, op: Operation) -> Executed:
    first, after_id, per_node = _variant_page_args(op)
    search = argument(op, "productVariants", "query")
    skus = {quoted.replace('\\"', '"') or bare
            for quoted, bare in _SKU_TERM.findall(search if isinstance(search, str) else "")}
    matching = [v for _, v in sorted(state.variants.items())
                if v.id > after_id and (not skus or v.sku in skus)]
    page = matching[:first]
    edges = [{"cursor": _cursor(v.id), "node": {
        "id": gid("ProductVariant", v.id), "sku": v.sku, "title": v.title,
        "inventoryItem": {"id": gid("InventoryItem", v.inventory_item_id), "tracked": True},
        "product": {"id": gid("Product", v.product_id),
                    "title": state.products[v.product_id].title}}} for v in page]
    page_info = {"hasNextPage": len(matching) > first, "hasPreviousPage": after_id > 0,
                 "startCursor": edges[0]["cursor"] if edges else None,
                 "endCursor": edges[-1]["cursor"] if edges else None}
    data = {"edges": edges, "nodes": [e["node"] for e in edges], "pageInfo": page_info}
    return Executed(data, 2 + len(page) * per_node)


def _cursor(variant_id: int) -> str:
    # Shopify cursors are opaque base64 JSON; clients must not parse them.
    payload = json.dumps({"last_id": variant_id, "last_value": str(variant_id)})
    return base64.b64encode(payload.encode()).decode()


def cost_shop(op: Operation) -> int:
    return 1  # one object, scalar fields (shopify.md §4)


def run_shop(state: ShopifySimState, op: Operation) -> Executed:
    """`shop { id name myshopifyDomain }`: what an app reads to check its access token."""
    domain = state.config.shop_domain
    return Executed(data={"id": gid("Shop", 1), "name": state.config.shop,
                          "myshopifyDomain": domain}, actual_cost=1)

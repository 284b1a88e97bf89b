"""Shopify inventory wire details used by ShopifyConnector: the Admin GraphQL documents it
sends and small readers of the answers (shopify.md in /work/shared/channels)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

JsonObject = dict[str, Any]

SET_QUANTITIES = """
mutation StocksyncSetQuantities($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input)%(directive)s {
    inventoryAdjustmentGroup {
      id createdAt changes { name delta quantityAfterChange item { id } location { id } }
    }
    userErrors { code field message }
  }
}"""
READ_LEVELS = """
query StocksyncLevels($ids: [ID!]!, $locationId: ID!) {
  nodes(ids: $ids) {
    ... on InventoryItem {
      id
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity updatedAt }
      }
    }
  }
}"""
CHECK_SHOP = "query StocksyncShop { shop { name } }"
LIST_VARIANTS = """
query StocksyncVariants($first: Int!, $after: String, $query: String) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { sku inventoryItem { id } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@dataclass(slots=True)
class LevelEntry:
    """One level to set in one inventorySetQuantities call."""

    sku: str  # the target's key: the SKU, or `SKU@<location id>` for a mapped location
    item_id: str
    quantity: int
    change_from: int | None
    location_id: str  # Location GID

    @property
    def level(self) -> tuple[str, str]:
        return self.item_id, self.location_id


def available_after(payload: JsonObject) -> dict[tuple[str, str], int]:
    group = payload.get("inventoryAdjustmentGroup") or {}
    return {(change["item"]["id"], (change.get("location") or {}).get("id", "")):
            change["quantityAfterChange"]
            for change in group.get("changes") or [] if change.get("name") == "available"}


def location_gid(location_id: str) -> str:
    return location_id if location_id.startswith("gid://") else \
        f"gid://shopify/Location/{location_id}"


def created_before(payload: JsonObject, moment: datetime) -> bool:
    created = (payload.get("inventoryAdjustmentGroup") or {}).get("createdAt")
    try:
        return created is not None and datetime.fromisoformat(str(created)) < moment
    except ValueError:
        return False


def search_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')

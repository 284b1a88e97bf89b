"""`inventorySetQuantities` in the simulator (shopify.md §3.1 compare-and-set, §3.4
idempotency), with the version rules: compareQuantity up to 2025-10, changeFromQuantity and
optional @idempotent from 2026-01, both mandatory from 2026-04 (compareQuantity removed).
"""

from __future__ import annotations

import hashlib
import json
import re
from uuid import uuid4

from stocksync.simulators.shopify_operation import (
    CHANGE_FROM_ADDED,
    CONCURRENCY_REQUIRED,
    MAX_INPUT_ARRAY,
    VALUE_PATTERN,
    Executed,
    GraphQLFailure,
    Operation,
    Version,
    invalid_variable,
    literal,
    max_input,
)
from stocksync.simulators.shopify_state import (
    JsonObject,
    ShopifySimState,
    StoredResult,
    gid,
    now_iso,
    parse_gid,
)

MUTATION_COST = 10  # Shopify's published flat cost of a mutation (not in shopify.md)
MAX_ABSOLUTE_QUANTITY = 1_000_000_000
# The examples shopify.md §3.1 lists; the full list of reason codes is unconfirmed.
REASONS = frozenset({"correction", "received", "restock", "damaged", "cycle_count_available",
                     "shrinkage", "promotion", "other", "safety_stock", "quality_control"})

_IDEMPOTENT = re.compile(r"@idempotent\s*\(\s*key\s*:\s*" + VALUE_PATTERN + r"\s*\)")
_SET_INPUT = re.compile(r"inventorySetQuantities\s*\(\s*input\s*:\s*\$(\w+)\s*\)")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def _set_input(op: Operation) -> tuple[str, JsonObject]:
    var = _SET_INPUT.search(op.query)
    if var is None:
        raise GraphQLFailure("simulator: pass inventorySetQuantities(input:) as a variable",
                             "UNSUPPORTED_BY_SIMULATOR")
    name, value = var[1], op.variables.get(var[1])
    if not isinstance(value, dict) or not isinstance(value.get("quantities"), list) or not all(
            isinstance(q, dict) for q in value["quantities"]):
        raise invalid_variable(name, "input.quantities must be a list of objects")
    return name, value


def cost_set_quantities(op: Operation) -> int:
    var, data = _set_input(op)
    quantities: list[JsonObject] = data["quantities"]
    if op.version < CHANGE_FROM_ADDED:
        if "@idempotent" in op.query:
            raise GraphQLFailure("Directive 'idempotent' is not defined", "undefinedDirective")
        if any("changeFromQuantity" in q for q in quantities):
            raise invalid_variable(var, "changeFromQuantity: Field is not defined on "
                                         "InventoryQuantityInput")
    if op.version >= CONCURRENCY_REQUIRED:  # removed in 2026-04 (shopify.md §3.1)
        if "ignoreCompareQuantity" in data:
            raise invalid_variable(var, "ignoreCompareQuantity: Field is not defined on "
                                         "InventorySetQuantitiesInput")
        if any("compareQuantity" in q for q in quantities):
            raise invalid_variable(var, "compareQuantity: Field is not defined on "
                                         "InventoryQuantityInput")
    if len(quantities) > MAX_INPUT_ARRAY:
        raise max_input(len(quantities))
    return MUTATION_COST


def run_set_quantities(state: ShopifySimState, op: Operation) -> Executed:
    _, data = _set_input(op)
    directive = _IDEMPOTENT.search(op.query)
    key = literal(op, directive[1]) if directive else None
    key = str(key) if key is not None else None
    if op.version >= CONCURRENCY_REQUIRED:
        # Mandatory from 2026-04 although the schema does not say so: shopify.md §3.1 and
        # §3.4 only say "errors at runtime", so this is a top-level error with null data.
        null_data = {op.response_key: None}
        if key is None:
            raise GraphQLFailure("inventorySetQuantities requires the @idempotent directive "
                                 "with a key from API version 2026-04", "BAD_REQUEST",
                                 path=[op.response_key], data=null_data)
        for index, quantity in enumerate(data["quantities"]):
            if "changeFromQuantity" not in quantity:
                raise GraphQLFailure(
                    "changeFromQuantity is required from API version 2026-04; pass null to "
                    "skip the check", "BAD_REQUEST", data=null_data,
                    path=[op.response_key, "input", "quantities", str(index)])
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    stored = state.idempotency.get(key) if key else None
    if stored is not None:
        if stored.fingerprint != fingerprint:
            return _user_error(key, "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                               "The same idempotency key cannot be used with different "
                               "operation parameters.")
        if stored.failed and op.version >= CONCURRENCY_REQUIRED:
            return _user_error(key, "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
                               "A previous request with this idempotency key failed. Retry "
                               "with a new idempotency key.")
        return Executed(stored.payload, MUTATION_COST, _codes(stored.payload), key, True)
    payload = _apply_set_quantities(state, data, op.version)
    if key is not None:
        state.remember(key, StoredResult(fingerprint, payload, bool(payload["userErrors"])))
    return Executed(payload, MUTATION_COST, _codes(payload), key)


def _user_error(key: str | None, code: str, message: str) -> Executed:
    payload = {"inventoryAdjustmentGroup": None,
               "userErrors": [{"code": code, "field": None, "message": message}]}
    return Executed(payload, MUTATION_COST, [code], key)


def _codes(payload: JsonObject) -> list[str]:
    return [str(error["code"]) for error in payload["userErrors"]]


def _apply_set_quantities(state: ShopifySimState, data: JsonObject, version: Version
                          ) -> JsonObject:
    """Validate every entry, then apply all or nothing (shopify.md §3.1: one stale entry
    fails the whole call and no adjustment group is returned)."""
    errors: list[JsonObject] = []

    def fail(code: str, path: list[str], message: str) -> None:
        errors.append({"code": code, "field": path, "message": message})

    name, reason = data.get("name"), data.get("reason")
    if name not in ("available", "on_hand"):
        fail("INVALID_NAME", ["input", "name"], "must be either 'available' or 'on_hand'")
    if reason not in REASONS:
        fail("INVALID_REASON", ["input", "reason"], f"reason {reason!r} is not valid")
    uri = data.get("referenceDocumentUri")
    if uri is not None and not _URI.match(str(uri)):
        fail("INVALID_REFERENCE_DOCUMENT", ["input", "referenceDocumentUri"], "not a URI")
    planned: list[tuple[int, int, int]] = []
    for index, entry in enumerate(data["quantities"]):
        path = ["input", "quantities", str(index)]
        item_id = parse_gid(entry.get("inventoryItemId"), "InventoryItem") or 0  # 0: no id
        location_id = parse_gid(entry.get("locationId"), "Location") or 0
        quantity = entry.get("quantity")
        level = state.levels.get((item_id, location_id))
        if item_id not in state.variant_by_item:
            fail("INVALID_INVENTORY_ITEM", [*path, "inventoryItemId"], "unknown item")
        elif location_id not in state.locations:
            fail("INVALID_LOCATION", [*path, "locationId"], "unknown location")
        elif any(p[:2] == (item_id, location_id) for p in planned):
            fail("NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR", [*path, "inventoryItemId"],
                 "the same item and location appear twice")
        elif level is None:
            fail("ITEM_NOT_STOCKED_AT_LOCATION", [*path, "locationId"],
                 "the item is not stocked at the location")
        elif not isinstance(quantity, int) or quantity < 0:
            fail("INVALID_QUANTITY_NEGATIVE", [*path, "quantity"], "must be >= 0")
        elif quantity > MAX_ABSOLUTE_QUANTITY:
            fail("INVALID_QUANTITY_TOO_HIGH", [*path, "quantity"], "must be <= 1000000000")
        else:
            current = level.available if name == "available" else level.on_hand
            stale = _compare_and_set_error(data, entry, current, version)
            if stale is not None:
                fail(stale[0], [*path, stale[1]], f"the current quantity is {current}")
            planned.append((item_id, location_id, quantity))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    event_id, changes = uuid4().hex, []
    for item_id, location_id, quantity in planned:
        delta = state.apply_quantity(item_id, location_id, str(name), quantity, event_id)
        state.raised_by_sets += max(delta, 0)
        level = state.levels[(item_id, location_id)]
        for changed, after in (("available", level.available), ("on_hand", level.on_hand)):
            changes.append({"name": changed, "delta": delta, "quantityAfterChange": after,
                            "item": {"id": gid("InventoryItem", item_id)},
                            "location": {"id": gid("Location", location_id)},
                            "ledgerDocumentUri": None})
    group = {"id": gid("InventoryAdjustmentGroup", state.new_id()), "createdAt": now_iso(),
             "reason": reason, "referenceDocumentUri": uri, "changes": changes}
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def _compare_and_set_error(data: JsonObject, entry: JsonObject, current: int,
                           version: Version) -> tuple[str, str] | None:
    """(code, field) when the entry's expected value does not hold (shopify.md §3.1)."""
    if version >= CHANGE_FROM_ADDED and "changeFromQuantity" in entry:
        expected = entry["changeFromQuantity"]  # explicit null = skip the check
        if expected is not None and expected != current:
            return "CHANGE_FROM_QUANTITY_STALE", "changeFromQuantity"
        return None
    if data.get("ignoreCompareQuantity"):
        return None
    if entry.get("compareQuantity") is None:
        return "COMPARE_QUANTITY_REQUIRED", "compareQuantity"
    if entry["compareQuantity"] != current:
        return "COMPARE_QUANTITY_STALE", "compareQuantity"
    return None

"""The Square API operations the simulator serves, as plain functions over the state:

    POST /v2/inventory/changes/batch-create    BatchChangeInventory (square.md §3)
    POST /v2/inventory/counts/batch-retrieve   BatchRetrieveInventoryCounts (square.md §4)
    POST /v2/catalog/search                    SearchCatalogObjects: ITEM / ITEM_VARIATION,
                                               exact_query, set_query, prefix_query on sku/name

Each returns an Answer; authentication, rate limiting and faults happen in square.py first.
BatchChangeInventory is all-or-nothing: one invalid change fails the request with one error
per bad change, each naming it in `field` as changes[i]... (Square: "On failure: returns a
list of related errors"; the exact `field` spelling is unconfirmed).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from stocksync.simulators.square_inventory import (
    INVENTORY_STATES,
    TRACKED_STATES,
    CountKey,
    format_time,
    parse_quantity,
    parse_time,
    utc_now,
)
from stocksync.simulators.square_state import (
    JsonObject,
    SquareSimState,
    StoredResponse,
    Variation,
    new_object_id,
)

BAD = "INVALID_REQUEST_ERROR"
MAX_IDEMPOTENCY_KEY = 128
MAX_SEARCH_LIMIT = 1000  # SearchCatalogObjects: a limit above 1,000 is ignored
DEFAULT_SEARCH_LIMIT = 100  # page size without a (valid) limit: unconfirmed
# Without object_types Square returns top-level types only: ITEM_VARIATION must be asked for.
DEFAULT_OBJECT_TYPES = ("ITEM",)
SEARCHABLE = {"ITEM": ("name",), "ITEM_VARIATION": ("sku", "name")}
Matcher = Callable[[str, Variation], bool]
T = TypeVar("T")


@dataclass(slots=True)
class Answer:
    status: int
    body: JsonObject
    idempotency_key: str | None = None
    replayed: bool = False
    changes: int | None = None
    codes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = [str(e.get("code")) for e in self.body.get("errors") or []]


def error(code: str, detail: str, field_name: str | None = None, category: str = BAD
          ) -> JsonObject:
    err: JsonObject = {"category": category, "code": code, "detail": detail}
    if field_name is not None:
        err["field"] = field_name
    return err


def refuse(*errors: JsonObject, status: int = 400, **extra: Any) -> Answer:
    return Answer(status, {"errors": list(errors)}, **extra)


# -- BatchChangeInventory -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Change:
    index: int
    kind: str  # PHYSICAL_COUNT | ADJUSTMENT
    data: JsonObject
    object_id: str
    location_id: str
    quantity: Decimal
    occurred_at: datetime


def batch_change(sim: SquareSimState, body: object, seq: int, path: str) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    key = body.get("idempotency_key")
    if key is None:
        sim.violate(seq, "idempotency_key_missing", path, "no idempotency_key")
        return refuse(error("MISSING_REQUIRED_PARAMETER", "Field must be set",
                            "idempotency_key"))
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
        sim.violate(seq, "idempotency_key_invalid", path, "idempotency_key not 1-128 chars")
        return refuse(error("VALUE_TOO_LONG" if isinstance(key, str) and key else "VALUE_EMPTY",
                            "idempotency_key must be 1 to 128 characters", "idempotency_key"))
    fingerprint = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    stored = sim.idempotency.get(key)
    if stored is not None:
        if stored.fingerprint == fingerprint:  # same key + same request: the first answer
            changes = body.get("changes")
            return Answer(stored.status, stored.body, key, replayed=True,
                          changes=len(changes) if isinstance(changes, list) else None)
        sim.violate(seq, "idempotency_key_reused", path, f"key {key} with another body")
        return refuse(error("IDEMPOTENCY_KEY_REUSED",
                            "The idempotency key can only be retried with the same request "
                            "data.", "idempotency_key"), idempotency_key=key)
    changes = body.get("changes") or []
    if not isinstance(changes, list):
        return refuse(error("EXPECTED_ARRAY", "Expected an array.", "changes"))
    if len(changes) > sim.config.max_changes_per_request:
        sim.violate(seq, "too_many_changes", path, f"{len(changes)} changes")
        return refuse(error("ARRAY_LENGTH_TOO_LONG",
                            f"changes has {len(changes)} elements; the maximum is "
                            f"{sim.config.max_changes_per_request}.", "changes"),
                      idempotency_key=key, changes=len(changes))
    ignore_unchanged = body.get("ignore_unchanged_counts", True)
    if not isinstance(ignore_unchanged, bool):
        return refuse(error("EXPECTED_BOOLEAN", "Expected a boolean.", "ignore_unchanged_counts"))
    parsed: list[_Change] = []
    errors: list[JsonObject] = []
    for index, change in enumerate(changes):
        result = _parse_change(sim, index, change)
        if isinstance(result, _Change):
            parsed.append(result)
        else:
            errors.extend(result)
    if errors:
        if any(e["code"] == "INVALID_TIME" for e in errors):
            sim.violate(seq, "occurred_at_out_of_range", path,
                        "occurred_at older than the limit, in the future or unreadable")
        return refuse(*errors, idempotency_key=key, changes=len(changes))
    answer = Answer(200, _apply(sim, parsed, ignore_unchanged), key, changes=len(changes))
    # Only successes are stored: what Square keeps for a failed request is not published, and
    # a failed request changed nothing, so a corrected retry under the same key is harmless.
    sim.remember(key, StoredResponse(fingerprint, answer.status, answer.body))
    return answer


def _parse_change(sim: SquareSimState, index: int, change: object) -> _Change | list[JsonObject]:
    where = f"changes[{index}]"
    if not isinstance(change, dict):
        return [error("EXPECTED_OBJECT", "Expected an object.", where)]
    kind = change.get("type")
    member = {"PHYSICAL_COUNT": "physical_count", "ADJUSTMENT": "adjustment"}.get(str(kind))
    if kind == "TRANSFER":
        return [error("INVALID_VALUE", "TRANSFER is not simulated.", f"{where}.type")]
    if member is None:
        return [error("INVALID_ENUM_VALUE", f"Invalid change type {kind!r}.", f"{where}.type")]
    data = change.get(member)
    where = f"{where}.{member}"
    if not isinstance(data, dict):
        return [error("MISSING_REQUIRED_PARAMETER", "Field must be set", where)]
    errors: list[JsonObject] = []
    object_id = str(data.get("catalog_object_id", ""))
    if sim.live_variation(object_id) is None:
        errors.append(error("NOT_FOUND", f"Catalog object with ID `{object_id}` not found.",
                            f"{where}.catalog_object_id"))
    location_id = str(data.get("location_id", ""))
    if location_id not in sim.locations:
        errors.append(error("NOT_FOUND", f"Location with ID `{location_id}` not found.",
                            f"{where}.location_id"))
    states = ["state"] if kind == "PHYSICAL_COUNT" else ["from_state", "to_state"]
    for name in states:
        state = data.get(name)
        allowed = TRACKED_STATES if name == "state" else INVENTORY_STATES
        if state not in allowed:
            errors.append(error("INVALID_ENUM_VALUE", f"Invalid {name} {state!r}.",
                                f"{where}.{name}"))
    quantity = parse_quantity(data.get("quantity"))
    # A negative physical count is refused here (unconfirmed on Square; a count of what is
    # on the shelf cannot be below zero), an adjustment must move a positive amount.
    if quantity is None or quantity < 0 or (kind == "ADJUSTMENT" and quantity == 0):
        errors.append(error("INVALID_VALUE", f"Invalid quantity {data.get('quantity')!r}: "
                            "expected a non-negative decimal string with at most 5 "
                            "fractional digits.", f"{where}.quantity"))
    occurred_at = _occurred_at(sim, data.get("occurred_at"), f"{where}.occurred_at", errors)
    if errors or quantity is None or occurred_at is None:
        return errors
    return _Change(index, str(kind), data, object_id, location_id, quantity, occurred_at)


def _occurred_at(sim: SquareSimState, value: object, where: str, errors: list[JsonObject]
                 ) -> datetime | None:
    # Square may default a missing occurred_at to "now"; the simulator insists (unconfirmed),
    # since a connector that leaves it out loses control over change ordering.
    if value is None:
        errors.append(error("MISSING_REQUIRED_PARAMETER", "Field must be set", where))
        return None
    moment = parse_time(value)
    now = utc_now()
    if moment is None:
        errors.append(error("INVALID_TIME", f"Invalid RFC 3339 timestamp {value!r}.", where))
    elif moment < now - timedelta(seconds=sim.config.max_occurred_at_age_s):
        errors.append(error("INVALID_TIME", "occurred_at cannot be older than 24 hours.",
                            where))
    elif moment > now + timedelta(seconds=sim.config.future_tolerance_s):
        errors.append(error("INVALID_TIME", "occurred_at cannot be in the future.", where))
    else:
        return moment
    return None


def _apply(sim: SquareSimState, changes: list[_Change], ignore_unchanged: bool) -> JsonObject:
    changed: list[CountKey] = []
    created = format_time(utc_now())
    wire_changes: list[JsonObject] = []
    # "Changes are applied based on the client-supplied timestamp and may be sent out of
    # order": occurred_at order, request order between equal timestamps.
    for change in sorted(changes, key=lambda c: (c.occurred_at, c.index)):
        data = change.data
        if change.kind == "PHYSICAL_COUNT":
            state = str(data["state"])
            if sim.inventory.physical_count(change.object_id, change.location_id, state,
                                            change.quantity, change.occurred_at,
                                            ignore_unchanged, **_reference(data)):
                changed.append((change.object_id, change.location_id, state))
        else:
            changed += sim.inventory.adjustment(
                change.object_id, change.location_id, str(data["from_state"]),
                str(data["to_state"]), change.quantity, change.occurred_at, **_reference(data))
        member = "physical_count" if change.kind == "PHYSICAL_COUNT" else "adjustment"
        wire_changes.append({"type": change.kind, member: {
            **data, "id": new_object_id(), "catalog_object_type": "ITEM_VARIATION",
            "created_at": created}})
    places = dict.fromkeys((c.object_id, c.location_id) for c in changes)
    counts = [sim.inventory.wire(key) for place in places
              for key in sim.inventory.counts_of(*place)]
    sim.counts_changed(changed)
    return {"counts": counts, "changes": wire_changes}


# -- BatchRetrieveInventoryCounts -----------------------------------------------------------
def batch_retrieve_counts(sim: SquareSimState, body: object, seq: int, path: str) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    limit = body.get("limit")
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool):
            return refuse(error("EXPECTED_INTEGER", "Expected an integer.", "limit"))
        if not 1 <= limit <= sim.config.max_read_limit:
            sim.violate(seq, "read_limit_out_of_range", path, f"limit {limit}")
            code = "VALUE_TOO_LOW" if limit < 1 else "VALUE_TOO_HIGH"
            return refuse(error(code, f"limit must be 1 to {sim.config.max_read_limit}.",
                                "limit"))
    ids = _strings(body.get("catalog_object_ids"))
    locations = _strings(body.get("location_ids"))
    states = _strings(body.get("states"))
    if states is not None and not set(states) <= INVENTORY_STATES:
        return refuse(error("INVALID_ENUM_VALUE", f"Invalid states {states}.", "states"))
    after = parse_time(body.get("updated_after")) if body.get("updated_after") else None
    if body.get("updated_after") and after is None:
        return refuse(error("INVALID_TIME", "Invalid updated_after.", "updated_after"))
    wanted_states = TRACKED_STATES & set(states) if states is not None else TRACKED_STATES
    keys = [key for key in sim.inventory.all_counts()
            if (ids is None or key[0] in ids) and (locations is None or key[1] in locations)
            and key[2] in wanted_states
            and (after is None or sim.inventory.calculated_at(key) > after)]
    keys.sort(key=lambda k: (sim.inventory.calculated_at(k), k), reverse=True)
    size = min(limit or sim.config.max_read_limit, sim.config.counts_page_size)
    page = _page(body, keys, size)
    if page is None:
        return refuse(error("INVALID_CURSOR", "The cursor is invalid.", "cursor"))
    chosen, cursor = page
    answer: JsonObject = {"counts": [sim.inventory.wire(key) for key in chosen]}
    if cursor:
        answer["cursor"] = cursor
    return Answer(200, answer)


# -- SearchCatalogObjects -------------------------------------------------------------------
def search_catalog(sim: SquareSimState, body: object) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    types = _strings(body.get("object_types")) or list(DEFAULT_OBJECT_TYPES)
    include_deleted = body.get("include_deleted_objects") is True
    matches = _matcher(body.get("query"))
    if isinstance(matches, dict):
        return refuse(matches)
    found: list[JsonObject] = []
    for variation in sim.variations.values():
        if variation.is_deleted and not include_deleted:
            continue
        if "ITEM_VARIATION" in types and matches("ITEM_VARIATION", variation):
            found.append(variation_wire(variation))
        if "ITEM" in types and matches("ITEM", variation):
            found.append(_item_wire(variation))
    limit = body.get("limit")
    # "The limit is advisory": out-of-range limits are ignored, pages may be shorter.
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= 1000:
        limit = DEFAULT_SEARCH_LIMIT
    size = min(limit, sim.config.catalog_page_size)
    page = _page(body, found, size)
    if page is None:
        return refuse(error("INVALID_CURSOR", "The cursor is invalid.", "cursor"))
    chosen, cursor = page
    answer: JsonObject = {"latest_time": format_time(utc_now())}
    if chosen:  # Square leaves `objects` out when nothing matched
        answer["objects"] = chosen
    if cursor:
        answer["cursor"] = cursor
    return Answer(200, answer)


class _Match:
    def __init__(self, name: str, values: list[str], prefix: bool) -> None:
        self.name, self.prefix = name, prefix
        self.values = [v.lower() for v in values]  # "Value matching is case insensitive"

    def __call__(self, object_type: str, variation: Variation) -> bool:
        if self.name not in SEARCHABLE[object_type]:
            return False
        value = (variation.sku if self.name == "sku" else
                 variation.name if object_type == "ITEM_VARIATION" else variation.item_name)
        value = value.lower()
        return any(value.startswith(v) if self.prefix else value == v for v in self.values)


def _everything(object_type: str, variation: Variation) -> bool:
    return True


def _matcher(query: object) -> Matcher | JsonObject:
    if query is None:
        return _everything
    if not isinstance(query, dict) or len(query) != 1:
        return error("INVALID_VALUE", "The simulator takes one query filter at a time.",
                     "query")
    (kind, spec), = query.items()
    if not isinstance(spec, dict) or not isinstance(spec.get("attribute_name"), str):
        return error("MISSING_REQUIRED_PARAMETER", "attribute_name must be set",
                     f"query.{kind}.attribute_name")
    name = str(spec["attribute_name"])
    if kind == "exact_query":
        return _Match(name, [str(spec.get("attribute_value", ""))], prefix=False)
    if kind == "set_query":
        values = _strings(spec.get("attribute_values"))
        if not values:
            return error("MISSING_REQUIRED_PARAMETER", "attribute_values must be set",
                         "query.set_query.attribute_values")
        return _Match(name, values, prefix=False)
    if kind == "prefix_query":
        return _Match(name, [str(spec.get("attribute_prefix", ""))], prefix=True)
    return error("INVALID_VALUE", f"{kind} is not simulated.", f"query.{kind}")


def variation_wire(v: Variation) -> JsonObject:
    return {"type": "ITEM_VARIATION", "id": v.id, "updated_at": v.updated_at,
            "version": v.version, "is_deleted": v.is_deleted, "present_at_all_locations": True,
            "absent_at_location_ids": list(v.absent_at),
            "item_variation_data": {
                "item_id": v.item_id, "name": v.name, "sku": v.sku, "ordinal": 1,
                "pricing_type": "FIXED_PRICING",
                "price_money": {"amount": v.price_cents, "currency": "USD"},
                "track_inventory": v.track_inventory, "sellable": True, "stockable": True}}


def _item_wire(v: Variation) -> JsonObject:
    return {"type": "ITEM", "id": v.item_id, "updated_at": v.updated_at, "version": v.version,
            "is_deleted": v.is_deleted, "present_at_all_locations": True,
            "item_data": {"name": v.item_name, "variations": [variation_wire(v)]}}


# -- helpers --------------------------------------------------------------------------------
def _reference(data: JsonObject) -> dict[str, str]:
    reference = data.get("reference_id")
    return {"reference_id": reference} if isinstance(reference, str) else {}


def _strings(value: object) -> list[str] | None:
    return [str(v) for v in value] if isinstance(value, list) else None


def _page(body: JsonObject, rows: list[T], size: int) -> tuple[list[T], str | None] | None:
    """Offset cursors bound to the query they came from; None for a cursor that is not."""
    query = {k: v for k, v in body.items() if k != "cursor"}
    fingerprint = hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:16]
    offset = 0
    if body.get("cursor"):
        try:
            decoded = json.loads(base64.urlsafe_b64decode(str(body["cursor"])))
            offset, same = int(decoded["o"]), decoded["q"] == fingerprint
        except (ValueError, KeyError, TypeError):
            return None
        if not same or offset < 0:
            return None
    end = offset + max(1, size)
    cursor = None
    if end < len(rows):
        cursor = base64.urlsafe_b64encode(
            json.dumps({"o": end, "q": fingerprint}).encode()).decode()
    return rows[offset:end], cursor

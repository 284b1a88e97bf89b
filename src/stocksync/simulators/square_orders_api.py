"""Orders and inventory-history operations of the Square simulator (shapes from Square's
OpenAPI document, api.json 5733f662):

    POST /v2/orders/search                   SearchOrders (ORDERS_READ)
    POST /v2/orders/batch-retrieve           BatchRetrieveOrders (ORDERS_READ)
    POST /v2/inventory/changes/batch-retrieve BatchRetrieveInventoryChanges (INVENTORY_READ)

SearchOrders: 1-10 location_ids; `limit` default 500, max 1000; a date_time_filter on one of
created_at / updated_at / closed_at (start and end inclusive; a missing end is "the time of
the first request for the cursor") needs `sort.sort_field` on the same timestamp, or Square
answers an error; sort_order defaults to DESC; a cursor only goes with its original query.
BatchRetrieveOrders: at most 100 order_ids; unknown ids are left out, not errors.
BatchRetrieveInventoryChanges: sorted by occurred_at ascending (oldest first); `types`
defaults to [PHYSICAL_COUNT, ADJUSTMENT]; `states` filters adjustments (matched here on
from_state or to_state: which one Square matches is unconfirmed); updated_after/before on
created_at; `limit` 1-1000.
"""

from __future__ import annotations

from datetime import datetime

from stocksync.simulators.square_api import Answer, _page, _strings, error, refuse
from stocksync.simulators.square_inventory import format_time, parse_time, utc_now
from stocksync.simulators.square_state import JsonObject, SquareSimState

MAX_SEARCH_LOCATIONS = 10
DEFAULT_ORDERS_LIMIT = 500
MAX_ORDERS_LIMIT = 1000
MAX_BATCH_ORDERS = 100
DEFAULT_CHANGES_LIMIT = 100  # unconfirmed default page size
MAX_CHANGES_LIMIT = 1000
TIME_FIELDS = {"created_at": "CREATED_AT", "updated_at": "UPDATED_AT", "closed_at": "CLOSED_AT"}


def search_orders(sim: SquareSimState, body: object, seq: int, path: str) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    locations = _strings(body.get("location_ids")) or []
    if not 1 <= len(locations) <= MAX_SEARCH_LOCATIONS:
        return refuse(error("INVALID_ARRAY_LENGTH", "location_ids must have 1 to 10 entries.",
                            "location_ids"))
    limit = body.get("limit", DEFAULT_ORDERS_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return refuse(error("INVALID_VALUE", "limit must be a positive integer.", "limit"))
    if limit > MAX_ORDERS_LIMIT:
        sim.violate(seq, "read_limit_out_of_range", path, f"limit {limit}")
        return refuse(error("VALUE_TOO_HIGH", "limit must be at most 1000.", "limit"))
    query = body.get("query") or {}
    filters = query.get("filter") or {} if isinstance(query, dict) else {}
    sort = query.get("sort") or {} if isinstance(query, dict) else {}
    sort_field = sort.get("sort_field", "CREATED_AT")
    ranges = filters.get("date_time_filter") or {}
    if not isinstance(ranges, dict) or len(ranges) > 1 or not set(ranges) <= set(TIME_FIELDS):
        return refuse(error("INVALID_VALUE", "Filter on one of created_at, updated_at or "
                            "closed_at at a time.", "query.filter.date_time_filter"))
    window: tuple[str, datetime | None, datetime | None] | None = None
    if ranges:
        (name, span), = ranges.items()
        if TIME_FIELDS[name] != sort_field:
            return refuse(error("INVALID_SORT_FIELD", f"When filtering on {name}, sort_field "
                                f"must be {TIME_FIELDS[name]}.", "query.sort.sort_field"))
        start = parse_time(span.get("start_at")) if span.get("start_at") else None
        end = parse_time(span.get("end_at")) if span.get("end_at") else None
        if end is None:  # "defaults to the time of the first request for the cursor"
            end = sim.search_ends.get(str(body.get("cursor")), utc_now())
        window = (name, start, end)
    states = (filters.get("state_filter") or {}).get("states")
    field = {v: k for k, v in TIME_FIELDS.items()}.get(str(sort_field))
    if field is None:
        return refuse(error("INVALID_ENUM_VALUE", f"Invalid sort_field {sort_field!r}.",
                            "query.sort.sort_field"))
    found = [order for order in sim.orders.values()
             if order["location_id"] in locations
             and (states is None or order["state"] in states)
             and _within(order, window)
             and (field != "closed_at" or order.get("closed_at"))]
    descending = sort.get("sort_order", "DESC") != "ASC"
    found.sort(key=lambda o: (o.get(field) or "", o["id"]), reverse=descending)
    page = _page(body, found, min(limit, sim.config.orders_page_size))
    if page is None:
        return refuse(error("INVALID_CURSOR", "The cursor is invalid.", "cursor"))
    chosen, cursor = page
    answer: JsonObject = ({"order_entries": [
        {"order_id": o["id"], "location_id": o["location_id"],
         **({"version": o["version"]} if "version" in o else {})} for o in chosen]}
        if body.get("return_entries") else {"orders": chosen})
    if cursor:
        answer["cursor"] = cursor
        if window is not None and window[2] is not None:
            sim.search_ends[cursor] = window[2]
    return Answer(200, answer)


def batch_retrieve_orders(sim: SquareSimState, body: object, seq: int, path: str) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    ids = _strings(body.get("order_ids"))
    if not ids:
        return refuse(error("MISSING_REQUIRED_PARAMETER", "Field must be set", "order_ids"))
    if len(ids) > MAX_BATCH_ORDERS:
        sim.violate(seq, "too_many_orders", path, f"{len(ids)} order ids")
        return refuse(error("ARRAY_LENGTH_TOO_LONG", "At most 100 order_ids.", "order_ids"))
    location = body.get("location_id")
    orders = [sim.orders[i] for i in dict.fromkeys(ids) if i in sim.orders
              and (location is None or sim.orders[i]["location_id"] == location)]
    return Answer(200, {"orders": orders} if orders else {})


def batch_retrieve_changes(sim: SquareSimState, body: object, seq: int, path: str) -> Answer:
    if not isinstance(body, dict):
        return refuse(error("BAD_REQUEST", "The request body must be a JSON object."))
    limit = body.get("limit", DEFAULT_CHANGES_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        return refuse(error("INVALID_VALUE", "limit must be a positive integer.", "limit"))
    if limit > MAX_CHANGES_LIMIT:
        sim.violate(seq, "read_limit_out_of_range", path, f"limit {limit}")
        return refuse(error("VALUE_TOO_HIGH", "limit must be at most 1000.", "limit"))
    ids, locations = _strings(body.get("catalog_object_ids")), _strings(body.get("location_ids"))
    types = _strings(body.get("types")) or ["PHYSICAL_COUNT", "ADJUSTMENT"]
    if "TRANSFER" in types:
        return refuse(error("INVALID_VALUE", "types may not include TRANSFER.", "types"))
    states = _strings(body.get("states"))
    after = parse_time(body.get("updated_after")) if body.get("updated_after") else None
    before = parse_time(body.get("updated_before")) if body.get("updated_before") else None
    rows: list[JsonObject] = []
    for change in sim.inventory.changes:
        kind = str(change["type"])
        data = change["physical_count" if kind == "PHYSICAL_COUNT" else "adjustment"]
        assert isinstance(data, dict)
        created = parse_time(data["created_at"]) or utc_now()
        if (kind in types and (ids is None or data["catalog_object_id"] in ids)
                and (locations is None or data["location_id"] in locations)
                and (states is None or kind != "ADJUSTMENT"
                     or data["from_state"] in states or data["to_state"] in states)
                and (after is None or created > after)
                and (before is None or created < before)):
            rows.append(change)
    rows.sort(key=lambda c: _occurred(c))  # oldest first
    page = _page(body, rows, limit)
    if page is None:
        return refuse(error("INVALID_CURSOR", "The cursor is invalid.", "cursor"))
    chosen, cursor = page
    answer: JsonObject = {"changes": chosen}
    if cursor:
        answer["cursor"] = cursor
    return Answer(200, answer)


def _within(order: JsonObject,
            window: tuple[str, datetime | None, datetime | None] | None) -> bool:
    if window is None:
        return True
    name, start, end = window
    moment = parse_time(order.get(name))
    if moment is None:
        return False
    return (start is None or moment >= start) and (end is None or moment <= end)


def _occurred(change: JsonObject) -> str:
    data = change.get("physical_count") or change.get("adjustment") or {}
    moment = parse_time(data.get("occurred_at"))
    return format_time(moment) if moment is not None else ""

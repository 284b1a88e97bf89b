"""Catalog writes in the Square simulator: UpsertCatalogObject (`POST /v2/catalog/object`)
and BatchUpsertCatalogObjects (`POST /v2/catalog/batch-upsert`) on ITEM and ITEM_VARIATION
objects, as the Catalog API documents them (a new ITEM and its ITEM_VARIATION carry
temporary `#` ids, answered in `id_mappings`): no sparse updates (the whole object is sent),
an update names the object's id and its current `version` (else 400 VERSION_MISMATCH
"Object version does not match latest database version."), every write bumps the version,
`idempotency_key` is required and a replay answers the first response. Names are 1-512
characters, prices a non-negative integer amount in the seller's currency (USD).

Route: GET /_sim/catalog (name, description, price, version and the locations the
variation is absent at per SKU, writes)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from stocksync.simulators.square_api import Answer, error, refuse, variation_wire
from stocksync.simulators.square_state import (
    SquareSimState,
    Variation,
    format_time,
    new_object_id,
    utc_now,
)

JsonObject = dict[str, Any]
CURRENCY = "USD"
MAX_NAME = 512
MAX_BATCH_OBJECTS = 10_000


@dataclass(slots=True)
class Catalog:
    descriptions: dict[str, str] = field(default_factory=dict)  # item id -> description
    answers: dict[str, JsonObject] = field(default_factory=dict)  # idempotency key ->
    created: dict[str, str] = field(default_factory=dict)  # temporary #id -> object id
    writes: int = 0  # upsert calls that changed objects


def catalog(sim: SquareSimState) -> Catalog:
    found = sim.__dict__.get("content_catalog")
    if found is None:
        found = sim.__dict__["content_catalog"] = Catalog()
    return found  # type: ignore[no-any-return]


def item_wire(sim: SquareSimState, v: Variation) -> JsonObject:
    return {"type": "ITEM", "id": v.item_id, "version": v.version, "updated_at": v.updated_at,
            "is_deleted": v.is_deleted, "present_at_all_locations": True,
            "item_data": {"name": v.item_name,
                          "description": catalog(sim).descriptions.get(v.item_id, ""),
                          "variations": [variation_wire(v)]}}


Change = Callable[[], None]


def _new_item(sim: SquareSimState, obj: JsonObject, where: str
              ) -> tuple[Variation, Change] | JsonObject:
    """A new ITEM (a temporary `#id`) with its one new ITEM_VARIATION carrying the SKU."""
    data = obj.get("item_data") or {}
    name = data.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        return error("INVALID_VALUE", f"name must be 1-{MAX_NAME} characters",
                     f"{where}.item_data.name")
    variations = data.get("variations") or []
    if len(variations) != 1 or not str(variations[0].get("id", "")).startswith("#"):
        return error("INVALID_VALUE", "the simulator creates an item with one new variation",
                     f"{where}.item_data.variations")
    vdata = variations[0].get("item_variation_data") or {}
    sku = vdata.get("sku")
    if not isinstance(sku, str) or not sku or sim.variations_by_sku(sku):
        return error("INVALID_VALUE", "a new variation needs a SKU no other one has",
                     f"{where}.item_data.variations[0].item_variation_data.sku")
    price = _price(vdata)
    if isinstance(price, dict):
        return price
    made = Variation(new_object_id(), new_object_id(), sku, str(vdata.get("name") or
                     "Regular"), name, price or 0, vdata.get("track_inventory") is not False)

    def create() -> None:
        sim.variations[made.id] = made
        catalog(sim).descriptions[made.item_id] = str(data.get("description") or "")
        catalog(sim).created[str(obj["id"])] = made.item_id
        catalog(sim).created[str(variations[0]["id"])] = made.id
    return made, create


def _check(sim: SquareSimState, obj: object, where: str) -> tuple[Variation, Change] | JsonObject:
    """The variation an object writes to and how, or Square's error."""
    if not isinstance(obj, dict) or obj.get("type") not in ("ITEM", "ITEM_VARIATION"):
        return error("INVALID_VALUE", "object.type must be ITEM or ITEM_VARIATION",
                     f"{where}.type")
    if obj["type"] == "ITEM" and str(obj.get("id", "")).startswith("#"):
        return _new_item(sim, obj, where)
    key = "item_id" if obj["type"] == "ITEM" else "id"
    found = next((v for v in sim.variations.values() if getattr(v, key) == obj.get("id")),
                 None)
    if found is None or found.is_deleted:
        return error("NOT_FOUND", f"Object `{obj.get('id')}` not found.", f"{where}.id")
    if obj.get("version") != found.version:
        return error("VERSION_MISMATCH", "Object version does not match latest database "
                     "version.", f"{where}.version")
    if obj["type"] == "ITEM":
        data = obj.get("item_data") or {}
        name = data.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
            return error("INVALID_VALUE", f"name must be 1-{MAX_NAME} characters",
                         f"{where}.item_data.name")
        variations = [v for v in data.get("variations") or [] if v.get("id") == found.id]
        price = _price(variations[0].get("item_variation_data") or {}) if variations else None
        if isinstance(price, dict) and "code" in price:
            return price
        # The whole object is written: the variation's absent_at_location_ids (where it is
        # not sold, present_at_all_locations being true) are what this write carries.
        absent = [str(i) for i in (variations[0].get("absent_at_location_ids") or [])
                  ] if variations else found.absent_at

        def apply_item() -> None:
            found.item_name = name
            found.absent_at = absent
            catalog(sim).descriptions[found.item_id] = str(data.get("description") or "")
            if isinstance(price, int):
                found.price_cents = price
        return found, apply_item
    price = _price(obj.get("item_variation_data") or {})
    if isinstance(price, dict):
        return price

    def apply_variation() -> None:
        if isinstance(price, int):
            found.price_cents = price
    return found, apply_variation


def _price(data: JsonObject) -> int | JsonObject | None:
    money = data.get("price_money")
    if money is None:
        return None
    amount = money.get("amount") if isinstance(money, dict) else None
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        return error("INVALID_VALUE", "price_money.amount must be a non-negative integer",
                     "price_money.amount")
    if money.get("currency") != CURRENCY:
        return error("INVALID_VALUE", f"price_money.currency must be {CURRENCY}, the "
                     "seller's currency", "price_money.currency")
    return amount


def upsert(sim: SquareSimState, body: object, objects: list[object] | None) -> Answer:
    if not isinstance(body, dict) or not isinstance(body.get("idempotency_key"), str) \
            or not body["idempotency_key"]:
        return refuse(error("MISSING_REQUIRED_PARAMETER", "idempotency_key is required",
                            "idempotency_key"))
    key = body["idempotency_key"]
    book = catalog(sim)
    if key in book.answers:
        return Answer(200, book.answers[key], key, replayed=True)
    single = objects is None
    if single:
        objects = [body.get("object")]
    assert objects is not None
    if not objects or len(objects) > MAX_BATCH_OBJECTS:
        return refuse(error("INVALID_VALUE", "no objects to upsert", "batches"))
    checked = [_check(sim, o, f"objects[{i}]") for i, o in enumerate(objects)]
    problems = [c for c in checked if isinstance(c, dict)]
    if problems:  # a batch is all or nothing
        return refuse(*problems)
    written: list[Variation] = []
    mappings: list[JsonObject] = []
    for found, apply in checked:  # type: ignore[misc]
        before = dict(catalog(sim).created)
        apply()
        mappings += [{"client_object_id": k, "object_id": v}
                     for k, v in catalog(sim).created.items() if k not in before]
        found.version = max(found.version + 1, int(time.time() * 1000))
        found.updated_at = format_time(utc_now())
        written.append(found)
    book.writes += 1
    wires = [item_wire(sim, v) if o.get("type") == "ITEM" else variation_wire(v)  # type: ignore[union-attr]
             for v, o in zip(written, objects, strict=True)]
    answer: JsonObject = ({"catalog_object": wires[0], "id_mappings": mappings} if single
                          else {"objects": wires, "id_mappings": mappings})
    book.answers[key] = answer
    return Answer(200, answer, key)


Serve = Callable[[Request, str, Callable[[object, int, str], Answer]], Awaitable[JSONResponse]]


def install(app: FastAPI, sim: SquareSimState, serve: Serve) -> None:
    @app.post("/v2/catalog/object")
    async def upsert_object(request: Request) -> JSONResponse:
        return await serve(request, "ITEMS_WRITE", lambda body, seq, path: upsert(sim, body, None))

    @app.post("/v2/catalog/batch-upsert")
    async def batch_upsert(request: Request) -> JSONResponse:
        def run(body: object, seq: int, path: str) -> Answer:
            batches = body.get("batches") if isinstance(body, dict) else None
            if not isinstance(batches, list) or not batches:
                return refuse(error("MISSING_REQUIRED_PARAMETER", "batches is required",
                                    "batches"))
            objects = [o for b in batches if isinstance(b, dict) for o in b.get("objects") or []]
            return upsert(sim, body, objects)
        return await serve(request, "ITEMS_WRITE", run)

    @app.get("/_sim/catalog")
    async def get_catalog() -> dict[str, Any]:
        return {"items": {v.sku: {"name": v.item_name, "price_cents": v.price_cents,
                                  "description": catalog(sim).descriptions.get(v.item_id, ""),
                                  "version": v.version, "absent_at": list(v.absent_at)}
                          for v in sim.variations.values()}, "writes": catalog(sim).writes}

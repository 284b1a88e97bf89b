"""Product content in the WooCommerce simulator: `name`, `description`, `regular_price`,
`sale_price`, `images` (a variation: `image`) written through PUT /products/{id} and the
batch endpoints, validated like WooCommerce's REST controller (prices are decimal strings,
a name is not empty, image `src` is an http(s) URL), shown in every product
representation (and so in product.updated payloads).

Routes: GET /_sim/catalog (content per SKU), PUT /_sim/catalog/{sku} (a merchant edits a
product in wp-admin: {name?, description?, regular_price?, sale_price?, date_modified_gmt?};
fires product.updated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, HTTPException, Request

from stocksync.simulators.woocommerce_state import (
    Item,
    ItemError,
    JsonObject,
    WooCommerceSimState,
    now_gmt,
)

CONTENT_KEYS = ("name", "description", "regular_price", "sale_price", "images", "image",
                "status")
STATUSES = ("draft", "pending", "private", "publish")  # a product's or variation's status
_DECIMAL = re.compile(r"^\d+(\.\d+)?$")


@dataclass(slots=True)
class Content:
    description: str = ""
    regular_price: str = ""
    sale_price: str = ""
    images: list[JsonObject] = field(default_factory=list)
    status: str = "publish"


@dataclass(slots=True)
class Catalog:
    content: dict[int, Content] = field(default_factory=dict)
    writes: int = 0  # product saves that changed content

    def of(self, item_id: int) -> Content:
        return self.content.setdefault(item_id, Content())


def catalog(sim: WooCommerceSimState) -> Catalog:
    found = sim.__dict__.get("content_catalog")
    if found is None:
        found = sim.__dict__["content_catalog"] = Catalog()
    return found  # type: ignore[no-any-return]


def _price(spec: JsonObject, key: str) -> str | None:
    if key not in spec:
        return None
    value = spec[key]
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise ItemError("rest_invalid_param", f"Invalid parameter(s): {key}")
    return value


def _images(value: object) -> list[JsonObject]:
    if not isinstance(value, list) or not all(isinstance(i, dict) for i in value):
        raise ItemError("rest_invalid_param", "Invalid parameter(s): images")
    out = []
    for image in value:
        src = image.get("src")
        if not isinstance(src, str) or not re.match(r"^https?://", src):
            raise ItemError("woocommerce_product_image_upload_error",
                            f"Error getting remote image {src}.")
        out.append({"src": src, "alt": str(image.get("alt") or "")})
    return out


def check_content(spec: JsonObject, name: object) -> tuple[str | None, str | None,
                                                          list[JsonObject] | None]:
    """The prices and images of a create or update, or the ItemError WooCommerce answers;
    `name`: the product's name after it (the given one, else its current one)."""
    if not isinstance(name, str) or not name.strip():
        raise ItemError("rest_invalid_param", "Invalid parameter(s): name")
    images = _images(spec["images"]) if "images" in spec else None
    if spec.get("image") is not None:
        images = _images([spec["image"]])
    return _price(spec, "regular_price"), _price(spec, "sale_price"), images


def apply_content(sim: WooCommerceSimState, item: Item, spec: JsonObject) -> bool:
    """Validate every content key first, then apply; True when something was given."""
    if not any(k in spec for k in CONTENT_KEYS):
        return False
    name = spec.get("name", item.name)
    regular, sale, images = check_content(spec, name)
    assert isinstance(name, str)
    status = spec.get("status", catalog(sim).of(item.id).status)
    if status not in STATUSES:
        raise ItemError("rest_invalid_param", "Invalid parameter(s): status")
    content = catalog(sim).of(item.id)
    item.name = name
    content.status = status
    if "description" in spec:
        content.description = str(spec["description"] or "")
    if regular is not None:
        content.regular_price = regular
    if sale is not None:
        content.sale_price = sale
    if images is not None:
        content.images = images
    item.modified_gmt = now_gmt()
    catalog(sim).writes += 1
    return True


def content_json(sim: WooCommerceSimState, item: Item) -> JsonObject:
    content = catalog(sim).of(item.id)
    images = [{"id": i + 1, "src": img["src"], "alt": img["alt"]}
              for i, img in enumerate(content.images)]
    body: JsonObject = {
        "description": content.description,
        "price": content.sale_price or content.regular_price,
        "regular_price": content.regular_price, "sale_price": content.sale_price,
        "on_sale": bool(content.sale_price), "status": content.status,
    }
    if item.type == "variation":
        body["image"] = images[0] if images else None
    else:
        body["images"] = images
    return body


def install(app: FastAPI, sim: WooCommerceSimState) -> None:
    @app.get("/_sim/catalog")
    async def get_catalog() -> dict[str, Any]:
        return {"items": {i.sku: {"name": i.name, **content_json(sim, i)}
                          for i in sim.items.values()}, "writes": catalog(sim).writes}

    @app.put("/_sim/catalog/{sku:path}")
    async def merchant_edit(sku: str, request: Request) -> JsonObject:
        item = sim.item_by_sku(sku)
        if item is None:
            raise HTTPException(404, f"no product with SKU {sku}")
        body = await request.json()
        try:
            apply_content(sim, item, body)
        except ItemError as exc:
            raise HTTPException(400, exc.message) from exc
        item.modified_gmt = str(body.get("date_modified_gmt") or now_gmt())
        sim.emit("product.updated", item.id)
        return {"name": item.name, **content_json(sim, item)}

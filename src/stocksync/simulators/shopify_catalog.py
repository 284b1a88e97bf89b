"""Product content in the Shopify simulator: `productUpdate` and `productVariantsBulkUpdate`
(Admin GraphQL, validated like Shopify: unknown ids and bad prices are userErrors), a
merchant's edit in the admin, and the REST `products/update` webhook either fires.

Routes: GET /_sim/catalog (every product's content), PUT /_sim/catalog/{sku} (a merchant
edits the product of a variant: {title?, body_html?, price?, compare_at_price?}).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import uuid4

from fastapi import FastAPI, HTTPException, Request

from stocksync.simulators.shopify_media import add_media, check_media, media_of
from stocksync.simulators.shopify_operation import Executed, Operation, invalid_variable
from stocksync.simulators.shopify_state import (
    JsonObject,
    Product,
    ShopifySimState,
    gid,
    now_iso,
    parse_gid,
)

MUTATION_COST = 10
MAX_TITLE = 255  # Shopify: "Title is too long (maximum is 255 characters)"
STATUSES = ("ACTIVE", "ARCHIVED", "DRAFT")


@dataclass(slots=True)
class ProductContent:
    description_html: str = ""
    seo_title: str | None = None
    seo_description: str | None = None
    status: str = "ACTIVE"  # ProductStatus: ACTIVE, ARCHIVED, DRAFT
    updated_at: str = field(default_factory=now_iso)


@dataclass(slots=True)
class Catalog:
    """What the base state does not keep: descriptions, SEO, compare-at prices, writes."""

    content: dict[int, ProductContent] = field(default_factory=dict)  # product id ->
    compare_at: dict[int, str | None] = field(default_factory=dict)  # variant id ->
    writes: int = 0  # content mutations applied (benchmarks: calls that changed something)

    def of(self, product_id: int) -> ProductContent:
        return self.content.setdefault(product_id, ProductContent())


def catalog(state: ShopifySimState) -> Catalog:
    found = state.__dict__.get("content_catalog")
    if found is None:
        found = state.__dict__["content_catalog"] = Catalog()
    return found  # type: ignore[no-any-return]


def _money(value: object) -> str | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return "invalid"
    if amount < 0 or amount != amount:
        return "invalid"
    return format(amount.quantize(Decimal("0.01")), "f")


def cost_mutation(op: Operation) -> int:
    return MUTATION_COST


def run_product_update(state: ShopifySimState, op: Operation) -> Executed:
    """productUpdate(product: ProductUpdateInput!) (input: ProductInput before 2024-10)."""
    spec = op.variables.get("product") or op.variables.get("input")
    if not isinstance(spec, dict):
        raise invalid_variable("product", "Expected value to be an object")
    product = state.products.get(parse_gid(spec.get("id"), "Product") or -1)
    if product is None:
        return _user_errors(op, "product", ["id"], "Product does not exist")
    title = spec.get("title", product.title)
    if not isinstance(title, str) or not title.strip():
        return _user_errors(op, "product", ["title"], "Title can't be blank")
    if len(title) > MAX_TITLE:
        return _user_errors(op, "product", ["title"],
                            f"Title is too long (maximum is {MAX_TITLE} characters)")
    status = spec.get("status", catalog(state).of(product.id).status)
    if status not in STATUSES:
        return _user_errors(op, "product", ["status"], f"Status {status!r} is not a "
                            "ProductStatus (ACTIVE, ARCHIVED, DRAFT)")
    images = check_media(op.variables.get("media"), len(media_of(state, product.id)))
    if isinstance(images, str):
        return _media_error(op, "product", images)
    content = catalog(state).of(product.id)
    product.title = title
    content.status = status
    add_media(state, product.id, images)
    if "descriptionHtml" in spec:
        content.description_html = str(spec["descriptionHtml"] or "")
    seo = spec.get("seo")
    if isinstance(seo, dict):
        content.seo_title, content.seo_description = seo.get("title"), seo.get("description")
    content.updated_at = now_iso()
    catalog(state).writes += 1
    emit_product_update(state, product)
    return Executed({"product": {"id": gid("Product", product.id), "title": product.title},
                     "userErrors": []}, MUTATION_COST)


def bulk_target(state: ShopifySimState, op: Operation
                ) -> tuple[Product, list[JsonObject]] | Executed:
    """The product and the variant specs of a productVariantsBulk* mutation, or its error."""
    product = state.products.get(parse_gid(op.variables.get("productId"), "Product") or -1)
    if product is None:
        return _user_errors(op, "productVariants", ["productId"], "Product does not exist",
                            "PRODUCT_DOES_NOT_EXIST")
    variants = op.variables.get("variants")
    if not isinstance(variants, list) or not variants:
        raise invalid_variable("variants", "Expected a non-empty list")
    return product, variants


def run_variants_bulk_update(state: ShopifySimState, op: Operation) -> Executed:
    target = bulk_target(state, op)
    if isinstance(target, Executed):
        return target
    product, variants = target
    changes = []
    for i, spec in enumerate(variants):
        variant_id = parse_gid(spec.get("id") if isinstance(spec, dict) else None,
                               "ProductVariant")
        if variant_id not in product.variant_ids:
            return _user_errors(op, "productVariants", ["variants", str(i), "id"],
                                "Product variant does not exist",
                                "PRODUCT_VARIANT_DOES_NOT_EXIST")
        price, compare = _money(spec.get("price")), _money(spec.get("compareAtPrice"))
        if "invalid" in (price, compare):
            return _user_errors(op, "productVariants", ["variants", str(i), "price"],
                                "Price must be a non-negative decimal", "INVALID_INPUT")
        changes.append((variant_id, spec, price, compare))
    book = catalog(state)
    for variant_id, spec, price, compare in changes:
        variant = state.variants[variant_id]
        if "price" in spec and price is not None:
            variant.price = price
        if "compareAtPrice" in spec:
            book.compare_at[variant_id] = compare
    book.writes += 1
    emit_product_update(state, product)
    return Executed({"productVariants": [
        {"id": gid("ProductVariant", v), "price": state.variants[v].price,
         "compareAtPrice": book.compare_at.get(v)} for v, *_ in changes],
        "userErrors": []}, MUTATION_COST)


def _media_error(op: Operation, key: str, message: str) -> Executed:
    return Executed({key: None, "userErrors": [], "mediaUserErrors": [
        {"field": ["media"], "message": message, "code": "INVALID"}]}, MUTATION_COST,
        ["INVALID"])


def _user_errors(op: Operation, key: str, path: list[str], message: str,
                 code: str | None = None) -> Executed:
    error: JsonObject = {"field": path, "message": message}
    if code:
        error["code"] = code
    return Executed({key: None, "userErrors": [error]}, MUTATION_COST, [code or "INVALID"])


def product_json(state: ShopifySimState, product: Product) -> JsonObject:
    """The REST Product resource, as the products/update webhook carries it."""
    content = catalog(state).of(product.id)
    book = catalog(state)
    return {
        "id": product.id, "admin_graphql_api_id": gid("Product", product.id),
        "title": product.title, "body_html": content.description_html,
        "status": content.status.lower(),
        "images": [{"src": m["src"], "alt": m["alt"]} for m in media_of(state, product.id)],
        "updated_at": content.updated_at,
        "variants": [{"id": v, "product_id": product.id, "sku": state.variants[v].sku,
                      "price": state.variants[v].price,
                      "compare_at_price": book.compare_at.get(v),
                      "admin_graphql_api_id": gid("ProductVariant", v)}
                     for v in product.variant_ids],
    }


def emit_product_update(state: ShopifySimState, product: Product) -> None:
    state.emit("products/update", product_json(state, product), uuid4().hex)


def install(app: FastAPI, state: ShopifySimState) -> None:
    @app.get("/_sim/catalog")
    async def get_catalog() -> dict[str, Any]:
        return {"products": [product_json(state, p) for p in state.products.values()],
                "writes": catalog(state).writes}

    @app.put("/_sim/catalog/{sku:path}")
    async def merchant_edit(sku: str, request: Request) -> JsonObject:
        variant = state.variant_by_sku(sku)
        if variant is None:
            raise HTTPException(404, f"no variant with SKU {sku}")
        body = await request.json()
        product = state.products[variant.product_id]
        content = catalog(state).of(product.id)
        if "title" in body:
            product.title = str(body["title"])
        if "body_html" in body:
            content.description_html = str(body["body_html"])
        if "price" in body:
            variant.price = _money(body["price"]) or variant.price
        if "compare_at_price" in body:
            catalog(state).compare_at[variant.id] = _money(body["compare_at_price"])
        content.updated_at = str(body.get("updated_at") or now_iso())
        emit_product_update(state, product)
        return product_json(state, product)

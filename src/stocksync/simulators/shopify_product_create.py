"""Listings created by stocksync in the Shopify simulator (create_missing): `productCreate`
then `productVariantsBulkCreate` with the variants' SKUs, prices and stock per location,
validated like Shopify (userErrors naming the field).

Shopify Admin GraphQL (shopify.dev/docs/api/admin-graphql/latest/mutations/productCreate,
…/productVariantsBulkCreate): productCreate(product: ProductCreateInput {title,
descriptionHtml, status}) creates the product (with a standalone "Default Title" variant,
which productVariantsBulkCreate's DEFAULT and REMOVE_STANDALONE_VARIANT strategies delete:
the simulator does not keep it); productVariantsBulkCreate(productId, variants:
[ProductVariantsBulkInput {price, compareAtPrice, inventoryItem {sku, tracked},
inventoryQuantities [{locationId, availableQuantity}]}], strategy).
"""

from __future__ import annotations

from stocksync.simulators.shopify_catalog import (
    MAX_TITLE,
    MUTATION_COST,
    STATUSES,
    _media_error,
    _money,
    _user_errors,
    bulk_target,
    catalog,
    emit_product_update,
)
from stocksync.simulators.shopify_media import add_media, check_media
from stocksync.simulators.shopify_operation import Executed, Operation, invalid_variable
from stocksync.simulators.shopify_state import (
    Level,
    Product,
    ShopifySimState,
    Variant,
    gid,
    now_iso,
    parse_gid,
)


def run_product_create(state: ShopifySimState, op: Operation) -> Executed:
    spec = op.variables.get("product")
    if not isinstance(spec, dict):
        raise invalid_variable("product", "Expected value to be an object")
    title = spec.get("title")
    if not isinstance(title, str) or not title.strip():
        return _user_errors(op, "product", ["title"], "Title can't be blank")
    if len(title) > MAX_TITLE:
        return _user_errors(op, "product", ["title"],
                            f"Title is too long (maximum is {MAX_TITLE} characters)")
    if spec.get("status", "ACTIVE") not in STATUSES:
        return _user_errors(op, "product", ["status"], "Status is not a ProductStatus")
    images = check_media(op.variables.get("media"), 0)
    if isinstance(images, str):
        return _media_error(op, "product", images)
    product = Product(state.new_id(), title)
    state.products[product.id] = product
    add_media(state, product.id, images)
    content = catalog(state).of(product.id)
    content.description_html = str(spec.get("descriptionHtml") or "")
    content.status = str(spec.get("status") or "ACTIVE")
    catalog(state).writes += 1
    return Executed({"product": {"id": gid("Product", product.id), "title": title},
                     "userErrors": []}, MUTATION_COST)


def run_variants_bulk_create(state: ShopifySimState, op: Operation) -> Executed:
    target = bulk_target(state, op)
    if isinstance(target, Executed):
        return target
    product, variants = target
    checked = []
    for i, spec in enumerate(variants):
        where = ["variants", str(i)]
        item = spec.get("inventoryItem") if isinstance(spec, dict) else None
        sku = str((item or {}).get("sku") or "")
        if sku and state.variant_by_sku(sku) is not None:
            # Shopify itself allows a SKU twice; the simulator keys stock by SKU.
            return _user_errors(op, "productVariants", [*where, "inventoryItem", "sku"],
                                f"SKU {sku} already exists", "INVALID_INPUT")
        price, compare = _money(spec.get("price")), _money(spec.get("compareAtPrice"))
        if "invalid" in (price, compare):
            return _user_errors(op, "productVariants", [*where, "price"],
                                "Price must be a non-negative decimal", "INVALID_INPUT")
        levels = {}
        for j, q in enumerate(spec.get("inventoryQuantities") or []):
            location = parse_gid(q.get("locationId"), "Location")
            if location not in state.locations:
                return _user_errors(op, "productVariants",
                                    [*where, "inventoryQuantities", str(j), "locationId"],
                                    "Location does not exist", "INVALID_INPUT")
            levels[location] = int(q.get("availableQuantity") or 0)
        checked.append((sku, price, compare, levels))
    made = []
    for sku, price, compare, levels in checked:
        variant = Variant(state.new_id(), product.id, sku, product.title, price or "0.00",
                          state.new_id())
        state.variants[variant.id] = variant
        state.variant_by_item[variant.inventory_item_id] = variant.id
        product.variant_ids.append(variant.id)
        catalog(state).compare_at[variant.id] = compare
        for location, available in (levels or {state.default_location_id: 0}).items():
            state.levels[(variant.inventory_item_id, location)] = Level(available, 0,
                                                                        now_iso())
        made.append(variant)
    catalog(state).writes += 1
    emit_product_update(state, product)
    return Executed({"productVariants": [
        {"id": gid("ProductVariant", v.id), "sku": v.sku, "price": v.price,
         "inventoryItem": {"id": gid("InventoryItem", v.inventory_item_id)}} for v in made],
        "userErrors": []}, MUTATION_COST)

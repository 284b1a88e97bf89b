"""Product images in the Shopify simulator, the way the Admin GraphQL API manages them now
(shopify.dev/docs/api/admin-graphql/latest, "Manage media for products"):

- `productUpdate(product: {id}, media: [CreateMediaInput {originalSource, alt,
  mediaContentType: IMAGE}])` and `productCreate(..., media:)` add images to a product;
- `fileUpdate(files: [FileUpdateInput {id, referencesToRemove: [product id]}])` takes an
  image off a product (productDeleteMedia is deprecated for it);
- `product(id:) { media(first:) { nodes { id alt ... on MediaImage { image { url } } } } }`
  reads them.

Validated like Shopify: an http(s) originalSource, IMAGE as the content type, alt text of
at most 512 characters, at most 250 media per product (mediaUserErrors otherwise).
"""

from __future__ import annotations

from stocksync.simulators.shopify_operation import Executed, Operation
from stocksync.simulators.shopify_state import JsonObject, ShopifySimState, gid, parse_gid

MAX_MEDIA = 250
MAX_ALT = 512
QUERY_COST = 3


def media_of(state: ShopifySimState, product_id: int) -> list[JsonObject]:
    """The product's images: [{id, src, alt}] (kept beside the simulator's base state)."""
    book: dict[int, list[JsonObject]] = state.__dict__.setdefault("product_media", {})
    return book.setdefault(product_id, [])


def check_media(specs: object, current: int) -> list[JsonObject] | str:
    """CreateMediaInput list -> images to add, or the mediaUserError message."""
    if specs is None:
        return []
    if not isinstance(specs, list):
        return "media must be a list of CreateMediaInput"
    if current + len(specs) > MAX_MEDIA:
        return f"Product can't have more than {MAX_MEDIA} media"
    out = []
    for spec in specs:
        source = spec.get("originalSource") if isinstance(spec, dict) else None
        if not isinstance(source, str) or not source.startswith(("http://", "https://")):
            return "Image URL is invalid"
        if spec.get("mediaContentType") != "IMAGE":
            return "The simulator takes IMAGE media only"
        alt = str(spec.get("alt") or "")
        if len(alt) > MAX_ALT:
            return f"Alt text is too long (maximum is {MAX_ALT} characters)"
        out.append({"src": source, "alt": alt})
    return out


def add_media(state: ShopifySimState, product_id: int, images: list[JsonObject]) -> None:
    for image in images:
        media_of(state, product_id).append(
            {"id": gid("MediaImage", state.new_id()), **image})


def cost_query(op: Operation) -> int:
    return QUERY_COST


def run_product(state: ShopifySimState, op: Operation) -> Executed:
    product_id = parse_gid(op.variables.get("id"), "Product")
    if product_id not in state.products:
        return Executed(None, QUERY_COST)
    nodes = [{"id": m["id"], "alt": m["alt"], "mediaContentType": "IMAGE",
              "image": {"url": m["src"]}} for m in media_of(state, product_id)]
    return Executed({"id": gid("Product", product_id), "media": {"nodes": nodes}}, QUERY_COST)


def run_file_update(state: ShopifySimState, op: Operation) -> Executed:
    files = op.variables.get("files")
    if not isinstance(files, list) or not files:
        return Executed({"files": None, "userErrors": [
            {"field": ["files"], "message": "files must be a non-empty list",
             "code": "INVALID"}]}, 10, ["INVALID"])
    updated = []
    for i, spec in enumerate(files):
        file_id = spec.get("id") if isinstance(spec, dict) else None
        owners = [p for p in state.products if any(
            m["id"] == file_id for m in media_of(state, p))]
        if not owners:
            return Executed({"files": None, "userErrors": [
                {"field": ["files", str(i), "id"], "message": "File id does not exist",
                 "code": "FILE_DOES_NOT_EXIST"}]}, 10, ["FILE_DOES_NOT_EXIST"])
        for ref in spec.get("referencesToRemove") or []:
            product_id = parse_gid(ref, "Product")
            if product_id in owners:
                media_of(state, product_id)[:] = [
                    m for m in media_of(state, product_id) if m["id"] != file_id]
        updated.append({"id": file_id})
    return Executed({"files": updated, "userErrors": []}, 10)

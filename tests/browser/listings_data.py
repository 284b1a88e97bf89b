"""Fashion items, an eBay channel (the real eBay simulator) and generated product photos
for the listings page: shared by its browser tests and the screenshot script."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx

from tests.e2e.channel_stacks import Ebay
from tests.listings.model_server import ModelServer
from tests.listings.test_model_in_service import png

JACKET = {"title": "Vintage leather jacket", "brand": "Schott", "gender": "male",
          "material": "Leather", "garment_type": "biker jacket", "size": "L",
          "colour": "black", "attributes": {"Fit": "regular", "Style": "amazing vintage",
                                            "Pattern": "solid"}}
TEE = {"title": "Grey tee", "brand": "Acme", "gender": "women", "material": "cotton",
       "garment_type": "tee", "colour": "grey", "size": "M"}
COAT = {"title": "Wool coat", "brand": "Fluffyco", "gender": "women", "material": "Wool",
        "garment_type": "Coat", "colour": "Camel", "size": "M"}


@contextmanager
def ebay_and_images() -> Iterator[tuple[Ebay, ModelServer]]:
    """The eBay simulator, and the scripted model server (also the image host: a navy
    coat on white as the main image, a small red one behind)."""
    with ExitStack() as stack:
        ebay = Ebay(stack)
        model = stack.enter_context(ModelServer())
        model.images.update({"main.png": png((1200, 1200), (255, 255, 255), (20, 30, 90)),
                             "back.png": png((400, 400), (200, 20, 30), (0, 0, 0))})
        yield ebay, model


def add_channel(api: httpx.Client, ebay: Ebay, code: str, skus: list[str]) -> None:
    """An eBay channel listing only these SKUs (other tests' items stay off it)."""
    settings, credentials = ebay.channel()
    for sku in skus:
        ebay.add(sku)
    answer = api.post("/v1/channels", json={
        "code": code, "kind": "ebay", "name": "eBay US", "locations": ["WH"],
        "settings": settings, "credentials": credentials, "rules": {"include": skus}})
    assert answer.status_code == 201, answer.text


def put_items(api: httpx.Client, items: dict[str, dict[str, Any]]) -> None:
    assert api.put("/v1/locations/WH", json={"name": "Warehouse"}).status_code in (200, 201)
    for sku, body in items.items():
        answer = api.put(f"/v1/items/{sku}", json=body)
        assert answer.status_code in (200, 201), answer.text


SHOWCASE = {"LST-JKT-1": JACKET, "LST-TEE-2": TEE,
            "LST-COAT-3": {**COAT, "brand": "Goodwear"},
            "LST-PARKA-4": {**COAT, "brand": "Longline Outfitters", "garment_type": "Parka",
                            "material": "Recycled Polyester", "colour": "Olive"},
            "LST-DRESS-5": {**COAT, "brand": "Fluffyco", "garment_type": "Wrap Dress",
                            "material": "Viscose", "colour": "Red", "size": "S"},
            "LST-SHIRT-6": {**TEE, "brand": "Nogarment Co", "garment_type": "Oxford Shirt",
                            "material": "Cotton", "gender": "male", "colour": "White"}}


def fill_listings(svc: Any, api: httpx.Client, ebay: Ebay, model: ModelServer) -> None:
    """The screenshot's listings: fashion items on an eBay and the Shopify channel, drafts
    by the scripted model (accepted, repaired, replaced), one approved, one rejected."""
    svc.settings = svc.settings.model_copy(update={
        "listing_llm_base_url": model.base_url, "listing_llm_model": "local-model",
        "listing_vision_model": "local-vision", "listing_llm_timeout_seconds": 2.0})
    main = {"images": [{"url": f"{model.url}/img/{n}"} for n in ("main.png", "back.png")]}
    put_items(api, {sku: {**body, **main} for sku, body in SHOWCASE.items()})
    add_channel(api, ebay, "ebay-us", list(SHOWCASE))
    answer = api.post("/v1/listings/drafts", json={"skus": list(SHOWCASE),
                                                   "channels": ["ebay-us", "shop"]})
    assert answer.status_code == 201, answer.text
    drafts = {(d["sku"], d["channel"]): d["id"] for d in answer.json()["drafts"]}
    api.post(f"/v1/listings/drafts/{drafts['LST-TEE-2', 'ebay-us']}/approve")
    api.post(f"/v1/listings/drafts/{drafts['LST-TEE-2', 'shop']}/reject")
    assert api.post("/v1/listings/suggestions/LST-COAT-3").status_code == 200

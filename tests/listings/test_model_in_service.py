"""The service with a model and a vision model configured (the scripted local server):
drafts carry the model's outcome and are counted in the metrics; an item's images become
suggestions (Pillow colours, the vision model's attributes) and the item is not changed.
Image downloads keep their size and time limits."""

from __future__ import annotations

import io
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image, ImageDraw

from stocksync.bootstrap import build_service
from stocksync.config import Settings
from tests.conftest import METRICS_HEADERS, LiveServer, new_tenant
from tests.listings.model_server import ModelServer

TIMEOUT = 0.5


def png(size: tuple[int, int], background: tuple[int, int, int],
        garment: tuple[int, int, int]) -> bytes:
    image = Image.new("RGB", size, background)
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 4, h // 4, 3 * w // 4, 3 * h // 4), fill=garment)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def model() -> Iterator[ModelServer]:
    with ModelServer(slow_seconds=TIMEOUT * 3) as live:
        live.images.update({
            "main.png": png((1200, 1200), (255, 255, 255), (20, 30, 90)),
            "back.png": png((400, 400), (200, 20, 30), (0, 0, 0)),
            "huge.png": b"\x89PNG" + b"\0" * 300_000,
            "slow.png": png((600, 600), (255, 255, 255), (0, 0, 0))})
        yield live


@pytest.fixture
def api(db_settings: Settings, model: ModelServer) -> Iterator[httpx.Client]:
    settings = db_settings.model_copy(update={
        "listing_llm_base_url": model.base_url, "listing_llm_model": "test-model",
        "listing_vision_model": "test-vision", "listing_llm_timeout_seconds": TIMEOUT,
        "listing_image_max_bytes": 200_000, "listing_image_timeout_seconds": TIMEOUT})
    svc = build_service(settings)
    tenant = new_tenant(svc)
    with LiveServer(svc, workers=False) as live, httpx.Client(
            base_url=live.url, headers=tenant.headers, timeout=30) as client:
        assert client.put("/v1/locations/WH", json={"name": "WH"}).status_code == 201
        answer = client.post("/v1/channels?verify=false", json={
            "code": "ebay-us", "kind": "ebay", "name": "eBay", "locations": ["WH"],
            "settings": {}, "credentials": {"client_id": "a", "client_secret": "b",
                                            "refresh_token": "c"}})
        assert answer.status_code == 201, answer.text
        yield client
    svc.engine.dispose()


def put(client: httpx.Client, sku: str, brand: str, **more: object) -> None:
    answer = client.put(f"/v1/items/{sku}", json={
        "brand": brand, "gender": "women", "material": "Wool", "garment_type": "Coat",
        "colour": "Camel", "size": "M", **more})
    assert answer.status_code in (200, 201), answer.text


def test_model_outcomes_are_kept_on_drafts_and_counted(api: httpx.Client) -> None:
    for sku, brand in (("A", "Goodwear"), ("B", "Fluffy"), ("C", "Failing")):
        put(api, sku, brand)
    answer = api.post("/v1/listings/drafts", json={"skus": ["A", "B", "C"]})
    assert answer.status_code == 201, answer.text
    drafts = {d["sku"]: d for d in answer.json()["drafts"]}
    assert drafts["A"]["outcome"] == "llm_accepted"
    assert drafts["A"]["title"] == "Goodwear Women's Wool Coat Camel Size M"
    assert drafts["B"]["outcome"] == "llm_repaired" and "Amazing" in drafts["B"]["model_title"]
    assert "banned word" in drafts["B"]["reason"]
    assert drafts["C"]["outcome"] == "fallback" and drafts["C"]["reason"] == \
        "model: the model answered 500"
    assert drafts["C"]["title"] == "Failing Women's Wool Coat Size M Camel"
    rules_only = api.post("/v1/listings/drafts", json={"sku": "B", "use_model": False})
    assert rules_only.json()["drafts"][0]["outcome"] == "rules"
    metrics = api.get("/metrics", headers=METRICS_HEADERS).text
    for outcome in ("llm_accepted", "llm_repaired", "fallback", "rules"):
        assert f'outcome="{outcome}"' in metrics
    assert "stocksync_listing_drafts_total" in metrics


def test_images_become_suggestions_and_never_change_the_item(api: httpx.Client,
                                                             model: ModelServer) -> None:
    urls = [f"{model.url}/img/{n}" for n in ("main.png", "back.png", "missing.png",
                                              "huge.png", "slow.png")]
    put(api, "COAT-1", "Acme", colour="Black", images=[{"url": u} for u in urls])
    answer = api.post("/v1/listings/suggestions/COAT-1")
    assert answer.status_code == 200, answer.text
    found = answer.json()
    images = {i["url"].rsplit("/", 1)[1]: i for i in found["images"]}
    assert images["main.png"]["problems"] == [] and images["main.png"]["main"]
    assert images["main.png"]["colours"][0]["name"] == "White"
    assert any("under 500" in p for p in images["back.png"]["problems"])
    assert images["missing.png"]["error"] == "answered 404"
    assert "over 200000" in images["huge.png"]["error"]
    assert images["slow.png"]["error"] == "timed out"
    suggested = {(s["attribute"], s["source"]): s for s in found["suggestions"]}
    colour = suggested[("colour", "pillow")]
    assert colour["value"] == "Navy" and colour["confidence"] > 0.8
    assert colour["merchant_value"] == "Black"
    material = suggested[("material", "vision:test-vision")]
    assert (material["value"], material["confidence"]) == ("Denim", 0.82)
    assert material["merchant_value"] == "Wool"
    assert ("neckline", "vision:test-vision") not in suggested
    item = api.get("/v1/items/COAT-1").json()
    assert (item["colour"], item["material"]) == ("Black", "Wool")  # untouched
    stored = api.get("/v1/listings/suggestions/COAT-1").json()["suggestions"]
    assert {(s["attribute"], s["value"]) for s in stored} == {
        ("colour", "Navy"), ("material", "Denim"), ("pattern", "Solid"),
        ("garment_type", "Jacket"), ("sleeve_length", "Long Sleeve")}
    assert api.post("/v1/listings/suggestions/NOPE").status_code == 404

"""Attributes from an item's images: each image is downloaded (httpx, with a size and a
time limit), read with Pillow (dominant colours, image checks) and, with a vision model
configured, described (material, pattern, garment type, neckline, sleeve length, each
with a confidence). Everything is stored as suggestions: the item's data is never changed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from stocksync.core.errors import UnknownSku
from stocksync.listings import store
from stocksync.listings.colours import ImageUnreadable, analyse
from stocksync.listings.llm import ModelUnavailable

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync

MAX_IMAGES = 8  # per item: the main image and the first alternates
CHUNK = 64 * 1024


class ImageRefused(ValueError):
    pass


def fetch_image(client: httpx.Client, url: str, max_bytes: int) -> tuple[bytes, str]:
    """The image's bytes and content type; ImageRefused when it cannot be had within the
    limits (a declared or an actual size over `max_bytes`, an error status, a time-out)."""
    if not url.lower().startswith(("http://", "https://")):
        raise ImageRefused("not an http(s) URL")
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise ImageRefused(f"answered {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise ImageRefused(f"{declared} bytes, over {max_bytes}")
            body = bytearray()
            for chunk in response.iter_bytes(CHUNK):
                body += chunk
                if len(body) > max_bytes:  # a server may not say, or lie
                    raise ImageRefused(f"over {max_bytes} bytes")
            kind = response.headers.get("content-type", "image/jpeg").split(";")[0]
            return bytes(body), kind
    except httpx.TimeoutException as exc:
        raise ImageRefused("timed out") from exc
    except httpx.HTTPError as exc:
        raise ImageRefused(f"{type(exc).__name__}") from exc


def analyse_item(svc: Stocksync, tenant_id: str, sku: str,
                 client: httpx.Client | None = None) -> dict[str, Any]:
    """Read every image of the item; store and return the suggestions and each image's
    report (problems included)."""
    from stocksync.listings.service import model_for

    with svc.uow(tenant_id, write=False) as uow:
        item = uow.catalog.item(sku)
    if item is None or item.is_deleted:
        raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    cfg = svc.settings
    model = model_for(svc)
    own = client is None
    client = client or httpx.Client(timeout=cfg.listing_image_timeout_seconds,
                                    follow_redirects=True)
    reports: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    try:
        for position, image in enumerate(item.images[:MAX_IMAGES]):
            report: dict[str, Any] = {"url": image.url, "main": position == 0}
            reports.append(report)
            try:
                data, kind = fetch_image(client, image.url, cfg.listing_image_max_bytes)
                read = analyse(data, main_image=position == 0)
            except (ImageRefused, ImageUnreadable) as exc:
                report["error"] = str(exc)
                continue
            report.update(width=read.width, height=read.height,
                          white_background_share=read.white_background_share,
                          problems=list(read.problems),
                          colours=[{"name": c.name, "share": c.share} for c in read.colours])
            if read.product_colours and position == 0:
                top = read.product_colours[0]
                found.append({"attribute": "colour", "value": top.name,
                              "confidence": top.share, "source": "pillow",
                              "image_url": image.url,
                              "details": {"colours": [{"name": c.name, "share": c.share}
                                                      for c in read.product_colours]}})
            if model is not None and cfg.listing_vision_model and position == 0:
                try:
                    seen = model.describe_image(data, kind)
                except ModelUnavailable as exc:
                    report["vision_error"] = exc.reason
                    seen = {}
                found += [{"attribute": key, "value": value, "confidence": confidence,
                           "source": f"vision:{cfg.listing_vision_model}"[:100],
                           "image_url": image.url} for key, (value, confidence) in seen.items()]
    finally:
        if own:
            client.close()
    with store.writing(svc.engine) as conn:
        store.put_suggestions(conn, tenant_id, sku, found, svc.clock())
    return {"sku": sku, "images": reports,
            "suggestions": [{k: v for k, v in s.items() if k != "details"} | {
                "merchant_value": _merchant_value(item, s["attribute"])} for s in found]}


def _merchant_value(item: Any, attribute: str) -> str | None:
    """What the merchant has for the attribute, shown beside the suggestion."""
    value = getattr(item, attribute, None)
    if value is None:
        value = {k.lower().replace(" ", "_"): v for k, v in item.attributes.items()
                 }.get(attribute)
    return str(value) if value else None

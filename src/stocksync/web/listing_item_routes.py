"""One item's listings: its facts, its drafts on every channel, and what its images suggest
(dominant colours with their shares, the marketplaces' image checks, a vision model's
attributes with their confidence). A suggestion is never applied by itself: its Apply
button sends the item, with that one value changed, through PUT /v1/items's own code."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response

from stocksync.api.routes import listings as api
from stocksync.api.routes.catalog import get_item, put_item
from stocksync.app.service import Stocksync
from stocksync.web import listing_reads
from stocksync.web.deps import Svc, caller
from stocksync.web.listing_routes import PAGE
from stocksync.web.render import api_refusal, page
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
SKU = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-/]{1,64}$")]


def _suggestions(svc: Stocksync, who: Viewer, sku: str,
                 analysis: dict[str, Any] | None = None) -> dict[str, Any]:
    """The item (NotFound for another tenant's SKU) and its stored suggestions, each with
    the merchant's current value; `analysis` adds the images' own reports when the
    images were just read."""
    item = get_item(sku, svc, caller(who))
    stored = api.read_suggestions(sku, svc, caller(who))["suggestions"]
    for s in stored:
        s["merchant_value"] = listing_reads.merchant_value(item, s["attribute"])
        s["applied"] = (s["merchant_value"] or "").lower() == s["value"].lower()
        s["settable"] = s["attribute"] in listing_reads.ITEM_FIELDS or \
            s["attribute"] in listing_reads.ATTRIBUTE_NAMES
    return {"item": item, "suggestions": stored,
            "images": analysis["images"] if analysis else None}


def _view(svc: Stocksync, who: Viewer, sku: str) -> dict[str, Any]:
    view = _suggestions(svc, who, sku)
    drafts = api.list_drafts(svc, caller(who), status=None, sku=sku, channel=None,
                             after=None, limit=PAGE)["drafts"]
    return {**view, "drafts": drafts, "filters": {"status": None, "sku": sku,
                                                   "channel": None},
            "channels": listing_reads.listing_channels(svc, who.tenant_id),
            "model": svc.settings.listing_llm_model, "outcomes": listing_reads.OUTCOMES,
            "missing_core": listing_reads.missing_core,
            "pending": listing_reads.pending_count(svc, who.tenant_id, sku, None)}


@router.get("/listings/items/{sku:path}", response_class=HTMLResponse)
async def item_listings(request: Request, sku: SKU, svc: Svc, who: Signed) -> Response:
    view = await anyio.to_thread.run_sync(_view, svc, who, sku)
    return page(request, "listing_item.html", who, title=f"Listings of {sku}", **view)


@router.post("/listings/suggestions/{sku:path}/read", response_class=HTMLResponse)
async def read_images(request: Request, sku: SKU, svc: Svc, who: Signed) -> Response:
    """Download and read the item's images now (POST /v1/listings/suggestions/{sku})."""
    def run() -> dict[str, Any]:
        analysis = api.analyse_images(sku, svc, caller(who))
        return _suggestions(svc, who, sku, analysis)

    view = await anyio.to_thread.run_sync(run)
    return page(request, "fragments/listing_suggestions.html", who, **view,
                note=f"{len(view['images'] or [])} image(s) read")


@router.post("/listings/suggestions/{sku:path}/apply", response_class=HTMLResponse)
async def apply(request: Request, sku: SKU, svc: Svc, who: Signed,
                attribute: Annotated[str, Form(max_length=64)],
                value: Annotated[str, Form(max_length=200)]) -> Response:
    """The merchant's choice: this suggestion becomes the item's value."""
    def run() -> Response | dict[str, Any]:
        item = get_item(sku, svc, caller(who))
        body = listing_reads.with_suggestion(item, attribute, value)
        answer = put_item(request, sku, body, svc, caller(who))
        return api_refusal(request, who, answer) or _suggestions(svc, who, sku)

    view = await anyio.to_thread.run_sync(run)
    if isinstance(view, Response):
        return view
    label = attribute.replace("_", " ")
    return page(request, "fragments/listing_suggestions.html", who, **view,
                note=f"{label} set to {value.strip()} on the item")

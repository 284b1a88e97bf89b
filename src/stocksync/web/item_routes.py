"""Items: search (SKU, barcode, title) with paging, one item's stock, channels, holds and
history, and editing its content and price through the same code as PUT /v1/items."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from stocksync.api.routes.catalog import get_item, list_items, put_item
from stocksync.api.routes.stock import stock_snapshot as read_stock_now
from stocksync.api.schemas import ItemIn
from stocksync.app import dashboard
from stocksync.app.service import Stocksync
from stocksync.core.channel_rules import sku_included
from stocksync.web.deps import Svc, caller
from stocksync.web.render import api_refusal, page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
PAGE = 50
SKU = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-/]{1,64}$")]
EDITABLE = ("title", "description", "brand", "price", "compare_at_price", "currency")


def _search(svc: Stocksync, who: Viewer, q: str | None, after: str | None) -> dict[str, Any]:
    query = (q or "").strip() or None
    by_barcode = dashboard.sku_for_barcode(svc, who.tenant_id, query) if query else None
    found = list_items(svc, caller(who), after=after, limit=PAGE + 1, q=query)
    if by_barcode and after is None and all(i.sku != by_barcode for i in found):
        found.insert(0, get_item(by_barcode, svc, caller(who)))
    more = len(found) > PAGE
    shown = found[:PAGE]
    stock = {s.sku: s for s in read_stock_many(svc, who, [i.sku for i in shown])}
    return {"items": shown, "stock": stock, "q": query or "", "after": after,
            "next_after": shown[-1].sku if more else None}


def read_stock_many(svc: Stocksync, who: Viewer, skus: list[str]) -> list[Any]:
    # The API's own stock reads are async (the hot path); pages read in a worker thread.
    return read_stock_now(svc, caller(who), skus, None, None).items if skus else []


@router.get("/items", response_class=HTMLResponse)
async def items(request: Request, svc: Svc, who: Signed,
                q: Annotated[str | None, Query(max_length=100)] = None,
                after: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    found = await anyio.to_thread.run_sync(_search, svc, who, q, after)
    name = "fragments/item_rows.html" if request.headers.get("HX-Request") else "items.html"
    return page(request, name, who, title="Items", **found)


def _item_view(svc: Stocksync, who: Viewer, sku: str,
               before: int | None) -> dict[str, Any]:
    item = get_item(sku, svc, caller(who))  # NotFound for another tenant's SKU too
    stock = read_stock_many(svc, who, [sku])[0]
    now = svc.clock()
    channels = []
    with svc.uow(who.tenant_id, write=False) as uow:
        for channel in uow.channels.list():
            target = uow.channels.targets(channel.code, [sku]).get(sku)
            channels.append({"code": channel.code, "name": channel.name,
                             "kind": channel.kind.value, "enabled": channel.enabled,
                             "listed": sku_included(channel.rules, sku),
                             "wanted": target.wanted if target else None,
                             "pushed": target.pushed if target else None,
                             "pending_since": target.pending_since if target else None,
                             "external_ids": target.external_ids if target else {}})
    history = dashboard.movements(svc, who.tenant_id, sku, before, PAGE)
    return {"item": item, "stock": stock, "channels": channels, "now": now,
            "holds": dashboard.holds(svc, who.tenant_id, sku), "history": history,
            "before": before,
            "older": history[-1]["sequence"] if len(history) == PAGE else None}


@router.get("/items/{sku:path}/live", response_class=HTMLResponse)
async def item_live(request: Request, sku: SKU, svc: Svc, who: Signed,
                    before: Annotated[int | None, Query(ge=1)] = None) -> Response:
    view = await anyio.to_thread.run_sync(_item_view, svc, who, sku, before)
    return page(request, "fragments/item_live.html", who, **view)


@router.get("/items/{sku:path}", response_class=HTMLResponse)
async def item(request: Request, sku: SKU, svc: Svc, who: Signed,
               before: Annotated[int | None, Query(ge=1)] = None,
               saved: bool = False) -> Response:
    view = await anyio.to_thread.run_sync(_item_view, svc, who, sku, before)
    return page(request, "item.html", who, title=sku, saved=saved, **view)


def _edited(current: dict[str, Any], form: dict[str, str]) -> ItemIn:
    """The item as it is, with the edited fields replaced (PUT replaces all content)."""
    body = {k: v for k, v in current.items() if k in ItemIn.model_fields}
    for name in EDITABLE:
        value = form.get(name, "").strip()
        body[name] = value or None
    for name in ("price", "compare_at_price"):
        if body[name] is not None:
            try:
                body[name] = Decimal(body[name])
            except InvalidOperation as exc:
                raise ValueError(f"{name.replace('_', ' ')} must be a number") from exc
    body["barcodes"] = [b.strip() for b in form.get("barcodes", "").split(",") if b.strip()]
    return ItemIn.model_validate(body)


@router.post("/items/{sku:path}", response_class=HTMLResponse)
async def edit_item(request: Request, sku: SKU, svc: Svc, who: Signed,
                    title: Annotated[str, Form(max_length=500)] = "",
                    description: Annotated[str, Form(max_length=20000)] = "",
                    brand: Annotated[str, Form(max_length=200)] = "",
                    price: Annotated[str, Form(max_length=30)] = "",
                    compare_at_price: Annotated[str, Form(max_length=30)] = "",
                    currency: Annotated[str, Form(max_length=3)] = "",
                    barcodes: Annotated[str, Form(max_length=2000)] = "") -> Response:
    form = {"title": title, "description": description, "brand": brand, "price": price,
            "compare_at_price": compare_at_price, "currency": currency, "barcodes": barcodes}
    current = get_item(sku, svc, caller(who)).model_dump(mode="json")
    try:
        body = _edited(current, form)
    except (ValueError, ValidationError) as exc:
        return problem(request, who, _why(exc), 422)
    answer = await anyio.to_thread.run_sync(
        lambda: put_item(request, sku, body, svc, caller(who)))
    saved = RedirectResponse(f"/items/{sku}?saved=1", status_code=303)
    return api_refusal(request, who, answer) or saved


def _why(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                         for e in exc.errors())
    return str(exc)

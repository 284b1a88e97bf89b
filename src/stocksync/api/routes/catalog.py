"""Items and locations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from stocksync.api.deps import IdemKey, Svc, Who, write
from stocksync.api.schemas import ItemIn, ItemOut, LocationIn, LocationOut
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import WriteContext
from stocksync.core.catalog import Item, Location, LocationKind
from stocksync.core.errors import UnknownSku
from stocksync.core.events import Event, EventType

router = APIRouter(prefix="/v1", tags=["catalog"])
SkuPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._\-/]{1,64}$")]


@router.put("/items/{sku:path}", response_model=ItemOut,
            responses={201: {"model": ItemOut}})
def put_item(request: Request, sku: SkuPath, body: ItemIn, svc: Svc, who: Who,
             idempotency_key: IdemKey = None) -> Response:
    def action(uow: UnitOfWork, ctx: WriteContext) -> tuple[Item, bool]:
        return uow.catalog.put_item(body.to_item(sku), ctx.now)

    def render(result: tuple[Item, bool]) -> tuple[int, Any]:
        item, created = result
        return (201 if created else 200), ItemOut.of(item).model_dump(mode="json")

    return write(request, svc, who, idempotency_key, body, action, render)


@router.get("/items", response_model=list[ItemOut])
def list_items(svc: Svc, who: Who, after: str | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               q: Annotated[str | None, Query(max_length=100)] = None,
               include_deleted: bool = False) -> list[ItemOut]:
    with svc.uow(who.tenant_id, write=False) as uow:
        found = uow.catalog.items(after=after, limit=limit, query=q,
                                  include_deleted=include_deleted)
    return [ItemOut.of(i) for i in found]


@router.get("/items/{sku:path}", response_model=ItemOut)
def get_item(sku: SkuPath, svc: Svc, who: Who) -> ItemOut:
    with svc.uow(who.tenant_id, write=False) as uow:
        item = uow.catalog.item(sku)
    if item is None:
        raise UnknownSku(f"no item with SKU {sku}", sku=sku)
    return ItemOut.of(item)


def _set_deleted(request: Request, sku: str, svc: Svc, who: Who, key: str | None,
                 deleted: bool) -> Response:
    def action(uow: UnitOfWork, ctx: WriteContext) -> Item:
        if uow.catalog.item(sku) is None:
            raise UnknownSku(f"no item with SKU {sku}", sku=sku)
        if uow.catalog.set_deleted(sku, ctx.now if deleted else None, ctx.now):
            kind = EventType.ITEM_DELETED if deleted else EventType.ITEM_RESTORED
            uow.ledger.append(Event(kind, sku, None, 0), ctx)
        item = uow.catalog.item(sku)
        assert item is not None
        return item

    def render(item: Item) -> tuple[int, Any]:
        return 200, ItemOut.of(item).model_dump(mode="json")

    return write(request, svc, who, key, None, action, render)


@router.delete("/items/{sku:path}", response_model=ItemOut)
def delete_item(request: Request, sku: SkuPath, svc: Svc, who: Who,
                idempotency_key: IdemKey = None) -> Response:
    """Soft delete: taken off every channel, kept in history, restorable."""
    return _set_deleted(request, sku, svc, who, idempotency_key, deleted=True)


@router.post("/items/{sku:path}/restore", response_model=ItemOut)
def restore_item(request: Request, sku: SkuPath, svc: Svc, who: Who,
                 idempotency_key: IdemKey = None) -> Response:
    return _set_deleted(request, sku, svc, who, idempotency_key, deleted=False)


@router.put("/locations/{code}", response_model=LocationOut,
            responses={201: {"model": LocationOut}})
def put_location(request: Request, code: Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,32}$")],
                 body: LocationIn, svc: Svc, who: Who,
                 idempotency_key: IdemKey = None) -> Response:
    location = Location(code, body.name, LocationKind(body.kind))

    def action(uow: UnitOfWork, ctx: WriteContext) -> bool:
        return uow.catalog.put_location(location, ctx.now)

    def render(created: bool) -> tuple[int, Any]:
        out = LocationOut(code=code, name=location.name, kind=location.kind.value)
        return (201 if created else 200), out.model_dump()

    return write(request, svc, who, idempotency_key, body, action, render)


@router.get("/locations", response_model=list[LocationOut])
def list_locations(svc: Svc, who: Who) -> list[LocationOut]:
    with svc.uow(who.tenant_id, write=False) as uow:
        return [LocationOut(code=loc.code, name=loc.name, kind=loc.kind.value)
                for loc in uow.catalog.locations()]



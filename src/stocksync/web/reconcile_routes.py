"""Reconcile: a dry run per channel, its differences, apply all or selected, history."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
import httpx
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocksync.api.routes.channels import get_channel, reconcile_channel
from stocksync.app import dashboard
from stocksync.app.connect import connect
from stocksync.app.reconcile import load_report
from stocksync.app.reconcile_selected import apply_selected
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.core.channels import ChannelKind
from stocksync.web.deps import Svc, caller
from stocksync.web.render import page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
ReportId = Annotated[str, Path(max_length=36)]
Code = Annotated[str, Form(max_length=64)]
PUSHED = {kind.value for kind in registry.PUSHED}


def _channels(svc: Stocksync, who: Viewer) -> list[dict[str, str]]:
    with svc.uow(who.tenant_id, write=False) as uow:
        return [{"code": c.code, "name": c.name, "kind": c.kind.value}
                for c in uow.channels.list() if c.kind.value in PUSHED]


@router.get("/reconcile", response_class=HTMLResponse)
async def reconcile_home(request: Request, svc: Svc, who: Signed) -> Response:
    channels = await anyio.to_thread.run_sync(_channels, svc, who)
    history = await anyio.to_thread.run_sync(dashboard.reconcile_history, svc, who.tenant_id)
    return page(request, "reconcile.html", who, title="Reconcile", channels=channels,
                history=history)


@router.post("/reconcile/run")
async def run(request: Request, svc: Svc, who: Signed, channel: Code) -> Response:
    """A dry run: compares and stores the report, changes nothing."""
    report = await reconcile_channel(channel, svc, caller(who), apply=False)
    return RedirectResponse(f"/reconcile/{report['id']}", status_code=303)


@router.get("/reconcile/{report_id}", response_class=HTMLResponse)
async def report(request: Request, report_id: ReportId, svc: Svc, who: Signed) -> Response:
    found = await anyio.to_thread.run_sync(load_report, svc, who.tenant_id, report_id)
    if found is None:
        return problem(request, who, f"no reconciliation {report_id}", 404)
    return page(request, "reconcile_report.html", who, title="Reconciliation", r=found)


@router.post("/reconcile/{report_id}/apply")
async def apply(request: Request, report_id: ReportId, svc: Svc, who: Signed) -> Response:
    """`sku` fields: apply to those SKUs only; `all`: apply every difference found now."""
    form = await request.form()
    found = await anyio.to_thread.run_sync(load_report, svc, who.tenant_id, report_id)
    if found is None:
        return problem(request, who, f"no reconciliation {report_id}", 404)
    skus = {str(s) for s in form.getlist("sku")}
    if form.get("all"):
        done = await reconcile_channel(found["channel"], svc, caller(who), apply=True)
        return RedirectResponse(f"/reconcile/{done['id']}", status_code=303)
    if not skus:
        return problem(request, who, "choose at least one SKU, or apply all", 422)
    channel = await anyio.to_thread.run_sync(
        lambda: get_channel(found["channel"], svc, caller(who)))
    kind = ChannelKind(channel.kind)
    if kind.value not in PUSHED:
        return problem(request, who, f"{kind.value} channels cannot be read back", 422)
    with svc.uow(who.tenant_id, write=False) as uow:
        stored = uow.channels.get(found["channel"])
    assert stored is not None
    async with httpx.AsyncClient(timeout=30) as client:
        connector = await anyio.to_thread.run_sync(connect, svc, stored, client)
        applied = await apply_selected(svc, stored, connector, skus)
    return RedirectResponse(f"/reconcile/{applied.id}", status_code=303)

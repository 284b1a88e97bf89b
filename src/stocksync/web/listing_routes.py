"""Listings: write drafts for one SKU, a list or the whole catalog (a job with a live
progress bar), review them per channel (title and its length against the channel's limit,
components found, rule warnings, outcome) and approve, edit inline or reject each, or
approve every pending draft of the filtered list.

Every action calls the /v1/listings route functions with the signed-in viewer as caller,
so the page and the API refuse and record the same things."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from stocksync.api.routes import listings as api
from stocksync.app.service import Stocksync
from stocksync.core.errors import DomainError
from stocksync.web import listing_reads
from stocksync.web.deps import Svc, caller
from stocksync.web.render import page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
PAGE = 100
APPROVE_ALL_MAX = 500  # per click: each approval is its own content-sync write
Id = Annotated[str, Path(pattern=r"^[0-9a-f]{1,32}$")]
Status = Literal["pending", "approved", "rejected", "any"]
Filter = Annotated[str | None, Query(max_length=64)]
CHANGED = {"HX-Trigger": "drafts-changed"}  # the draft table reloads itself on this event


def _filters(status: str | None, sku: str | None, channel: str | None) -> dict[str, Any]:
    return {"status": None if status in (None, "any") else status,
            "sku": (sku or "").strip() or None, "channel": (channel or "").strip() or None}


def _rows(svc: Stocksync, who: Viewer, status: str | None, sku: str | None,
          channel: str | None, after: str | None) -> dict[str, Any]:
    wanted = _filters(status, sku, channel)
    found = api.list_drafts(svc, caller(who), after=after, limit=PAGE, **wanted)
    return {"drafts": found["drafts"], "next_after": found["next"], "after": after,
            "filters": wanted, "status": status or "pending",
            "pending": listing_reads.pending_count(svc, who.tenant_id, wanted["sku"],
                                                   wanted["channel"])}


def _context(svc: Stocksync, who: Viewer) -> dict[str, Any]:
    return {"channels": listing_reads.listing_channels(svc, who.tenant_id),
            "model": svc.settings.listing_llm_model, "outcomes": listing_reads.OUTCOMES,
            "missing_core": listing_reads.missing_core}


async def _table(request: Request, svc: Stocksync, who: Viewer, name: str, status: str,
                 sku: str | None, channel: str | None, after: str | None,
                 **extra: Any) -> Response:
    view = await anyio.to_thread.run_sync(_rows, svc, who, status, sku, channel, after)
    more = await anyio.to_thread.run_sync(_context, svc, who)
    return page(request, name, who, **view, **more, **extra)


@router.get("/listings", response_class=HTMLResponse)
async def listings(request: Request, svc: Svc, who: Signed, status: Status = "pending",
                   sku: Filter = None, channel: Filter = None,
                   after: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    return await _table(request, svc, who, "listings.html", status, sku, channel, after,
                        title="Listings")


@router.get("/listings/rows", response_class=HTMLResponse)
async def rows(request: Request, svc: Svc, who: Signed, status: Status = "pending",
               sku: Filter = None, channel: Filter = None,
               after: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """The table's body and the approve-all count, reloaded after any change."""
    return await _table(request, svc, who, "fragments/listing_table.html", status, sku,
                        channel, after)


def skus_in(text: str) -> list[str]:
    """SKUs typed one a line, or separated by commas or spaces; each once, in order."""
    return list(dict.fromkeys(s for s in re.split(r"[\s,;]+", text) if s))


@router.post("/listings/drafts", response_class=HTMLResponse)
async def write_drafts(request: Request, svc: Svc, who: Signed, tasks: BackgroundTasks,
                       skus: Annotated[str, Form(max_length=40_000)] = "",
                       whole_catalog: Annotated[bool, Form()] = False,
                       channels: Annotated[list[str] | None, Form()] = None,
                       use_model: Annotated[bool, Form()] = False) -> Response:
    """A job for the whole catalog (its progress bar), or the drafts of the SKUs given."""
    listed = skus_in(skus)
    if not listed and not whole_catalog:
        return problem(request, who, "type at least one SKU, or tick the whole catalog", 422)
    try:
        body = api.DraftsIn(all=True, channels=channels or None, use_model=use_model) \
            if whole_catalog else api.DraftsIn(
                sku=listed[0] if len(listed) == 1 else None,
                skus=listed if len(listed) > 1 else None,
                channels=channels or None, use_model=use_model)
    except ValidationError as exc:
        return problem(request, who, _why(exc), 422)
    answer = await anyio.to_thread.run_sync(
        lambda: api.create_drafts(body, svc, caller(who), tasks))
    result = _json(answer)
    if whole_catalog:
        return page(request, "fragments/listing_job.html", who, job=result)
    drafts = result["drafts"]
    response = page(request, "fragments/listing_written.html", who, drafts=drafts,
                    skus=listed, outcomes=listing_reads.OUTCOMES)
    response.headers.update(CHANGED)
    return response


@router.get("/listings/jobs/{job_id}", response_class=HTMLResponse)
async def job_progress(request: Request, job_id: Id, svc: Svc, who: Signed) -> Response:
    job = await anyio.to_thread.run_sync(api.read_job, job_id, svc, caller(who))
    response = page(request, "fragments/listing_job.html", who, job=job)
    if job["status"] != "running":
        response.headers.update(CHANGED)
    return response


def _row(request: Request, who: Viewer, draft: dict[str, Any], status_code: int = 200,
         **extra: Any) -> Response:
    return page(request, "fragments/listing_row.html", who, status_code, d=draft,
                outcomes=listing_reads.OUTCOMES, missing_core=listing_reads.missing_core,
                **extra)


@router.post("/listings/drafts/{draft_id}/edit", response_class=HTMLResponse)
async def edit(request: Request, draft_id: Id, svc: Svc, who: Signed,
               title: Annotated[str, Form(max_length=20_000)] = "") -> Response:
    """A new title: over the channel's limit (or empty) it is refused with the reason and
    the row keeps what was typed; other rule problems come back as warnings."""
    def run() -> tuple[dict[str, Any], str | None]:
        try:
            return api.edit_draft(draft_id, api.TitleIn(title=title), svc, caller(who)), None
        except (DomainError, ValidationError) as exc:
            current = api.read_draft(draft_id, svc, caller(who))  # NotFound: not ours
            if isinstance(exc, DomainError):
                return current, exc.message
            # longer than any channel takes (TitleIn's bound): say so as the service does
            length = len(" ".join(title.split()))
            return current, (f"the title has {length} characters; {current['channel']} "
                             f"takes {current['limit']}" if length > current["limit"]
                             else _why(exc))

    draft, refused = await anyio.to_thread.run_sync(run)
    if refused:
        return _row(request, who, draft, 422, error=refused, typed=title)
    return _row(request, who, draft, note="title saved")


@router.post("/listings/drafts/{draft_id}/approve", response_class=HTMLResponse)
async def approve(request: Request, draft_id: Id, svc: Svc, who: Signed) -> Response:
    draft = await anyio.to_thread.run_sync(
        lambda: api.approve_draft(draft_id, svc, caller(who), None))
    return _row(request, who, draft, note="approved")


@router.post("/listings/drafts/{draft_id}/reject", response_class=HTMLResponse)
async def reject(request: Request, draft_id: Id, svc: Svc, who: Signed) -> Response:
    draft = await anyio.to_thread.run_sync(api.reject_draft, draft_id, svc, caller(who))
    return _row(request, who, draft, note="rejected")


def _approve_all(svc: Stocksync, who: Viewer, sku: str | None,
                 channel: str | None) -> tuple[int, int]:
    """Approve pending drafts of the filter, at most APPROVE_ALL_MAX; returns (approved,
    still pending). Each page is read again after approving: approved ones leave it."""
    approved = 0
    while approved < APPROVE_ALL_MAX:
        batch = api.list_drafts(svc, caller(who), status="pending", sku=sku,
                                channel=channel, after=None,
                                limit=min(PAGE, APPROVE_ALL_MAX - approved))["drafts"]
        if not batch:
            break
        for draft in batch:
            api.approve_draft(draft["id"], svc, caller(who), None)
            approved += 1
    return approved, listing_reads.pending_count(svc, who.tenant_id, sku, channel)


@router.post("/listings/approve-all", response_class=HTMLResponse)
async def approve_all(request: Request, svc: Svc, who: Signed,
                      sku: Annotated[str, Form(max_length=64)] = "",
                      channel: Annotated[str, Form(max_length=64)] = "") -> Response:
    wanted = _filters("pending", sku, channel)
    approved, left = await anyio.to_thread.run_sync(
        _approve_all, svc, who, wanted["sku"], wanted["channel"])
    response = page(request, "fragments/listing_approved_all.html", who,
                    approved=approved, left=left, most=APPROVE_ALL_MAX)
    response.headers.update(CHANGED)
    return response


def _json(answer: Response) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(bytes(answer.body))
    return found


def _why(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}"
                     for e in exc.errors())

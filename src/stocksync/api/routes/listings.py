"""AI listings: drafts per channel (one SKU, a list, or the whole catalog as a job), their
review (edit, approve, reject), the tenant's word rules and prompt, image suggestions.
An approved title (and on eBay its aspects) becomes the item's content on that channel."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Query
from fastapi.responses import JSONResponse
from pydantic import Field

from stocksync.api.deps import Svc, Who
from stocksync.api.schemas import Strict
from stocksync.app.service import Stocksync
from stocksync.core.errors import InvalidInput, NotFound
from stocksync.listings import images, service, store

router = APIRouter(prefix="/v1/listings", tags=["listings"])
Sku = Annotated[str, Field(min_length=1, max_length=64)]
Word = Annotated[str, Field(min_length=1, max_length=100)]


class DraftsIn(Strict):
    sku: Sku | None = Field(None, description="one SKU")
    skus: Annotated[list[Sku], Field(max_length=service.MAX_SKUS)] | None = Field(
        None, description=f"up to {service.MAX_SKUS} SKUs")
    all: bool = Field(False, description="the whole catalog, as a job (202)")
    channels: Annotated[list[Annotated[str, Field(max_length=64)]], Field(
        max_length=50)] | None = Field(None, description="channel codes; default: every "
                                       "channel that lists")
    use_model: bool = Field(True, description="ask the configured model (the rules alone "
                            "when false or when none is configured)")
    replace_approved: bool = Field(False, description="also replace approved drafts "
                                   "(SKU requests only)")


class TitleIn(Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)]


class ApproveIn(Strict):
    title: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="approve with this title instead (checked against the limit)")


class SettingsIn(Strict):
    banned_words: Annotated[list[Word], Field(max_length=500)] | None = None
    allowed_words: Annotated[list[Word], Field(max_length=500)] | None = Field(
        None, description="default fluff words this tenant does use (a brand, a style)")
    preferred_terms: Annotated[dict[str, Word], Field(max_length=500)] | None = Field(
        None, description="synonym -> the term buyers search for")
    template: Annotated[str, Field(max_length=4000)] | None = Field(
        None, description="the model's system prompt; empty string: back to the seed's")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def draft_view(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "sku": row["sku"], "channel": row["channel"],
            "channel_kind": row["channel_kind"], "title": row["title"],
            "length": len(row["title"]), "limit": row["title_limit"],
            "components": row["components"], "warnings": row["warnings"],
            "outcome": row["outcome"], "reason": row["reason"],
            "model_title": row["model_title"], "aspects": row["aspects"],
            "description": row["description"], "status": row["status"],
            "edited": bool(row["edited"]), "publish_state": row["publish_state"],
            "publish_error": row["publish_error"], "decided_by": row["decided_by"],
            "decided_at": _iso(row["decided_at"]), "updated_at": _iso(row["updated_at"])}


def job_view(job: dict[str, Any]) -> dict[str, Any]:
    total, done = job["items_total"], job["items_done"]
    return {"id": job["id"], "status": job["status"], "channels": job["channels"],
            "use_model": bool(job["use_model"]), "resumed": job.get("resumed", False),
            "progress": {"items_total": total, "items_done": done,
                         "percent": round(100 * done / total, 1) if total else 100.0},
            "outcomes": job["outcomes"], "error": job["error"],
            "created_at": _iso(job["created_at"]), "finished_at": _iso(job["finished_at"])}


@router.post("/drafts", status_code=201, responses={
    202: {"description": "the whole catalog: a job (GET /v1/listings/jobs/{id})"}})
def create_drafts(body: DraftsIn, svc: Svc, who: Who, tasks: BackgroundTasks) -> JSONResponse:
    """Drafts per channel with title, length, components found and rule warnings: for one
    SKU or a list (201, the drafts), or `{"all": true}` for the whole catalog (202, a job:
    GET /v1/listings/jobs/{id} for progress; posting again resumes an interrupted one)."""
    asked = [body.sku is not None, body.skus is not None, body.all]
    if sum(asked) != 1:
        raise InvalidInput("give exactly one of sku, skus or all", field="sku")
    if body.all:
        job, run = service.start_job(svc, who.tenant_id, body.channels, body.use_model)
        if run:
            tasks.add_task(_run_in_background, svc, who.tenant_id, job["id"])
        return JSONResponse(job_view(job), status_code=202)
    skus = [body.sku] if body.sku is not None else list(body.skus or [])
    rows = service.generate(svc, who.tenant_id, skus, body.channels,
                            use_model=body.use_model, replace_approved=body.replace_approved)
    return JSONResponse({"drafts": [draft_view(r) for r in rows]}, status_code=201)


def _run_in_background(svc: Stocksync, tenant_id: str, job_id: str) -> None:
    # the outer loop of background work: a failure is recorded on the job by run_job
    with contextlib.suppress(Exception):
        service.run_job(svc, tenant_id, job_id)


@router.get("/jobs/{job_id}")
def read_job(job_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        job = store.get_job(conn, who.tenant_id, job_id)
    if job is None:
        raise NotFound(f"no listing job {job_id}", job_id=job_id)
    return job_view(job)


@router.get("/drafts")
def list_drafts(svc: Svc, who: Who, status: Annotated[str | None, Query(
        pattern="^(pending|approved|rejected)$")] = None, sku: str | None = None,
        channel: str | None = None, after: Annotated[str | None, Query(
            description="`sku/channel` of the last draft seen")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        rows = store.list_drafts(conn, who.tenant_id, status=status, sku=sku,
                                 channel=channel, after=after, limit=limit)
    last = rows[-1] if len(rows) == limit else None
    return {"drafts": [draft_view(r) for r in rows],
            "next": f"{last['sku']}/{last['channel']}" if last else None}


@router.get("/drafts/{draft_id}")
def read_draft(draft_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    return draft_view(service.draft_row(svc, who.tenant_id, draft_id))


@router.patch("/drafts/{draft_id}")
def edit_draft(draft_id: str, body: TitleIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Change the title (422 when over the channel's limit); rule problems are warnings."""
    return draft_view(service.edit(svc, who.tenant_id, draft_id, body.title, who.actor))


@router.post("/drafts/{draft_id}/approve")
def approve_draft(draft_id: str, svc: Svc, who: Who,
                  body: ApproveIn | None = None) -> dict[str, Any]:
    """Approve: the title (and eBay aspects) become the item's content on the channel
    and go out through content sync (`publish_state`)."""
    title = body.title if body else None
    return draft_view(service.approve(svc, who.tenant_id, draft_id, who.actor, title))


@router.post("/drafts/{draft_id}/reject")
def reject_draft(draft_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    return draft_view(service.reject(svc, who.tenant_id, draft_id, who.actor))


@router.get("/settings")
def read_settings(svc: Svc, who: Who) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        return settings_view(store.settings_row(conn, who.tenant_id))


@router.put("/settings")
def write_settings(body: SettingsIn, svc: Svc, who: Who) -> dict[str, Any]:
    """Only the fields given change; `template: ""` restores the seed's prompt."""
    values = body.model_dump(exclude_unset=True)
    if "template" in values and not (values["template"] or "").strip():
        values["template"] = None
    with store.writing(svc.engine) as conn:
        store.save_settings(conn, who.tenant_id, values, svc.clock())
        return settings_view(store.settings_row(conn, who.tenant_id))


def settings_view(row: dict[str, Any]) -> dict[str, Any]:
    from stocksync.listings.llm import SEED_PROMPT
    return {"banned_words": row["banned_words"], "allowed_words": row["allowed_words"],
            "preferred_terms": row["preferred_terms"],
            "template": row["template"] or SEED_PROMPT,
            "template_is_default": row["template"] is None}


@router.post("/suggestions/{sku}")
def analyse_images(sku: str, svc: Svc, who: Who) -> dict[str, Any]:
    """Read the item's images: dominant colours, image checks, and with a vision model
    material, pattern, garment type, neckline, sleeve length. Stored as suggestions
    beside the item's data, which is never changed."""
    return images.analyse_item(svc, who.tenant_id, sku)


@router.get("/suggestions/{sku}")
def read_suggestions(sku: str, svc: Svc, who: Who) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        return {"sku": sku, "suggestions": [
            {**s, "created_at": _iso(s["created_at"])}
            for s in store.suggestions(conn, who.tenant_id, sku)]}

"""SQL for AI listings: a tenant's word rules, drafts, jobs and image suggestions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update

from stocksync.listings.attributes import WordRules
from stocksync.listings.drafting import Draft
from stocksync.listings.llm import SEED_PROMPT
from stocksync.storage.tables_listings import (
    listing_drafts,
    listing_jobs,
    listing_settings,
    listing_suggestions,
)

KEPT_ON_REGENERATE = "approved"  # an approved title is kept unless asked to replace it


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite it takes the write lock first (BEGIN IMMEDIATE), as
    a read that later writes could not upgrade its lock while the server writes."""
    from stocksync.storage.engine import WRITE

    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        yield conn


def new_id() -> str:
    return uuid.uuid4().hex


# ---- settings --------------------------------------------------------------------------

def settings_row(conn: Connection, tenant_id: str) -> dict[str, Any]:
    row = conn.execute(select(listing_settings).where(
        listing_settings.c.tenant_id == tenant_id)).first()
    if row is None:
        return {"banned_words": [], "allowed_words": [], "preferred_terms": {},
                "template": None, "updated_at": None}
    return dict(row._mapping)


def rules_and_template(conn: Connection, tenant_id: str) -> tuple[WordRules, str]:
    found = settings_row(conn, tenant_id)
    rules = WordRules.for_tenant(found["banned_words"], found["preferred_terms"],
                                 found["allowed_words"])
    return rules, found["template"] or SEED_PROMPT


def save_settings(conn: Connection, tenant_id: str, values: dict[str, Any],
                  now: datetime) -> None:
    row = {**{k: v for k, v in settings_row(conn, tenant_id).items()
              if k != "tenant_id"}, **values, "updated_at": now}
    updated = conn.execute(update(listing_settings).where(
        listing_settings.c.tenant_id == tenant_id).values(**row))
    if not updated.rowcount:
        conn.execute(insert(listing_settings).values(tenant_id=tenant_id, **row))


# ---- drafts ----------------------------------------------------------------------------

def _row(draft: Draft, job_id: str | None, now: datetime) -> dict[str, Any]:
    return {"channel_kind": draft.channel_kind, "title": draft.title,
            "title_limit": draft.limit, "outcome": draft.outcome.value,
            "reason": draft.reason, "model_title": (draft.model_title or "")[:1000] or None,
            "components": draft.components,
            "warnings": list(draft.warnings) + list(draft.problems),
            "aspects": draft.aspects, "description": draft.description,
            "status": "pending", "edited": 0, "publish_state": None, "publish_error": None,
            "decided_by": None, "decided_at": None, "job_id": job_id, "updated_at": now}


def store_drafts(conn: Connection, tenant_id: str, drafts: Sequence[Draft],
                 job_id: str | None, now: datetime, *,
                 replace_approved: bool = False) -> list[str]:
    """Insert or replace each (sku, channel) draft; returns the ids of those written
    (an approved draft is kept unless `replace_approved`)."""
    if not drafts:
        return []
    skus = sorted({d.sku for d in drafts})
    existing = {(r.sku, r.channel): (r.id, r.status) for r in conn.execute(
        select(listing_drafts.c.id, listing_drafts.c.sku, listing_drafts.c.channel,
               listing_drafts.c.status).where(listing_drafts.c.tenant_id == tenant_id,
                                              listing_drafts.c.sku.in_(skus)))}
    inserts, written = [], []
    for draft in drafts:
        found = existing.get((draft.sku, draft.channel))
        if found and found[1] == KEPT_ON_REGENERATE and not replace_approved:
            continue
        values = _row(draft, job_id, now)
        if found:
            conn.execute(update(listing_drafts).where(
                listing_drafts.c.id == found[0]).values(**values))
            written.append(found[0])
        else:
            draft_id = new_id()
            inserts.append({"id": draft_id, "tenant_id": tenant_id, "sku": draft.sku,
                            "channel": draft.channel, "created_at": now, **values})
            written.append(draft_id)
    if inserts:
        conn.execute(insert(listing_drafts), inserts)
    return written


def get_draft(conn: Connection, tenant_id: str, draft_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(listing_drafts).where(
        listing_drafts.c.tenant_id == tenant_id, listing_drafts.c.id == draft_id)).first()
    return dict(row._mapping) if row else None


def list_drafts(conn: Connection, tenant_id: str, *, status: str | None = None,
                sku: str | None = None, channel: str | None = None,
                ids: Iterable[str] | None = None, after: str | None = None,
                limit: int = 100) -> list[dict[str, Any]]:
    """Drafts ordered by (sku, channel); `after` is the last `sku/channel` seen."""
    where = [listing_drafts.c.tenant_id == tenant_id]
    if status:
        where.append(listing_drafts.c.status == status)
    if sku:
        where.append(listing_drafts.c.sku == sku)
    if channel:
        where.append(listing_drafts.c.channel == channel)
    if ids is not None:
        where.append(listing_drafts.c.id.in_(list(ids)))
    if after:
        last_sku, _, last_channel = after.partition("/")
        where.append((listing_drafts.c.sku > last_sku) | and_(
            listing_drafts.c.sku == last_sku, listing_drafts.c.channel > last_channel))
    stmt = select(listing_drafts).where(*where).order_by(
        listing_drafts.c.sku, listing_drafts.c.channel).limit(limit)
    return [dict(r._mapping) for r in conn.execute(stmt)]


def decide(conn: Connection, draft_id: str, now: datetime, **values: Any) -> None:
    conn.execute(update(listing_drafts).where(listing_drafts.c.id == draft_id).values(
        updated_at=now, decided_at=now, **values))


def mark_published(conn: Connection, draft_id: str, state: str, error: str | None) -> None:
    conn.execute(update(listing_drafts).where(listing_drafts.c.id == draft_id).values(
        publish_state=state, publish_error=error))


# ---- jobs ------------------------------------------------------------------------------

def create_job(conn: Connection, tenant_id: str, channels: list[str], use_model: bool,
               total: int, now: datetime) -> str:
    job_id = new_id()
    conn.execute(insert(listing_jobs).values(
        id=job_id, tenant_id=tenant_id, status="running", channels=channels,
        use_model=int(use_model), cursor=None, items_total=total, items_done=0,
        outcomes={}, created_at=now, updated_at=now))
    return job_id


def get_job(conn: Connection, tenant_id: str, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(listing_jobs).where(
        listing_jobs.c.tenant_id == tenant_id, listing_jobs.c.id == job_id)).first()
    return dict(row._mapping) if row else None


def unfinished_job(conn: Connection, tenant_id: str, channels: list[str],
                   use_model: bool) -> dict[str, Any] | None:
    """The newest job of these channels that did not finish (killed, or failed)."""
    rows = conn.execute(select(listing_jobs).where(
        listing_jobs.c.tenant_id == tenant_id,
        listing_jobs.c.status.in_(("running", "failed")),
        listing_jobs.c.use_model == int(use_model),
    ).order_by(listing_jobs.c.created_at.desc()))
    for row in rows:
        if sorted(row.channels) == sorted(channels):
            return dict(row._mapping)
    return None


def update_job(conn: Connection, job_id: str, **values: Any) -> None:
    conn.execute(update(listing_jobs).where(listing_jobs.c.id == job_id).values(**values))


# ---- suggestions -----------------------------------------------------------------------

def put_suggestions(conn: Connection, tenant_id: str, sku: str,
                    found: Sequence[dict[str, Any]], now: datetime) -> None:
    """Replace the suggestions of `sku` from the same sources (the merchant's own fields
    are in `items`, never touched here)."""
    for entry in found:
        key = (listing_suggestions.c.tenant_id == tenant_id,
               listing_suggestions.c.sku == sku,
               listing_suggestions.c.attribute == entry["attribute"],
               listing_suggestions.c.source == entry["source"])
        values = {"value": entry["value"][:200], "confidence": entry["confidence"],
                  "image_url": entry.get("image_url"), "details": entry.get("details"),
                  "created_at": now}
        if not conn.execute(update(listing_suggestions).where(*key).values(**values)).rowcount:
            conn.execute(insert(listing_suggestions).values(
                tenant_id=tenant_id, sku=sku, attribute=entry["attribute"],
                source=entry["source"], **values))


def suggestions(conn: Connection, tenant_id: str, sku: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(listing_suggestions).where(
        listing_suggestions.c.tenant_id == tenant_id, listing_suggestions.c.sku == sku)
        .order_by(listing_suggestions.c.attribute, listing_suggestions.c.confidence.desc()))
    return [{k: v for k, v in r._mapping.items() if k != "tenant_id"} for r in rows]

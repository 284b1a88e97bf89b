"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text

from stocksync.api.deps import Svc
from stocksync.app.event_file import json_schema
from stocksync.storage.tables import channel_skus, channels

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health")
def health(svc: Svc) -> JSONResponse:
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # health must report, not raise
        database = f"error: {type(exc).__name__}"
    ok = database == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "database": database,
                         "dialect": svc.engine.dialect.name}, status_code=200 if ok else 503)


@router.get("/ready")
def ready(request: Request, svc: Svc) -> JSONResponse:
    """Readiness: the database answers and the background workers run; 503 when not.
    Channels are counted over the whole installation and never named: this answers
    without a key, so it carries no tenant id, channel code or per-tenant figure (those
    are on GET /v1/channels, with the tenant's key)."""
    problems: list[str] = []
    counts = {"total": 0, "enabled": 0, "failing": 0, "pending_skus": 0}
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            row = conn.execute(select(
                func.count(), func.count().filter(channels.c.enabled.is_(True)),
                func.count().filter(channels.c.failing_since.isnot(None)))
                .select_from(channels)).one()
            pending = conn.execute(select(func.count()).where(
                channel_skus.c.pending_since.isnot(None))).scalar()
            counts = {"total": int(row[0]), "enabled": int(row[1]), "failing": int(row[2]),
                      "pending_skus": int(pending or 0)}
    except Exception as exc:  # readiness must report, not raise
        problems.append(f"database: {type(exc).__name__}")
    workers = request.app.state.workers
    loops = {loop.name: loop.alive for loop in workers["loops"]}
    tasks = {f"task-{i}": not t.done() for i, t in enumerate(workers["tasks"])}
    problems += [f"worker {name} stopped" for name, up in {**loops, **tasks}.items()
                 if not up]
    body = {"status": "ready" if not problems else "not_ready", "problems": problems,
            "workers": {**loops, **tasks}, "channels": counts}
    return JSONResponse(body, status_code=200 if not problems else 503)


@router.get("/schema/events.json", include_in_schema=False)
def event_schema() -> JSONResponse:
    """JSON Schema of event files and the inbound webhook payloads they carry."""
    return JSONResponse(json_schema(), media_type="application/schema+json")

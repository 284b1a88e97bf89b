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
    """Readiness: the database answers, the background workers run, and each channel's
    state (enabled, failing since, pending SKUs). 503 when not ready. No tenant data
    beyond channel codes and counts; operators only (no key, like /metrics)."""
    problems: list[str] = []
    now = svc.clock()
    channel_states: list[dict[str, object]] = []
    try:
        with svc.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            for c in conn.execute(select(channels)):
                pending = conn.execute(select(func.count()).where(
                    channel_skus.c.tenant_id == c.tenant_id, channel_skus.c.channel == c.code,
                    channel_skus.c.pending_since.isnot(None))).scalar()
                channel_states.append({
                    "tenant": c.tenant_id, "channel": c.code, "enabled": c.enabled,
                    "failing_for_seconds": (now - c.failing_since).total_seconds()
                    if c.failing_since else 0.0, "pending": int(pending or 0)})
    except Exception as exc:  # readiness must report, not raise
        problems.append(f"database: {type(exc).__name__}")
    workers = request.app.state.workers
    loops = {loop.name: loop.alive for loop in workers["loops"]}
    tasks = {f"task-{i}": not t.done() for i, t in enumerate(workers["tasks"])}
    problems += [f"worker {name} stopped" for name, up in {**loops, **tasks}.items()
                 if not up]
    body = {"status": "ready" if not problems else "not_ready", "problems": problems,
            "workers": {**loops, **tasks}, "channels": channel_states}
    return JSONResponse(body, status_code=200 if not problems else 503)


@router.get("/schema/events.json", include_in_schema=False)
def event_schema() -> JSONResponse:
    """JSON Schema of event files and the inbound webhook payloads they carry."""
    return JSONResponse(json_schema(), media_type="application/schema+json")

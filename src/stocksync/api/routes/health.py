"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync.api.deps import Svc
from stocksync.app.event_file import json_schema
from stocksync.stream.message import json_schema as stream_event_schema

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health")
def health(svc: Svc) -> JSONResponse:
    try:
        svc.admin.ping()
        database = "ok"
    except Exception as exc:  # health must report, not raise
        database = f"error: {type(exc).__name__}"
    ok = database == "ok"
    return JSONResponse({"status": "ok" if ok else "degraded", "database": database,
                         "dialect": svc.admin.kind}, status_code=200 if ok else 503)


@router.get("/ready")
def ready(request: Request, svc: Svc) -> JSONResponse:
    """Readiness: the database answers and the background workers run; 503 when not.
    Channels are counted over the whole installation and never named: this answers
    without a key, so it carries no tenant id, channel code or per-tenant figure (those
    are on GET /v1/channels, with the tenant's key)."""
    problems: list[str] = []
    counts = {"total": 0, "enabled": 0, "failing": 0, "pending_skus": 0}
    try:
        counts = svc.admin.channel_counts()
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


@router.get("/schema/stream-events.json", include_in_schema=False)
def stream_event_json_schema() -> JSONResponse:
    """JSON Schema of one message published on the NATS event stream (`stocksync stream
    schema` prints the same)."""
    return JSONResponse(stream_event_schema(), media_type="application/schema+json")

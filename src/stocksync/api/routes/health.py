"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from stocksync.api.deps import Svc
from stocksync.app.event_file import json_schema

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


@router.get("/schema/events.json", include_in_schema=False)
def event_schema() -> JSONResponse:
    """JSON Schema of event files and the inbound webhook payloads they carry."""
    return JSONResponse(json_schema(), media_type="application/schema+json")

"""The message published for each event: the log event exactly as GET /v1/events and the
SSE stream show it (`EventOut` in /openapi.json) plus its tenant, as JSON.

Headers let a consumer route and deduplicate without parsing the body:
`Nats-Msg-Id` (the event id: JetStream drops a republish inside its duplicate window),
`Stocksync-Tenant`, `Stocksync-Sequence` (the position in the tenant's log, gap-free) and
`Stocksync-Recorded-At` (when the event was committed, ISO 8601).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field

from stocksync.api.schemas import EventOut
from stocksync.app.records import LoggedEvent
from stocksync.stream.subjects import event_subject

SEQUENCE = "Stocksync-Sequence"
TENANT = "Stocksync-Tenant"
RECORDED_AT = "Stocksync-Recorded-At"
MSG_ID = "Nats-Msg-Id"


class StreamEvent(EventOut):
    """One event of a tenant's log, as published on `<prefix>.<tenant>.<type>`."""

    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(description="the tenant id (also the subject's second token)")
    sequence: int = Field(ge=1, description="position in the tenant's log: consecutive, "  # type: ignore[assignment]
                          "no gaps; a consumer that saw N next expects N + 1")


def json_schema() -> dict[str, Any]:
    schema = StreamEvent.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "stocksync stream event"
    return schema


def encode(prefix: str, tenant_id: str, e: LoggedEvent) -> tuple[str, bytes, dict[str, str]]:
    """(subject, body, headers) of one sequenced event."""
    assert e.sequence is not None, "only sequenced events are published"
    body = {
        "tenant": tenant_id, "sequence": e.sequence, "event_id": e.event_id, "type": e.type,
        "sku": e.sku, "location": e.location, "quantity": e.quantity,
        "on_hand_after": e.on_hand_after, "reserved_after": e.reserved_after,
        "version": e.version, "data": e.data, "source": e.source, "actor": e.actor,
        "idempotency_key": e.idempotency_key, "correlation_id": e.correlation_id,
        "origin": e.origin, "occurred_at": e.occurred_at.isoformat(),
        "recorded_at": e.recorded_at.isoformat(),
    }
    headers = {MSG_ID: e.event_id, TENANT: tenant_id, SEQUENCE: str(e.sequence),
               RECORDED_AT: e.recorded_at.isoformat()}
    return (event_subject(prefix, tenant_id, e.type), json.dumps(body, default=str).encode(),
            headers)


def decode(body: bytes) -> StreamEvent:
    return StreamEvent.model_validate_json(body)


def logged(event: StreamEvent) -> LoggedEvent:
    """Back to the application's record (what a channel worker projects)."""
    return LoggedEvent(
        sequence=event.sequence, event_id=event.event_id, type=event.type, sku=event.sku,
        location=event.location, quantity=event.quantity, on_hand_after=event.on_hand_after,
        reserved_after=event.reserved_after, version=event.version, data=dict(event.data),
        source=event.source, actor=event.actor, idempotency_key=event.idempotency_key,
        correlation_id=event.correlation_id, origin=event.origin,
        occurred_at=event.occurred_at, recorded_at=event.recorded_at)


def recorded_at(headers: dict[str, str] | None) -> datetime | None:
    raw = (headers or {}).get(RECORDED_AT)
    return datetime.fromisoformat(raw) if raw else None

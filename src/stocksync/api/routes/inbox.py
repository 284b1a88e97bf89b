"""The tenant's stored webhook deliveries: what failed and why, and replaying them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.api.deps import Svc, Who
from stocksync.api.errors import json_error
from stocksync.app import inbox_admin
from stocksync.app.records import Delivery

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])
log = structlog.get_logger()


class DeliveryOut(BaseModel):
    id: int
    channel: str
    kind: str
    delivery_id: str
    topic: str
    status: str
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None
    correlation_id: str | None
    dismissed_at: datetime | None = None
    dismissed_by: str | None = None
    dismiss_reason: str | None = None


class DismissIn(BaseModel):
    reason: str | None = Field(None, max_length=1000, description="why it is given up")


def _out(d: Delivery) -> DeliveryOut:
    return DeliveryOut(id=d.id, channel=d.channel, kind=d.kind, delivery_id=d.delivery_id,
                       topic=d.topic, status=d.status, attempts=d.attempts,
                       last_error=d.last_error, received_at=d.received_at,
                       processed_at=d.processed_at, correlation_id=d.correlation_id,
                       dismissed_at=d.dismissed_at, dismissed_by=d.dismissed_by,
                       dismiss_reason=d.dismiss_reason)


@router.get("", response_model=list[DeliveryOut])
def list_deliveries(svc: Svc, who: Who,
                    status: Literal["pending", "done", "failed", "dismissed"] | None = None,
                    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    return [_out(d) for d in svc.inbox.listing(who.tenant_id, status, after, limit)]


@router.post("/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)], svc: Svc,
                    who: Who) -> DeliveryOut:
    """Queue a delivery again (after fixing what made it fail): it is applied once."""
    return _out(inbox_admin.replay_delivery(svc, delivery_id, who.tenant_id))


@router.post("/{delivery_id}/dismiss", response_model=DeliveryOut,
             responses={409: {"description": "the delivery is not dead-lettered"}})
def dismiss_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)], svc: Svc, who: Who,
                     body: Annotated[DismissIn | None, Body()] = None,
                     ) -> DeliveryOut | JSONResponse:
    """Give up on a dead-lettered delivery: it is kept as `dismissed` with who dismissed it,
    when and why, no longer counts as failed, and can still be replayed."""
    reason = body.reason if body else None
    try:
        found = inbox_admin.dismiss_delivery(svc, delivery_id, who.actor, reason,
                                             who.tenant_id)
    except inbox_admin.DeliveryNotFailed as exc:
        return json_error(409, "delivery_not_failed", str(exc),
                          {"delivery_id": delivery_id, "status": exc.delivery.status})
    log.info("delivery_dismissed", tenant=who.tenant_id, delivery=delivery_id, by=who.actor,
             reason=reason)
    return _out(found)

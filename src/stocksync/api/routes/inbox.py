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
from stocksync.app.service import INBOX
from stocksync.core.errors import NotFound
from stocksync.storage import inbox
from stocksync.storage.engine import WRITE

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


def _out(d: inbox.Delivery) -> DeliveryOut:
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
    with svc.engine.connect() as conn:
        return [_out(d) for d in inbox.listing(conn, who.tenant_id, status, after, limit)]


@router.post("/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)], svc: Svc,
                    who: Who) -> DeliveryOut:
    """Queue a delivery again (after fixing what made it fail): it is applied once."""
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if not inbox.replay(conn, delivery_id, who.tenant_id):
            raise NotFound(f"no delivery {delivery_id}", delivery_id=delivery_id)
        found = inbox.get(conn, delivery_id, who.tenant_id)
    svc.bus.ring(INBOX)
    assert found is not None
    return _out(found)


@router.post("/{delivery_id}/dismiss", response_model=DeliveryOut,
             responses={409: {"description": "the delivery is not dead-lettered"}})
def dismiss_delivery(delivery_id: Annotated[int, Path(ge=1, le=2**63 - 1)], svc: Svc, who: Who,
                     body: Annotated[DismissIn | None, Body()] = None,
                     ) -> DeliveryOut | JSONResponse:
    """Give up on a dead-lettered delivery: it is kept as `dismissed` with who dismissed it,
    when and why, no longer counts as failed, and can still be replayed."""
    reason = body.reason if body else None
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        found = inbox.get(conn, delivery_id, who.tenant_id)
        if found is None:
            raise NotFound(f"no delivery {delivery_id}", delivery_id=delivery_id)
        if not inbox.dismiss(conn, delivery_id, svc.clock(), who.actor, reason, who.tenant_id):
            return json_error(409, "delivery_not_failed",
                              f"delivery {delivery_id} is {found.status}: only a failed "
                              "(dead-lettered) delivery can be dismissed",
                              {"delivery_id": delivery_id, "status": found.status})
        found = inbox.get(conn, delivery_id, who.tenant_id)
    assert found is not None
    log.info("delivery_dismissed", tenant=who.tenant_id, delivery=delivery_id, by=who.actor,
             reason=reason)
    return _out(found)

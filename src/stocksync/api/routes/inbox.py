"""The tenant's stored webhook deliveries: what failed and why, and replaying them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from stocksync.api.deps import Svc, Who
from stocksync.app.service import INBOX
from stocksync.core.errors import NotFound
from stocksync.storage import inbox
from stocksync.storage.engine import WRITE

router = APIRouter(prefix="/v1/inbox", tags=["inbox"])


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


def _out(d: inbox.Delivery) -> DeliveryOut:
    return DeliveryOut(id=d.id, channel=d.channel, kind=d.kind, delivery_id=d.delivery_id,
                       topic=d.topic, status=d.status, attempts=d.attempts,
                       last_error=d.last_error, received_at=d.received_at,
                       processed_at=d.processed_at, correlation_id=d.correlation_id)


@router.get("", response_model=list[DeliveryOut])
def list_deliveries(svc: Svc, who: Who,
                    status: Literal["pending", "done", "failed"] | None = None,
                    after: Annotated[int, Query(ge=0)] = 0,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    with svc.engine.connect() as conn:
        return [_out(d) for d in inbox.listing(conn, who.tenant_id, status, after, limit)]


@router.post("/{delivery_id}/replay", response_model=DeliveryOut)
def replay_delivery(delivery_id: int, svc: Svc, who: Who) -> DeliveryOut:
    """Queue a delivery again (after fixing what made it fail): it is applied once."""
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if not inbox.replay(conn, delivery_id, who.tenant_id):
            raise NotFound(f"no delivery {delivery_id}", delivery_id=delivery_id)
        found = inbox.get(conn, delivery_id, who.tenant_id)
    svc.bus.ring(INBOX)
    assert found is not None
    return _out(found)

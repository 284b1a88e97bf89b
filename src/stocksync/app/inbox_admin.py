"""Replaying and dismissing stored webhook deliveries (API and CLI alike)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stocksync.app.ports import INBOX
from stocksync.app.records import Delivery
from stocksync.core.errors import NotFound

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync


class DeliveryNotFailed(Exception):
    """Only a failed (dead-lettered) delivery can be dismissed."""

    def __init__(self, delivery: Delivery) -> None:
        super().__init__(f"delivery {delivery.id} is {delivery.status}: only a failed "
                         "(dead-lettered) delivery can be dismissed")
        self.delivery = delivery


def _missing(delivery_id: int) -> NotFound:
    return NotFound(f"no delivery {delivery_id}", delivery_id=delivery_id)


def replay_delivery(svc: Stocksync, delivery_id: int,
                    tenant_id: str | None = None) -> Delivery:
    """Queue a delivery again (after fixing what made it fail): it is applied once."""
    found = svc.inbox.replay(delivery_id, tenant_id)
    if found is None:
        raise _missing(delivery_id)
    svc.bus.ring(INBOX)
    return found


def dismiss_delivery(svc: Stocksync, delivery_id: int, by: str, reason: str | None,
                     tenant_id: str | None = None) -> Delivery:
    """Give up on a dead-lettered delivery; it stays kept, as dismissed, with who did it,
    when and why. NotFound, or DeliveryNotFailed when it is not a failed one."""
    found, dismissed = svc.inbox.dismiss(delivery_id, svc.clock(), by, reason, tenant_id)
    if found is None:
        raise _missing(delivery_id)
    if not dismissed:
        raise DeliveryNotFailed(found)
    return found

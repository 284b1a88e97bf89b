"""SqlInbox: the inbox port in full (implements app.ports.InboxStore): SqlInboxStore's
queue, plus what the intake and the order poller write through it, each call in its own
short transaction. (Kept apart from storage/inbox.py only while that module is being
changed elsewhere; the methods belong on SqlInboxStore.)"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stocksync.app.ports import NewDelivery
from stocksync.core.channels import Channel
from stocksync.storage import inbox
from stocksync.storage.channel_health import record_refused_webhook
from stocksync.storage.channels import channel_for_webhook


class SqlInbox(inbox.SqlInboxStore):
    def keep(self, deliveries: Sequence[NewDelivery], now: datetime) -> list[int | None]:
        with self._writing() as conn, conn.begin():
            return [inbox.store(conn, tenant_id=d.tenant_id, channel=d.channel, kind=d.kind,
                                delivery_id=d.delivery_id, topic=d.topic,
                                headers=d.headers, body=d.body, now=now,
                                correlation_id=d.correlation_id, not_before=d.not_before)
                    for d in deliveries]

    def receiver(self, webhook_id: str) -> tuple[Channel, str | None] | None:
        with self.engine.connect() as conn:
            return channel_for_webhook(conn, webhook_id)

    def record_refused(self, tenant_id: str, channel: str, now: datetime) -> None:
        with self._writing() as conn, conn.begin():
            record_refused_webhook(conn, tenant_id, channel, now)

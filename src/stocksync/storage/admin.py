"""SqlStoreAdmin: the cross-tenant housekeeping the service runs (implements
app.ports.StoreAdmin), each call in its own short transaction."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text

from stocksync.app.ports import Doorbell, Running
from stocksync.app.records import ReservationRecord
from stocksync.bus.pg_notify import PgNotifyListener
from stocksync.core.channels import Channel
from stocksync.storage import inbox, reconciliations
from stocksync.storage.channels import enabled_channels
from stocksync.storage.connections import previewed_channels
from stocksync.storage.engine import WRITE
from stocksync.storage.idempotency import purge_idempotency_keys
from stocksync.storage.reservations import due_reservations
from stocksync.storage.sequencer import drain, sequence_pending
from stocksync.storage.tables import channel_skus, channels, tenants


class SqlStoreAdmin:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.kind = engine.dialect.name

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def enabled_channels(self) -> list[Channel]:
        with self.engine.connect() as conn:
            previewed = previewed_channels(conn)  # in preview: nothing is pushed yet
            return [c for c in enabled_channels(conn)
                    if (c.tenant_id, c.code) not in previewed]

    def channel_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            row = conn.execute(select(
                func.count(), func.count().filter(channels.c.enabled.is_(True)),
                func.count().filter(channels.c.failing_since.isnot(None)))
                .select_from(channels)).one()
            pending = conn.execute(select(func.count()).where(
                channel_skus.c.pending_since.isnot(None))).scalar()
        return {"total": int(row[0]), "enabled": int(row[1]), "failing": int(row[2]),
                "pending_skus": int(pending or 0)}

    def sequence_pending(self) -> int:
        return sequence_pending(self.engine).count

    def drain(self) -> int:
        return drain(self.engine)

    def listen(self, bus: Doorbell, topic: str) -> Running | None:
        # Only PostgreSQL carries commits across processes (LISTEN/NOTIFY).
        if self.kind != "postgresql":
            return None
        return PgNotifyListener(self.engine, bus, topic).start()

    def tenant_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(tenants.c.id).order_by(tenants.c.id)).scalars())

    def purge_inbox(self, older_than: datetime) -> int:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            return inbox.purge(conn, older_than)

    def purge_idempotency_keys(self, older_than: datetime) -> int:
        with self.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            return purge_idempotency_keys(conn, older_than)

    def due_reservations(self, now: datetime, limit: int, *, tenant_id: str | None = None,
                         sku: str | None = None) -> list[ReservationRecord]:
        with self.engine.connect() as conn:
            return due_reservations(conn, now, limit, tenant_id=tenant_id, sku=sku)

    def save_report(self, report: Mapping[str, Any]) -> None:
        reconciliations.save_report(self.engine, report)

    def load_report(self, tenant_id: str, report_id: str) -> dict[str, Any] | None:
        return reconciliations.load_report(self.engine, tenant_id, report_id)

    def latest_report(self, tenant_id: str, channel: str) -> dict[str, Any] | None:
        return reconciliations.latest(self.engine, tenant_id, channel)

"""SqlReservations: reservation rows and their conditional status transitions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, insert, select, update

from stocksync.app.records import ReservationRecord
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus
from stocksync.storage.tables import reservations


def _record(row: object) -> ReservationRecord:
    r = row._mapping  # type: ignore[attr-defined]
    return ReservationRecord(
        tenant_id=r["tenant_id"],
        reservation=Reservation(id=r["id"], sku=r["sku"], location=r["location"],
                                quantity=int(r["quantity"]),
                                status=ReservationStatus(r["status"]),
                                expires_at=r["expires_at"]),
        kind=ReservationKind(r["kind"]), reference=r["reference"],
        created_at=r["created_at"], resolved_at=r["resolved_at"],
    )


class SqlReservations:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def add(self, res: Reservation, kind: ReservationKind, reference: str | None,
            now: datetime) -> None:
        self.conn.execute(insert(reservations).values(
            id=res.id, tenant_id=self.tenant_id, sku=res.sku, location=res.location,
            quantity=res.quantity, kind=kind.value, status=res.status.value,
            reference=reference, expires_at=res.expires_at, created_at=now,
        ))

    def get(self, reservation_id: str) -> ReservationRecord | None:
        row = self.conn.execute(select(reservations).where(
            reservations.c.tenant_id == self.tenant_id,
            reservations.c.id == reservation_id)).first()
        return _record(row) if row else None

    def delete(self, reservation_id: str) -> None:
        self.conn.execute(delete(reservations).where(
            reservations.c.tenant_id == self.tenant_id, reservations.c.id == reservation_id))

    def transition(self, reservation_id: str, to: ReservationStatus, now: datetime) -> bool:
        """Move an active reservation to `to`; False if another transition won the race.
        Commit and release need the hold to be still live; expiry needs it to be due."""
        live = (reservations.c.expires_at <= now if to is ReservationStatus.EXPIRED
                else reservations.c.expires_at > now)
        result = self.conn.execute(
            update(reservations)
            .where(reservations.c.tenant_id == self.tenant_id,
                   reservations.c.id == reservation_id,
                   reservations.c.status == ReservationStatus.ACTIVE.value, live)
            .values(status=to.value, resolved_at=now)
        )
        return result.rowcount == 1


def due_reservations(conn: Connection, now: datetime, limit: int, *,
                     tenant_id: str | None = None,
                     sku: str | None = None) -> list[ReservationRecord]:
    """Active holds past their expiry, oldest first (for the expirer)."""
    query = select(reservations).where(
        reservations.c.status == ReservationStatus.ACTIVE.value,
        reservations.c.expires_at <= now)
    if tenant_id is not None:
        query = query.where(reservations.c.tenant_id == tenant_id)
    if sku is not None:
        query = query.where(reservations.c.sku == sku)
    rows = conn.execute(query.order_by(reservations.c.expires_at).limit(limit))
    return [_record(r) for r in rows]

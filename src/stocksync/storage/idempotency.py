"""SqlIdempotency: one row per (tenant, Idempotency-Key) holding the original response."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from stocksync.app.records import StoredResponse
from stocksync.storage.tables import idempotency_keys


class SqlIdempotency:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id
        self._insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert

    def claim(self, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        """Claim `key` for this transaction. Returns None when claimed, or the row another
        request already stored. On PostgreSQL a concurrent claim of the same key waits here
        until the first transaction ends, so only one of them ever runs the command."""
        # RETURNING, not rowcount: psycopg does not report a row count for ON CONFLICT.
        claimed = self.conn.execute(
            self._insert(idempotency_keys)
            .values(tenant_id=self.tenant_id, key=key, fingerprint=fingerprint, created_at=now)
            .on_conflict_do_nothing()
            .returning(idempotency_keys.c.key)
        ).first()
        if claimed is not None:
            return None
        stored = self.lookup(key)
        if stored is None:  # the other claim rolled back between our insert and select
            return self.claim(key, fingerprint, now)
        return stored

    def lookup(self, key: str) -> StoredResponse | None:
        row = self.conn.execute(
            select(idempotency_keys.c.fingerprint, idempotency_keys.c.status_code,
                   idempotency_keys.c.body)
            .where(idempotency_keys.c.tenant_id == self.tenant_id,
                   idempotency_keys.c.key == key)
        ).first()
        return StoredResponse(row.fingerprint, row.status_code, row.body) if row else None

    def complete(self, key: str, status_code: int, body: str) -> None:
        self.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.tenant_id == self.tenant_id,
                   idempotency_keys.c.key == key)
            .values(status_code=status_code, body=body)
        )


def purge_idempotency_keys(conn: Connection, older_than: datetime) -> int:
    result = conn.execute(delete(idempotency_keys).where(
        idempotency_keys.c.created_at < older_than))
    return result.rowcount

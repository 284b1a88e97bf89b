"""Reading the sequenced log."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import Connection, Select, select

from stocksync.app.records import LoggedEvent
from stocksync.storage.tables import events, outbox


def _logged(row: object, sequence: int | None) -> LoggedEvent:
    r = row._mapping  # type: ignore[attr-defined]
    return LoggedEvent(
        sequence=sequence, event_id=r["event_id"], type=r["type"], sku=r["sku"],
        location=r["location"], quantity=int(r["quantity"]), on_hand_after=r["on_hand_after"],
        reserved_after=r["reserved_after"], version=r["version"], data=dict(r["data"] or {}),
        source=r["source"], actor=r["actor"], idempotency_key=r["idempotency_key"],
        correlation_id=r["correlation_id"], origin=r["origin"], occurred_at=r["occurred_at"],
        recorded_at=r["recorded_at"],
    )


class SqlEventLog:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def _query(self) -> Select[tuple[object, ...]]:
        return select(events).where(events.c.tenant_id == self.tenant_id)

    def page(self, after: int, limit: int, *, sku: str | None = None,
             types: Sequence[str] = (), source: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             location: str | None = None) -> list[LoggedEvent]:
        query = self._query().where(events.c.sequence > after)
        if sku is not None:
            query = query.where(events.c.sku == sku)
        if location is not None:
            query = query.where(events.c.location == location)
        if types:
            query = query.where(events.c.type.in_(list(types)))
        if source is not None:
            query = query.where(events.c.source == source)
        if since is not None:
            query = query.where(events.c.recorded_at >= since)
        if until is not None:
            query = query.where(events.c.recorded_at < until)
        rows = self.conn.execute(query.order_by(events.c.sequence).limit(limit))
        return [_logged(r, int(r.sequence)) for r in rows]

    def for_sku(self, sku: str, *, up_to_sequence: int | None = None,
                recorded_until: datetime | None = None) -> list[LoggedEvent]:
        query = self._query().where(events.c.sku == sku)
        if up_to_sequence is not None:
            query = query.where(events.c.sequence <= up_to_sequence)
        if recorded_until is not None:
            query = query.where(events.c.recorded_at <= recorded_until)
        rows = self.conn.execute(query.order_by(events.c.sequence))
        return [_logged(r, int(r.sequence)) for r in rows]

    def replay_stream(self, batch: int = 5000) -> Iterator[LoggedEvent]:
        """Every event of the tenant, sequenced ones in log order, then the outbox (not yet
        sequenced) in write order: together, everything the stored levels reflect."""
        after = 0
        while page := self.page(after, batch):
            yield from page
            after = page[-1].sequence or after
        rows = self.conn.execute(select(outbox).where(outbox.c.tenant_id == self.tenant_id)
                                 .order_by(outbox.c.id))
        for row in rows:
            yield _logged(row, None)

"""MemoryEventLog: reading the sequenced log (and the outbox, for replays)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from stocksync.app.records import LoggedEvent
from stocksync.storage.memory.store import Bound


class MemoryEventLog(Bound):
    def _events(self) -> tuple[LoggedEvent, ...]:
        found: tuple[LoggedEvent, ...] = self.tx.read("events").get(self.tenant_id, ())
        return found

    def page(self, after: int, limit: int, *, sku: str | None = None,
             types: Sequence[str] = (), source: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             location: str | None = None) -> list[LoggedEvent]:
        found: list[LoggedEvent] = []
        # Positions are 1..head without gaps: the page starts at index `after`.
        for e in self._events()[max(after, 0):]:
            if len(found) >= limit:
                break
            if (sku is None or e.sku == sku) and (location is None or e.location == location) \
                    and (not types or e.type in types) and (source is None or e.source == source) \
                    and (since is None or e.recorded_at >= since) \
                    and (until is None or e.recorded_at < until):
                found.append(e)
        return found

    def for_sku(self, sku: str, *, up_to_sequence: int | None = None,
                recorded_until: datetime | None = None) -> list[LoggedEvent]:
        return [e for e in self._events() if e.sku == sku
                and (up_to_sequence is None or (e.sequence or 0) <= up_to_sequence)
                and (recorded_until is None or e.recorded_at <= recorded_until)]

    def replay_stream(self, batch: int = 5000) -> Iterator[LoggedEvent]:
        """Sequenced events in log order, then the outbox in write order."""
        yield from self._events()
        outbox = self.tx.read("outbox")
        for staged_id in sorted(outbox):
            staged = outbox[staged_id]
            if staged.tenant_id == self.tenant_id:
                yield staged.event

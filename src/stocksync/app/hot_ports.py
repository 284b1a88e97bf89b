"""Ports of the async hot path (reservations, sales and stock reads without a thread hop).
Adapter: storage/async_pg.py (psycopg 3 AsyncConnection on PostgreSQL). Stores without
one (SQLite, the memory twin) run the same batches through the UnitOfWork in a thread."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from stocksync.app.coalesce import LevelState
from stocksync.app.records import Applied, ReservationRecord, WriteContext
from stocksync.core.ledger import Level


@dataclass(frozen=True, slots=True)
class BatchWrites:
    """Everything one coalesced batch writes, in arrival order."""

    level: Level | None  # the stored level after the batch (None: no event was accepted)
    reservations: Sequence[ReservationRecord]
    events: Sequence[tuple[Applied, WriteContext]]
    answers: Sequence[tuple[str, int, str]]  # Idempotency-Key, status, body


class LevelBatch(Protocol):
    """One open transaction on one level, its row locked: read `state`, then `write` (and
    commit) or leave the block (roll back)."""

    state: LevelState

    async def write(self, writes: BatchWrites) -> None: ...


@dataclass(frozen=True, slots=True)
class StockSnapshot:
    head: int
    deleted: dict[str, bool]  # per SKU that exists: soft-deleted or not
    levels: list[Level]  # as a buyer sees them (holds past expiry not counted)


class AsyncStore(Protocol):
    def level_batch(self, tenant_id: str, sku: str, location: str,
                    keys: Sequence[tuple[str, str]], now: datetime
                    ) -> AbstractAsyncContextManager[LevelBatch]:
        """Open a transaction: claim `keys` (key, fingerprint), lock the level, read it."""
        ...

    async def stock(self, tenant_id: str, skus: Sequence[str], now: datetime) -> StockSnapshot:
        ...

    async def close(self) -> None: ...

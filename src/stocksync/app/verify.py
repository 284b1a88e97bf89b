"""verify: replay the ledger and compare the result with the stored levels."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from stocksync.core import ledger as core
from stocksync.core.ledger import Level
from stocksync.storage.events import SqlEventLog
from stocksync.storage.ledger import SqlLedger
from stocksync.storage.tables import tenants


@dataclass(frozen=True, slots=True)
class Mismatch:
    tenant_id: str
    sku: str
    location: str
    stored: Level | None
    replayed: Level | None

    def describe(self) -> str:
        def show(lv: Level | None) -> str:
            if lv is None:
                return "missing"
            return f"on_hand={lv.on_hand} reserved={lv.reserved} version={lv.version}"
        return (f"{self.tenant_id} {self.sku}@{self.location}: stored {show(self.stored)}, "
                f"replay {show(self.replayed)}")


@dataclass(frozen=True, slots=True)
class VerifyReport:
    tenants: int
    levels: int
    events: int
    mismatches: list[Mismatch]

    @property
    def ok(self) -> bool:
        return not self.mismatches


def _same(a: Level, b: Level) -> bool:
    return (a.on_hand, a.reserved, a.version) == (b.on_hand, b.reserved, b.version)


def verify(engine: Engine, tenant_id: str | None = None) -> VerifyReport:
    """Compare stored levels with a fold of every event, in one consistent snapshot."""
    options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    mismatches: list[Mismatch] = []
    level_count = event_count = 0
    with engine.connect().execution_options(**options) as conn, conn.begin():
        ids = [tenant_id] if tenant_id else list(conn.execute(select(tenants.c.id)).scalars())
        if tenant_id and conn.execute(select(tenants.c.id).where(
                tenants.c.id == tenant_id)).first() is None:
            raise LookupError(f"no tenant {tenant_id}")  # not "0 rows, all agree"
        for tid in ids:
            replayed: dict[tuple[str, str], Level] = {}
            for logged in SqlEventLog(conn, tid).replay_stream():
                event_count += 1
                if logged.location is None or logged.sku is None:
                    continue
                key = (logged.sku, logged.location)
                current = replayed.get(key, Level(logged.sku, logged.location))
                replayed[key] = core.apply(current, logged.as_core())
            stored = {(lv.sku, lv.location): lv for lv in SqlLedger(conn, tid).stored_levels()}
            level_count += len(stored)
            for key in sorted(set(stored) | set(replayed)):
                have, want = stored.get(key), replayed.get(key)
                empty = Level(*key)
                if not _same(have or empty, want or empty):
                    mismatches.append(Mismatch(tid, key[0], key[1], have, want))
    return VerifyReport(len(ids), level_count, event_count, mismatches)

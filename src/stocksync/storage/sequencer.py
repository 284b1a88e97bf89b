"""The sequencer: gives committed events their position in the tenant's log.

Why not number events when they are written? On PostgreSQL a sequence value is drawn before
commit, so event 11 can become visible before event 10; a consumer that read "after 9", saw
11 and moved on would never see 10. Numbering under one lock at write time would serialise
every writer of a tenant. Instead writers append to `outbox` with no position, and this one
step, under a cluster-wide advisory lock, moves *committed* outbox rows into `events` with
consecutive positions. A reader therefore only ever sees a gap-free prefix of the log.

Order within one level is preserved because a writer draws its outbox id after taking the
level's row lock (storage/ledger.py), so outbox id order is the order the level changed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, delete, func, insert, select, update

from stocksync.bus.pg_notify import notify_events
from stocksync.storage.engine import WRITE
from stocksync.storage.tables import events, outbox, tenants

SEQUENCER_LOCK = 0x5E0_51A7  # pg advisory lock id shared by every stocksync process
BATCH = 2000


@dataclass(frozen=True, slots=True)
class Sequenced:
    count: int
    heads: dict[str, int]


def sequence_pending(engine: Engine, batch: int = BATCH) -> Sequenced:
    """Sequence up to `batch` outbox rows; returns how many and each tenant's new log head."""
    with engine.connect() as conn:  # a cheap look first: most wake-ups find nothing to do
        if conn.execute(select(outbox.c.id).limit(1)).first() is None:
            return Sequenced(0, {})
    with engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(SEQUENCER_LOCK)))
        rows = conn.execute(select(outbox).order_by(outbox.c.id).limit(batch)).mappings().all()
        if not rows:
            return Sequenced(0, {})
        by_tenant: dict[str, list[dict[str, object]]] = defaultdict(list)
        for row in rows:
            by_tenant[str(row["tenant_id"])].append(dict(row))
        heads: dict[str, int] = dict(conn.execute(select(tenants.c.id, tenants.c.log_head)
                                  .where(tenants.c.id.in_(list(by_tenant)))).all())
        moved: list[dict[str, object]] = []
        new_heads: dict[str, int] = {}
        for tenant_id, tenant_rows in by_tenant.items():
            head = int(heads.get(tenant_id, 0))
            for row in tenant_rows:
                head += 1
                row.pop("id")
                row["sequence"] = head
                moved.append(row)
            new_heads[tenant_id] = head
        conn.execute(insert(events), moved)
        conn.execute(
            update(tenants).where(tenants.c.id == bindparam("tid"))
            .values(log_head=bindparam("head")),
            [{"tid": t, "head": h} for t, h in new_heads.items()],
        )
        conn.execute(delete(outbox).where(outbox.c.id <= rows[-1]["id"],
                                          outbox.c.id.in_([r["id"] for r in rows])))
        if conn.dialect.name == "postgresql":
            notify_events(conn)  # other processes' consumers wake when this commits
        return Sequenced(len(rows), new_heads)


def drain(engine: Engine) -> int:
    """Sequence everything pending now (tests, `verify`, shutdown); returns the count."""
    total = 0
    while (done := sequence_pending(engine)).count:
        total += done.count
    return total

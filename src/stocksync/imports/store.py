"""SQL for imports: jobs, their planned rows, saved mappings, and the state a chunk of rows
is planned against (items, barcode owners, levels, rows applied before)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, exists, func, insert, select, update

from stocksync.core.ledger import Level
from stocksync.imports.barcodes import lookup_forms
from stocksync.imports.planner import Known
from stocksync.storage.catalog import SqlCatalog
from stocksync.storage.ledger import SqlLedger
from stocksync.storage.tables import (
    idempotency_keys,
    import_jobs,
    import_mappings,
    import_rows,
    item_barcodes,
    items,
)


def once_key(file_hash: str, number: int) -> str:
    """The Idempotency-Key of one row of one file: the same file applied again (by any job)
    finds its rows' keys and changes nothing."""
    return f"import:{file_hash}:{number}"


def absent_key(file_hash: str, action: str, sku: str) -> str:
    """The once-key of what a full import does to a SKU it does not list (zero or delete:
    the same file imported again with the other action still applies that one)."""
    return f"import:{file_hash}:{action}:{sku}"


@dataclass(frozen=True, slots=True)
class StoredRow:
    number: int
    sku: str | None
    status: str
    plan: dict[str, Any] | None
    errors: list[dict[str, Any]] | None


# ---- jobs ------------------------------------------------------------------------------

def create_job(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(import_jobs).values(**values))


def update_job(conn: Connection, job_id: str, **values: Any) -> None:
    conn.execute(update(import_jobs).where(import_jobs.c.id == job_id).values(**values))


def get_job(conn: Connection, tenant_id: str, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(import_jobs).where(
        import_jobs.c.tenant_id == tenant_id, import_jobs.c.id == job_id)).mappings().first()
    return dict(row) if row else None


def unfinished_job(conn: Connection, tenant_id: str, file_hash: str) -> dict[str, Any] | None:
    """The newest import of this file whose apply started and did not finish."""
    row = conn.execute(select(import_jobs).where(
        import_jobs.c.tenant_id == tenant_id, import_jobs.c.file_hash == file_hash,
        import_jobs.c.status == "applying").order_by(import_jobs.c.created_at.desc())
    ).mappings().first()
    return dict(row) if row else None


# ---- rows ------------------------------------------------------------------------------

def insert_rows(conn: Connection, job_id: str, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(import_rows), [{"job_id": job_id, **r} for r in rows])


def rows_page(conn: Connection, job_id: str, *, after: int, limit: int,
              statuses: Iterable[str]) -> list[StoredRow]:
    r = import_rows.c
    found = conn.execute(select(r.number, r.sku, r.status, r.plan, r.errors).where(
        r.job_id == job_id, r.number > after, r.status.in_(list(statuses)))
        .order_by(r.number).limit(limit))
    return [StoredRow(*row) for row in found]


def refused_rows(conn: Connection, job_id: str, limit: int = 200) -> list[dict[str, Any]]:
    """Rows the ledger refused while applying (a newer count, stock sold meanwhile)."""
    r = import_rows.c
    found = conn.execute(select(r.number, r.sku, r.errors).where(
        r.job_id == job_id, r.status == "refused").order_by(r.number).limit(limit))
    return [{"row": n, "sku": sku, "errors": errors} for n, sku, errors in found]


def mark_rows(conn: Connection, job_id: str, marks: Sequence[tuple[int, str, Any]]) -> None:
    """Set (number, status, errors) on many rows in one statement."""
    if not marks:
        return
    stmt = update(import_rows).where(import_rows.c.job_id == job_id,
                                     import_rows.c.number == bindparam("n"))
    conn.execute(stmt.values(status=bindparam("s"), errors=bindparam("e")),
                 [{"n": n, "s": s, "e": e} for n, s, e in marks])


def last_number(conn: Connection, job_id: str) -> int:
    found = conn.execute(select(func.max(import_rows.c.number)).where(
        import_rows.c.job_id == job_id)).scalar()
    return int(found or 1)


def mark_applied(conn: Connection, job_id: str, first: int, last: int) -> None:
    """Rows first..last still planned are applied (one statement for a whole batch; the
    batch's other outcomes were marked one by one before)."""
    r = import_rows.c
    conn.execute(update(import_rows).where(
        r.job_id == job_id, r.number.between(first, last), r.status == "planned")
        .values(status="applied"))


def absent_skus(conn: Connection, tenant_id: str, job_id: str, *, after: str,
                limit: int) -> list[tuple[str, bool]]:
    """Items (sku, deleted) that no row of the job names, in SKU order."""
    listed = exists().where(import_rows.c.job_id == job_id, import_rows.c.sku == items.c.sku)
    found = conn.execute(select(items.c.sku, items.c.deleted_at).where(
        items.c.tenant_id == tenant_id, items.c.sku > after, ~listed)
        .order_by(items.c.sku).limit(limit))
    return [(sku, deleted is not None) for sku, deleted in found]


# ---- what a chunk is planned against ---------------------------------------------------

def load_known(conn: Connection, tenant_id: str, skus: set[str], barcodes: set[str],
               keys: dict[str, int]) -> Known:
    """Items, barcode owners and levels for `skus` and the owners of `barcodes`, and which
    of `keys` (once-key -> row) were applied before."""
    known = Known()
    forms = {f for b in barcodes for f in lookup_forms(b)}
    if forms:
        known.owners = dict(conn.execute(select(item_barcodes.c.barcode, item_barcodes.c.sku)
                                         .where(item_barcodes.c.tenant_id == tenant_id,
                                                item_barcodes.c.barcode.in_(forms))).all())
    wanted = skus | set(known.owners.values())
    if wanted:
        found = SqlCatalog(conn, tenant_id).items_by_sku(list(wanted))
        known.items = {i.sku: i for i in found}
        for level in SqlLedger(conn, tenant_id).stored_levels(wanted):
            known.levels.setdefault(level.sku, {})[level.location] = level
    if keys:
        done = conn.execute(select(idempotency_keys.c.key).where(
            idempotency_keys.c.tenant_id == tenant_id,
            idempotency_keys.c.key.in_(list(keys)))).scalars()
        known.done = {keys[k] for k in done}
    return known


def levels_of(conn: Connection, tenant_id: str, skus: list[str]) -> dict[str, dict[str, Level]]:
    out: dict[str, dict[str, Level]] = {}
    for level in SqlLedger(conn, tenant_id).stored_levels(skus):
        out.setdefault(level.sku, {})[level.location] = level
    return out


def applied_keys(conn: Connection, tenant_id: str, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    return set(conn.execute(select(idempotency_keys.c.key).where(
        idempotency_keys.c.tenant_id == tenant_id,
        idempotency_keys.c.key.in_(keys))).scalars())


# ---- saved mappings --------------------------------------------------------------------

def save_mapping(conn: Connection, tenant_id: str, name: str, mapping: dict[str, Any],
                 now: datetime) -> None:
    m = import_mappings.c
    where = and_(m.tenant_id == tenant_id, m.name == name)
    if conn.execute(update(import_mappings).where(where).values(
            mapping=mapping, updated_at=now)).rowcount == 0:
        conn.execute(insert(import_mappings).values(tenant_id=tenant_id, name=name,
                                                    mapping=mapping, created_at=now,
                                                    updated_at=now))


def load_mapping(conn: Connection, tenant_id: str, name: str) -> dict[str, Any] | None:
    m = import_mappings.c
    found = conn.execute(select(m.mapping).where(m.tenant_id == tenant_id, m.name == name)
                         ).scalar()
    return dict(found) if found is not None else None


def mapping_names(conn: Connection, tenant_id: str) -> list[str]:
    m = import_mappings.c
    return list(conn.execute(select(m.name).where(m.tenant_id == tenant_id)
                             .order_by(m.name)).scalars())

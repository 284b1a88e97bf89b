"""Apply a previewed import: in batches of rows, each batch one transaction that writes the
items, the ledger events, each row's once-key and the rows' progress together. A killed
apply therefore resumes exactly where the last committed batch ended, and a row of a file
applied before (by any job) is found by its key and skipped."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, update
from sqlalchemy.exc import DataError, IntegrityError

from stocksync.app.service import OUTBOX, Stocksync
from stocksync.core import commands as c
from stocksync.core import ledger as core
from stocksync.core.errors import DomainError, InvalidInput, NotFound, StaleUpdate
from stocksync.core.events import Event, EventType
from stocksync.core.ledger import Level
from stocksync.imports import store
from stocksync.imports.codec import column_values, quantities_of
from stocksync.imports.level_writes import LevelMoved, LevelWrite, write_levels
from stocksync.imports.planner import RowStatus
from stocksync.storage.ledger import WriteContext
from stocksync.storage.tables import idempotency_keys, import_jobs, item_barcodes, items
from stocksync.storage.uow import SqlUnitOfWork

BATCH = 500
ATTEMPTS = 3  # a batch that races a concurrent writer is read and decided again
Progress = Callable[[int], None]


class ImportNotReady(InvalidInput):
    """The job cannot be applied (still previewing, or rows were rejected)."""


@dataclass
class ApplyReport:
    applied: int = 0
    applied_before: int = 0
    refused: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Batch:
    """One transaction's worth of rows and what became of each."""

    job: dict[str, Any]
    rows: list[store.StoredRow]
    marks: dict[int, tuple[str, Any]] = field(default_factory=dict)  # row -> status, errors


def apply_job(svc: Stocksync, tenant_id: str, job_id: str, *, actor: str | None = None,
              progress: Progress | None = None) -> ApplyReport:
    with svc.engine.connect() as conn:
        job = store.get_job(conn, tenant_id, job_id)
    if job is None:
        raise NotFound(f"no import {job_id}", import_id=job_id)
    check_ready(job)
    report = ApplyReport()
    if job["status"] == "applied":
        return report
    with svc.engine.begin() as conn:
        store.update_job(conn, job_id, status="applying", updated_at=svc.clock())
    after = 0
    while True:
        with svc.engine.connect() as conn:
            rows = store.rows_page(conn, job_id, after=after, limit=BATCH,
                                   statuses=[RowStatus.PLANNED.value])
        if not rows:
            break
        for done in _apply_rows(svc, tenant_id, job, rows, actor):
            _tally(report, done)
        if progress:
            progress(len(rows))
        after = rows[-1].number
    with svc.engine.begin() as conn:
        store.update_job(conn, job_id, status="applied", applied_at=svc.clock(),
                         updated_at=svc.clock())
    return report


def check_ready(job: dict[str, Any]) -> None:
    if job["status"] in ("planning", "unreadable"):
        raise ImportNotReady(f"import {job['id']} is {job['status']}; it cannot be applied",
                             field="status", status=job["status"])
    rejected = int(job["summary"].get("rows_rejected", 0))
    if rejected and not job["skip_bad_rows"]:
        raise ImportNotReady(
            f"{rejected} row(s) were rejected, so nothing is applied: fix the file, or "
            "apply with skip_bad_rows to apply the other rows",
            field="skip_bad_rows", rows_rejected=rejected,
            errors=job["summary"].get("errors", [])[:20])


def _tally(report: ApplyReport, done: _Batch) -> None:
    for number, (status, errors) in done.marks.items():
        if status == RowStatus.APPLIED.value:
            report.applied += 1
        elif status == RowStatus.APPLIED_BEFORE.value:
            report.applied_before += 1
        else:
            report.refused.append({"row": number, "errors": errors})


def _apply_rows(svc: Stocksync, tenant_id: str, job: dict[str, Any],
                rows: list[store.StoredRow], actor: str | None) -> list[_Batch]:
    """The rows as one batch; a batch that keeps failing is split into single rows, so one
    row that the database refuses (a barcode taken meanwhile) does not stop the others."""
    for _ in range(ATTEMPTS):
        try:
            return [_commit(svc, tenant_id, _Batch(job, rows), actor)]
        except (LevelMoved, IntegrityError, DataError):
            continue
    if len(rows) > 1:
        return [b for row in rows for b in _apply_rows(svc, tenant_id, job, [row], actor)]
    refused = _Batch(job, rows, {rows[0].number: (RowStatus.REFUSED.value, [
        {"column": "", "reason": "refused by the database (a concurrent change to the "
         "same item or barcode); import the row again"}])})
    with svc.engine.begin() as conn:
        store.mark_rows(conn, job["id"], [(n, s, e) for n, (s, e) in refused.marks.items()])
        store.update_job(conn, job["id"], rows_applied=import_jobs.c.rows_applied + 1)
    return [refused]


def _commit(svc: Stocksync, tenant_id: str, batch: _Batch, actor: str | None) -> _Batch:
    job = batch.job
    now = svc.clock()
    with svc.uow(tenant_id) as uow:
        keys = {_key(job, r): r for r in batch.rows}
        done = store.applied_keys(uow.conn, tenant_id, list(keys))
        todo = [r for k, r in keys.items() if k not in done]
        for k in done:
            batch.marks[keys[k].number] = (RowStatus.APPLIED_BEFORE.value, None)
        _write_items(uow, todo, now)
        writes, conflicts = _decide_levels(uow, job, todo, now, actor, batch)
        write_levels(uow.conn, tenant_id, writes)
        for event, ctx in conflicts:
            uow.ledger.append(event, ctx)
        for row in todo:
            if row.plan and row.plan.get("action") == "delete" and \
                    uow.catalog.set_deleted(row.sku or "", now, now):
                uow.ledger.append(Event(EventType.ITEM_DELETED, row.sku or "", None, 0),
                                  _ctx(job, row, now, actor))
        applied = [r for r in todo if r.number not in batch.marks]
        if applied:
            uow.conn.execute(insert(idempotency_keys), [
                {"tenant_id": tenant_id, "key": _key(job, r), "fingerprint": job["file_hash"],
                 "status_code": 200, "body": json.dumps({"import": job["id"], "row": r.number}),
                 "created_at": now} for r in applied])
        store.mark_rows(uow.conn, job["id"], [(n, s, e) for n, (s, e) in batch.marks.items()])
        store.mark_applied(uow.conn, job["id"], batch.rows[0].number, batch.rows[-1].number)
        for r in applied:
            batch.marks[r.number] = (RowStatus.APPLIED.value, None)
        store.update_job(uow.conn, job["id"], updated_at=now,
                         rows_applied=import_jobs.c.rows_applied + len(batch.marks))
        uow.commit()
    if writes or conflicts:
        svc.bus.ring(OUTBOX)
    return batch


def _key(job: dict[str, Any], row: store.StoredRow) -> str:
    if row.plan and row.plan.get("action") in ("absent", "delete"):
        return store.absent_key(job["file_hash"], row.plan["action"], row.sku or "")
    return store.once_key(job["file_hash"], row.number)


def _ctx(job: dict[str, Any], row: store.StoredRow, now: datetime, actor: str | None,
         occurred_at: datetime | None = None) -> WriteContext:
    return WriteContext(tenant_id=job["tenant_id"], now=now,
                        source=f"import:{job['file_name']}"[:100], actor=actor,
                        idempotency_key=_key(job, row), correlation_id=job["id"],
                        occurred_at=occurred_at)


def _write_items(uow: SqlUnitOfWork, rows: list[store.StoredRow], now: datetime) -> None:
    creates, updates = [], defaultdict(list)
    barcodes: dict[str, list[str]] = {}
    for row in rows:
        plan = row.plan or {}
        values = column_values(plan.get("set", {}))
        if "barcodes" in values:
            barcodes[row.sku or ""] = values["barcodes"]
        if plan.get("action") == "create":
            creates.append({"tenant_id": uow.tenant_id, "sku": row.sku, "attributes": {},
                            "barcodes": [], "images": [], **values, "created_at": now,
                            "updated_at": now})
        elif plan.get("action") == "update" and values:
            updates[tuple(sorted(values))].append({"k_sku": row.sku, **values})
    if creates:
        # executemany needs one column set: fill the columns some rows leave out
        columns = {k for r in creates for k in r}
        uow.conn.execute(insert(items), [{k: r.get(k) for k in columns} for r in creates])
    for columns, params in updates.items():
        stmt = update(items).where(items.c.tenant_id == uow.tenant_id,
                                   items.c.sku == bindparam("k_sku"))
        uow.conn.execute(stmt.values({c: bindparam(c) for c in columns}
                                     | {"updated_at": now}), params)
    if barcodes:
        uow.conn.execute(delete(item_barcodes).where(item_barcodes.c.tenant_id == uow.tenant_id,
                                                     item_barcodes.c.sku.in_(list(barcodes))))
        uow.conn.execute(insert(item_barcodes), [
            {"tenant_id": uow.tenant_id, "barcode": b, "sku": sku}
            for sku, codes in barcodes.items() for b in dict.fromkeys(codes)])


def _decide_levels(uow: SqlUnitOfWork, job: dict[str, Any], rows: list[store.StoredRow],
                   now: datetime, actor: str | None, batch: _Batch,
                   ) -> tuple[list[LevelWrite], list[tuple[Event, WriteContext]]]:
    """Each row's events decided by the core against the levels as they are now. A row any
    of whose changes the core refuses (a newer count arrived, stock was sold) is refused
    whole, and a stale count is recorded as `conflict.detected`, as a stale API count is."""
    skus = [r.sku for r in rows if r.sku and r.plan and r.plan.get("quantities")]
    current = {(lv.sku, lv.location): lv for lv in uow.ledger.stored_levels(skus)} \
        if skus else {}
    counted_at = job["counted_at"]
    writes: list[LevelWrite] = []
    conflicts: list[tuple[Event, WriteContext]] = []
    for row in rows:
        mine: list[LevelWrite] = []
        for q in quantities_of(row.plan or {}):
            stored = current.get((row.sku or "", q.location))
            level = stored or Level(row.sku or "", q.location)
            try:
                if q.delta is None:
                    if q.after == level.on_hand:
                        continue
                    cmd: c.LevelCommand = c.Count(q.after, counted_at)
                else:
                    cmd = c.Receive(q.delta) if q.delta > 0 else c.Adjust(q.delta, "import")
                event = core.decide(level, cmd)[0]
            except StaleUpdate as exc:
                conflicts.append((core.conflict(level, exc, "stock.counted"),
                                  _ctx(job, row, now, actor)))
                _refuse(batch, row, q.location, exc)
                break
            except DomainError as exc:
                _refuse(batch, row, q.location, exc)
                break
            ctx = _ctx(job, row, now, actor, counted_at if q.delta is None else None)
            mine.append(LevelWrite(level, stored is not None, core.apply(level, event), event,
                                   ctx))
        if row.number not in batch.marks:
            writes += mine
    return writes, conflicts


def _refuse(batch: _Batch, row: store.StoredRow, location: str, exc: DomainError) -> None:
    batch.marks[row.number] = (RowStatus.REFUSED.value,
                               [{"column": location, "reason": exc.message}])

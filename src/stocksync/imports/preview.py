"""Preview: read the file in chunks, plan each chunk against the current state, store the
plan per row. Memory stays flat in file size: a chunk, the summary's samples and the set of
SKUs seen (for duplicates) are all that is kept."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from stocksync.app.service import Stocksync
from stocksync.core.errors import InvalidInput
from stocksync.imports import store
from stocksync.imports.codec import plan_json
from stocksync.imports.detect import detect
from stocksync.imports.mapping import Mapping, QuantityMode, mapping_from_dict, missing_columns
from stocksync.imports.planner import (
    AbsentAction,
    PlanContext,
    PlannedRow,
    plan_absent,
    plan_row,
)
from stocksync.imports.readers import Table, UnreadableFile, open_table
from stocksync.imports.rows import ParsedRow, RowReader
from stocksync.imports.summary import Summary
from stocksync.storage.catalog import SqlCatalog
from stocksync.storage.channels import SqlChannels
from stocksync.storage.engine import WRITE

CHUNK = 500
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ImportOptions:
    mode: str = "partial"  # partial | full
    absent: AbsentAction = AbsentAction.REPORT
    skip_bad_rows: bool = False
    mapping: Mapping | None = None  # explicit (a file or the API body)
    mapping_name: str | None = None  # a saved mapping to use
    save_as: str | None = None  # save the mapping used under this name
    columns: dict[str, str] = field(default_factory=dict)  # field -> header overrides
    quantities: dict[str, str] = field(default_factory=dict)  # location -> header overrides
    quantity_mode: QuantityMode | None = None
    location: str | None = None  # where an unnamed quantity column goes
    counted_at: datetime | None = None
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class Prepared:
    """An import whose file opened and whose mapping fits it; its job row exists."""

    job: dict[str, Any]
    mapping: Mapping
    ctx: PlanContext
    path: Path
    save_as: str | None
    absent: AbsentAction
    reading: tuple[str | None, str | None, str | None]  # sheet, encoding, delimiter


def preview(svc: Stocksync, tenant_id: str, path: Path, opts: ImportOptions, *,
            file_name: str | None = None, progress: Progress | None = None) -> str:
    """Plan the import of `path` and store it as a job; returns the job id."""
    return plan(svc, prepare(svc, tenant_id, path, opts, file_name=file_name), progress)


def prepare(svc: Stocksync, tenant_id: str, path: Path, opts: ImportOptions, *,
            file_name: str | None = None) -> Prepared:
    """Check the options, open the file and fit the mapping to its header row, then store
    the job (status `planning`). Bad options, a bad mapping or an unreadable file raise
    InvalidInput with nothing stored."""
    if opts.mode not in ("partial", "full"):
        raise InvalidInput("mode must be partial or full", field="mode")
    now = svc.clock()
    with svc.engine.connect() as conn:
        locations = [loc.code for loc in SqlCatalog(conn, tenant_id).locations()]
        channels = tuple((c.code, c.rules) for c in SqlChannels(conn, tenant_id).list()
                         if c.enabled)
        saved = (store.load_mapping(conn, tenant_id, opts.mapping_name)
                 if opts.mapping_name and opts.mapping is None else None)
    if opts.mapping_name and opts.mapping is None and saved is None:
        raise InvalidInput(f"no saved mapping {opts.mapping_name!r}", field="mapping")
    sheet, encoding, delimiter = _reading(opts, saved)
    if delimiter is not None and len(delimiter) != 1:
        raise InvalidInput("delimiter must be one character", field="delimiter")
    try:
        with open_table(path, sheet=sheet, encoding=encoding, delimiter=delimiter) as table:
            mapping = _mapping(opts, saved, table, locations)
            reading = (table.sheet, table.encoding, table.delimiter)
            file_format = table.format
    except UnreadableFile as exc:
        raise InvalidInput(f"{file_name or path.name}: {exc}", field="file") from exc
    ctx = PlanContext(mapping.quantity_mode, opts.counted_at or now, channels)
    job = {"id": str(uuid.uuid4()), "tenant_id": tenant_id,
           "file_name": (file_name or path.name)[:255], "file_hash": file_hash(path),
           "format": file_format, "mode": opts.mode, "absent": opts.absent.value,
           "skip_bad_rows": opts.skip_bad_rows, "mapping": mapping.to_dict(),
           "counted_at": ctx.counted_at, "status": "planning", "rows_read": 0,
           "rows_to_apply": 0, "rows_applied": 0, "summary": {},
           "created_at": now, "updated_at": now}
    with svc.engine.begin() as conn:
        store.create_job(conn, job)
    return Prepared(job, mapping, ctx, path, opts.save_as, opts.absent, reading)


def plan(svc: Stocksync, prep: Prepared, progress: Progress | None = None) -> str:
    """Plan every row of a prepared import (and, in full mode, every SKU it does not list);
    the job becomes `planned`. A file that breaks part-way (bytes that are not its
    encoding) makes the job `unreadable` and raises InvalidInput."""
    job, tenant_id = prep.job, prep.job["tenant_id"]
    sheet, encoding, delimiter = prep.reading
    try:
        with open_table(prep.path, sheet=sheet, encoding=encoding,
                        delimiter=delimiter) as table:
            summary = _plan_file(svc, tenant_id, job, table, prep.mapping, prep.ctx, progress)
    except UnreadableFile as exc:
        fail(svc, job["id"], str(exc))
        raise InvalidInput(f"{job['file_name']}: {exc}", field="file") from exc
    if job["mode"] == "full":
        _plan_absent(svc, tenant_id, job, prep.ctx, prep.absent, summary)
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        store.update_job(conn, job["id"], status="planned", summary=summary.to_json(),
                         rows_read=summary.rows_read, rows_to_apply=summary.to_apply,
                         updated_at=svc.clock())
        if prep.save_as:
            store.save_mapping(conn, tenant_id, prep.save_as, prep.mapping.to_dict(),
                               svc.clock())
    return str(job["id"])


def fail(svc: Stocksync, job_id: str, error: str) -> None:
    """A preview that could not finish: the job can never be applied."""
    with svc.engine.begin() as conn:
        store.update_job(conn, job_id, status="unreadable", error=error[:2000],
                         updated_at=svc.clock())


def _reading(opts: ImportOptions,
             saved: dict[str, Any] | None) -> tuple[str | None, str | None, str | None]:
    base = opts.mapping or (mapping_from_dict(saved) if saved else None)
    return (opts.sheet or (base.sheet if base else None),
            opts.encoding or (base.encoding if base else None),
            opts.delimiter or (base.delimiter if base else None))


def _mapping(opts: ImportOptions, saved: dict[str, Any] | None, table: Table,
             locations: list[str]) -> Mapping:
    base = opts.mapping or (mapping_from_dict(saved) if saved else None)
    if base is None:
        base = detect(table.headers, locations, opts.location)
    mapping = base.with_overrides(opts.columns, opts.quantities, opts.quantity_mode)
    if missing := missing_columns(mapping, table.headers):
        raise InvalidInput(f"the file has no column {', '.join(map(repr, missing))}",
                           field="mapping", missing=missing, headers=table.headers)
    unknown = sorted(set(mapping.quantities) - set(locations))
    if unknown:
        raise InvalidInput(f"no location {', '.join(unknown)}: create it first "
                           "(PUT /v1/locations/{code})", field="mapping.quantities",
                           locations=unknown)
    if "sku" not in mapping.columns and "barcode" not in mapping.columns:
        raise InvalidInput("no SKU or barcode column found: name one in the mapping "
                           "(columns.sku / columns.barcode)", field="mapping.columns",
                           headers=table.headers)
    return mapping


def _plan_file(svc: Stocksync, tenant_id: str, job: dict[str, Any], table: Table,
               mapping: Mapping, ctx: PlanContext, progress: Progress | None) -> Summary:
    reader = RowReader(mapping, table.headers)
    columns = reader.error_columns()
    summary = Summary()
    seen: dict[str, int] = {}
    chunk: list[ParsedRow] = []

    def flush() -> None:
        keys = {store.once_key(job["file_hash"], r.number): r.number for r in chunk}
        with svc.engine.connect() as conn:
            known = store.load_known(conn, tenant_id, {r.sku for r in chunk if r.sku},
                                     {r.barcode for r in chunk if r.barcode}, keys)
        planned = [plan_row(r, columns, ctx, known, seen) for r in chunk]
        _store(svc, job["id"], planned, summary)
        if progress:
            progress(len(chunk))
        chunk.clear()

    for number, cells in table.rows:
        chunk.append(reader.read(number, cells))
        if len(chunk) >= CHUNK:
            flush()
    if chunk:
        flush()
    return summary


def _store(svc: Stocksync, job_id: str, planned: list[PlannedRow], summary: Summary,
           *, from_file: bool = True) -> None:
    rows = []
    for row in planned:
        summary.add(row, from_file=from_file)
        rows.append({"number": row.number, "sku": row.sku, "status": row.status.value,
                     "plan": plan_json(row),
                     "errors": [{"column": e.column, "reason": e.reason} for e in row.errors]
                     or None})
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        store.insert_rows(conn, job_id, rows)
        store.update_job(conn, job_id, rows_read=summary.rows_read, updated_at=svc.clock())


def _plan_absent(svc: Stocksync, tenant_id: str, job: dict[str, Any], ctx: PlanContext,
                 action: AbsentAction, summary: Summary) -> None:
    """Full mode: every live item the file does not name, after the file's rows."""
    with svc.engine.connect() as conn:
        number = store.last_number(conn, job["id"])
    after = ""
    while True:
        with svc.engine.connect() as conn:
            page = store.absent_skus(conn, tenant_id, job["id"], after=after, limit=CHUNK)
            levels = store.levels_of(conn, tenant_id, [sku for sku, _ in page])
        if not page:
            return
        planned = []
        for sku, deleted in page:
            number += 1
            if deleted and action is not AbsentAction.ZERO:
                continue  # already off every channel
            planned.append(plan_absent(sku, levels.get(sku, {}), deleted, action, ctx,
                                       number))
        _store(svc, job["id"], planned, summary, from_file=False)
        after = page[-1][0]

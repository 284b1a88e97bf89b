"""Catalog imports: upload a CSV/XLSX file, read its preview, apply it. Previewing and
applying run in the background; GET shows their progress."""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, File, Form, UploadFile
from fastapi.responses import JSONResponse

from stocksync.api.deps import Svc, Who
from stocksync.app.service import Stocksync
from stocksync.core.errors import InvalidInput, NotFound
from stocksync.imports import store
from stocksync.imports.applier import apply_job, check_ready
from stocksync.imports.mapping import QuantityMode, mapping_from_dict
from stocksync.imports.planner import AbsentAction
from stocksync.imports.preview import ImportOptions, Prepared, fail, plan, prepare

router = APIRouter(prefix="/v1/imports", tags=["imports"])
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
COPY_CHUNK = 1024 * 1024
# An apply whose job was touched this recently is taken to be still running (a second
# POST .../apply does not start a second applier); an older one was interrupted: resume.
RUNNING_WITHIN = timedelta(seconds=60)
Text = Annotated[str | None, Form()]


@router.post("", status_code=202)
def upload(svc: Svc, who: Who, tasks: BackgroundTasks, file: Annotated[UploadFile, File()],
           mode: Annotated[str, Form()] = "partial", absent: Annotated[str, Form()] = "report",
           skip_bad_rows: Annotated[bool, Form()] = False, mapping: Text = None,
           mapping_name: Text = None, save_mapping: Text = None, location: Text = None,
           quantity_mode: Text = None, counted_at: Annotated[datetime | None, Form()] = None,
           sheet: Text = None, encoding: Text = None, delimiter: Text = None,
           ) -> JSONResponse:
    """Upload a file. Its header row is read and the mapping checked at once (422 with
    what is wrong); the rows are then previewed in the background: GET the import for
    progress (`rows_read`) and, once `planned`, the preview: items created and changed
    (with field diffs), quantity changes per location, rejected rows (row, column, reason)
    and what each channel would show. Nothing changes until POST .../apply.

    `mapping` is a JSON mapping (see the README); without it a saved `mapping_name` is
    used, or the mapping is detected from the header row."""
    opts = ImportOptions(
        mode=mode, absent=_choice(AbsentAction, absent, "absent"),
        skip_bad_rows=skip_bad_rows, mapping=_mapping(mapping), mapping_name=mapping_name,
        save_as=save_mapping, location=location, counted_at=_aware(counted_at),
        quantity_mode=_choice(QuantityMode, quantity_mode, "quantity_mode")
        if quantity_mode else None, sheet=sheet, encoding=encoding, delimiter=delimiter)
    folder = Path(tempfile.mkdtemp(prefix="stocksync-import-"))
    try:
        path = folder / "upload"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, COPY_CHUNK)
        prepared = prepare(svc, who.tenant_id, path, opts,
                           file_name=Path(file.filename or "upload").name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    tasks.add_task(_plan_in_background, svc, prepared, folder)
    return JSONResponse(_view(prepared.job), status_code=202)


def _plan_in_background(svc: Stocksync, prepared: Prepared, folder: Path) -> None:
    try:
        plan(svc, prepared)
    except InvalidInput:
        pass  # recorded on the job (status unreadable, with the reason)
    except Exception as exc:  # the outer loop of background work: recorded on the job
        fail(svc, prepared.job["id"], f"the preview failed: {exc}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/{import_id}")
def read(import_id: str, svc: Svc, who: Who) -> dict[str, Any]:
    """The status (planning, planned, applying, applied, failed, unreadable), the preview
    once planned, and the progress: rows read while planning, rows applied while applying."""
    return _view(_job(svc, who.tenant_id, import_id))


@router.post("/{import_id}/apply", status_code=202)
def apply(import_id: str, svc: Svc, who: Who, tasks: BackgroundTasks,
          skip_bad_rows: bool | None = None) -> JSONResponse:
    """Start applying (202); GET the import to follow its progress. A file with rejected
    rows applies nothing unless `skip_bad_rows=true`. Applying again, or after an
    interruption, applies only the rows not applied yet."""
    job = _job(svc, who.tenant_id, import_id)
    if skip_bad_rows is not None and skip_bad_rows != job["skip_bad_rows"]:
        with svc.engine.begin() as conn:
            store.update_job(conn, import_id, skip_bad_rows=skip_bad_rows)
        job["skip_bad_rows"] = skip_bad_rows
    check_ready(job)
    running = job["status"] == "applying" and \
        svc.clock() - job["updated_at"] < RUNNING_WITHIN
    if job["status"] != "applied" and not running:
        with svc.engine.begin() as conn:
            store.update_job(conn, import_id, status="applying", updated_at=svc.clock())
        tasks.add_task(_apply_in_background, svc, who.tenant_id, import_id, who.actor)
        job = _job(svc, who.tenant_id, import_id)
    return JSONResponse(_view(job), status_code=202)


def _apply_in_background(svc: Stocksync, tenant_id: str, job_id: str, actor: str) -> None:
    try:
        apply_job(svc, tenant_id, job_id, actor=actor)
    except Exception as exc:  # the outer loop of background work: recorded on the job
        with svc.engine.begin() as conn:
            store.update_job(conn, job_id, status="failed", error=str(exc)[:2000],
                             updated_at=svc.clock())


def _job(svc: Stocksync, tenant_id: str, job_id: str) -> dict[str, Any]:
    with svc.engine.connect() as conn:
        job = store.get_job(conn, tenant_id, job_id)
        if job is not None:
            job["refused"] = store.refused_rows(conn, job_id)
    if job is None:
        raise NotFound(f"no import {job_id}", import_id=job_id)
    return job


def _view(job: dict[str, Any]) -> dict[str, Any]:
    total, done = job["rows_to_apply"], job["rows_applied"]
    return {
        "id": job["id"], "status": job["status"], "file_name": job["file_name"],
        "rows_read": job["rows_read"],
        "file_hash": job["file_hash"], "format": job["format"], "mode": job["mode"],
        "absent": job["absent"], "skip_bad_rows": job["skip_bad_rows"],
        "mapping": job["mapping"], "counted_at": job["counted_at"].isoformat(),
        "progress": {"rows_to_apply": total, "rows_applied": done,
                     "percent": round(100 * done / total, 1) if total else 100.0},
        "preview": job["summary"], "refused": job.get("refused", []),
        "error": job.get("error"),
        "created_at": job["created_at"].isoformat(),
        "applied_at": job["applied_at"].isoformat() if job.get("applied_at") else None,
    }


def _mapping(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return mapping_from_dict(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"mapping is not valid JSON: {exc.msg}", field="mapping") from exc


def _choice(kind: Any, value: str, name: str) -> Any:
    try:
        return kind(value)
    except ValueError as exc:
        allowed = ", ".join(k.value for k in kind)
        raise InvalidInput(f"{name} must be one of {allowed}", field=name) from exc


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInput("counted_at needs a time zone", field="counted_at")
    return value

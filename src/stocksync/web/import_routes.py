"""Import: upload a CSV/XLSX, see the detected mapping and the preview with its rejected
rows, change the mapping and preview again, apply with a live progress bar.

Uploads, previews and applies go through the same functions as POST /v1/imports. The
uploaded file is kept (per tenant, in a temporary folder) until it is previewed again with
another mapping or the process ends, so fixing the mapping needs no second upload."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path as FsPath
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, BackgroundTasks, File, Form, Path, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from stocksync.api.routes import imports as api
from stocksync.api.routes.catalog import list_locations
from stocksync.web.deps import Svc, caller
from stocksync.web.render import page, problem
from stocksync.web.routing import PageRoute
from stocksync.web.session import Signed, Viewer

router = APIRouter(route_class=PageRoute)
ImportId = Annotated[str, Path(max_length=64)]
KEPT = FsPath(tempfile.gettempdir()) / "stocksync-dashboard-uploads"
MAX_MAPPING = 20_000


def _kept(who: Viewer, import_id: str) -> FsPath:
    safe = "".join(c for c in import_id if c.isalnum() or c == "-")
    return KEPT / who.tenant_id / safe


def _keep(who: Viewer, import_id: str, source: FsPath, name: str) -> None:
    folder = _kept(who, import_id)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, folder / "upload")
    (folder / "name").write_text(name)


def _upload(svc: Svc, who: Viewer, tasks: BackgroundTasks, path: FsPath, name: str,
            location: str | None, mapping: str | None) -> dict[str, Any]:
    with path.open("rb") as handle:
        answer = api.upload(svc, caller(who), tasks, UploadFile(handle, filename=name),
                            location=location or None, mapping=mapping or None)
        job: dict[str, Any] = json.loads(bytes(answer.body))
    _keep(who, job["id"], path, name)
    return job


@router.get("/imports", response_class=HTMLResponse)
def imports(request: Request, svc: Svc, who: Signed) -> Response:
    locations = list_locations(svc, caller(who))
    return page(request, "imports.html", who, title="Import", locations=locations)


@router.post("/imports")
async def upload(request: Request, svc: Svc, who: Signed, tasks: BackgroundTasks,
                 file: Annotated[UploadFile, File()],
                 location: Annotated[str, Form(max_length=32)] = "",
                 mapping: Annotated[str, Form(max_length=MAX_MAPPING)] = "") -> Response:
    folder = FsPath(tempfile.mkdtemp(prefix="stocksync-web-upload-"))
    try:
        path = folder / "upload"
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, api.COPY_CHUNK)
        job = await anyio.to_thread.run_sync(
            _upload, svc, who, tasks, path, FsPath(file.filename or "upload").name,
            location, mapping)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return RedirectResponse(f"/imports/{job['id']}", status_code=303)


def _view(svc: Svc, who: Viewer, import_id: str) -> dict[str, Any]:
    return api.read(import_id, svc, caller(who))


@router.get("/imports/{import_id}", response_class=HTMLResponse)
async def job_page(request: Request, import_id: ImportId, svc: Svc, who: Signed) -> Response:
    job = await anyio.to_thread.run_sync(_view, svc, who, import_id)
    name = "fragments/import_job.html" if request.headers.get("HX-Request") else "import.html"
    return page(request, name, who, title="Import", job=job,
                mapping=json.dumps(job["mapping"], indent=2),
                can_remap=(_kept(who, import_id) / "upload").exists())


@router.post("/imports/{import_id}/remap")
async def remap(request: Request, import_id: ImportId, svc: Svc, who: Signed,
                tasks: BackgroundTasks,
                mapping: Annotated[str, Form(max_length=MAX_MAPPING)]) -> Response:
    """Preview the same file again with this mapping (a new import; the old one stays)."""
    folder = _kept(who, import_id)
    await anyio.to_thread.run_sync(_view, svc, who, import_id)  # this tenant's import?
    if not (folder / "upload").exists():
        return problem(request, who, "the uploaded file is no longer kept here: "
                       "upload it again", 410)
    fresh = await anyio.to_thread.run_sync(
        _upload, svc, who, tasks, folder / "upload", (folder / "name").read_text(),
        None, mapping)
    return RedirectResponse(f"/imports/{fresh['id']}", status_code=303)


@router.post("/imports/{import_id}/apply", response_class=HTMLResponse)
async def apply(request: Request, import_id: ImportId, svc: Svc, who: Signed,
                tasks: BackgroundTasks,
                skip_bad_rows: Annotated[bool, Form()] = False) -> Response:
    answer = await anyio.to_thread.run_sync(
        lambda: api.apply(import_id, svc, caller(who), tasks,
                          skip_bad_rows=skip_bad_rows or None))
    job = json.loads(bytes(answer.body))
    return page(request, "fragments/import_progress.html", who, job=job)


@router.get("/imports/{import_id}/progress", response_class=HTMLResponse)
async def progress(request: Request, import_id: ImportId, svc: Svc, who: Signed) -> Response:
    job = await anyio.to_thread.run_sync(_view, svc, who, import_id)
    return page(request, "fragments/import_progress.html", who, job=job)

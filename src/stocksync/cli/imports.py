"""`stocksync import FILE`: preview a CSV/XLSX catalog file, and apply it with --apply."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from stocksync.cli.common import EXIT_FAILED, DbOption, console, err, fail, settings, table

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync
    from stocksync.imports.applier import ApplyReport
    from stocksync.imports.preview import ImportOptions

SAMPLE_LINES = 20


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, column = value.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise fail(f"{what} must look like NAME=Column header, not {value!r}")
        out[key.strip()] = column.strip()
    return out


def import_cmd(
    file: Annotated[Path, typer.Argument(help="a CSV or XLSX file", exists=True,
                                         dir_okay=False)],
    tenant: Annotated[str, typer.Option(help="tenant id or name")],
    mapping: Annotated[str | None, typer.Option(
        help="a JSON/YAML mapping file, or the name of a saved mapping")] = None,
    mode: Annotated[str, typer.Option(help="partial: change what the file lists; full: the "
                                      "file is the whole catalog")] = "partial",
    absent: Annotated[str, typer.Option(help="full mode, SKUs not in the file: report, zero "
                                        "(count to 0) or delete (soft)")] = "report",
    apply: Annotated[bool, typer.Option("--apply", help="apply after the preview")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(
        "--skip-bad-rows", help="apply the good rows of a file with rejected rows")] = False,
    location: Annotated[str | None, typer.Option(
        help="location for a quantity column that names none (Shopify, WooCommerce)")] = None,
    column: Annotated[list[str] | None, typer.Option(
        help="FIELD=Column header (repeatable), e.g. sku='Article No'")] = None,
    quantity: Annotated[list[str] | None, typer.Option(
        help="LOCATION=Column header (repeatable), e.g. WH_MAIN='Stock Main'")] = None,
    deltas: Annotated[bool, typer.Option(
        "--deltas", help="quantities are changes (a delivery note), not stock counts")] = False,
    counted_at: Annotated[datetime | None, typer.Option(
        help="when the file's counts were taken (default: now)")] = None,
    sheet: Annotated[str | None, typer.Option(help="XLSX sheet (default: the first)")] = None,
    encoding: Annotated[str | None, typer.Option(
        help="CSV encoding (default: UTF-8, else Latin-1)")] = None,
    delimiter: Annotated[str | None, typer.Option(help="CSV delimiter (default: sniffed)")]
    = None,
    save_mapping: Annotated[str | None, typer.Option(
        help="save the mapping used under this name for the next import")] = None,
    database_url: DbOption = None,
) -> None:
    """Preview a catalog file (items, prices, stock per location) and apply it with --apply.
    Each row applies once, even if the file is imported again or an apply is resumed."""
    from stocksync.bootstrap import build_service
    from stocksync.cli.common import tenant_or_exit
    from stocksync.core.errors import InvalidInput
    from stocksync.imports.mapping import QuantityMode, load_mapping_file
    from stocksync.imports.planner import AbsentAction
    from stocksync.imports.preview import ImportOptions

    if mode not in ("partial", "full"):
        raise fail("--mode must be partial or full")
    if absent not in {a.value for a in AbsentAction}:
        raise fail("--absent must be report, zero or delete")
    if counted_at is not None and counted_at.tzinfo is None:
        raise fail("--counted-at needs a time zone, e.g. 2026-11-30T08:00:00+00:00")
    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id
    try:
        explicit = load_mapping_file(Path(mapping)) if mapping and Path(mapping).is_file() \
            else None
        opts = ImportOptions(
            mode=mode, absent=AbsentAction(absent), skip_bad_rows=skip_bad_rows,
            mapping=explicit, mapping_name=mapping if mapping and not explicit else None,
            save_as=save_mapping, columns=_pairs(column or [], "--column"),
            quantities=_pairs(quantity or [], "--quantity"),
            quantity_mode=QuantityMode.DELTA if deltas else None, location=location,
            counted_at=counted_at, sheet=sheet, encoding=encoding, delimiter=delimiter)
        job = _preview_or_resume(svc, tenant_id, file, opts, resume=apply)
        if not apply:
            console.print(f"preview only: nothing changed. Apply with --apply (import "
                          f"{job['id']})", highlight=False)
            return
        report = _apply(svc, tenant_id, job)
    except InvalidInput as exc:
        err.print(f"[red]error:[/red] {escape(exc.message)}", soft_wrap=True, highlight=False)
        for problem in exc.details.get("errors", []) or []:
            err.print(f"  row {problem['row']}, column {problem['column']!r}: "
                      f"{problem['reason']}", soft_wrap=True, highlight=False)
        raise typer.Exit(EXIT_FAILED) from exc
    console.print(f"applied {report.applied} rows, {report.applied_before} applied before, "
                  f"{len(report.refused)} refused", highlight=False)
    for refusal in report.refused:
        for problem in refusal["errors"] or []:
            err.print(f"  refused row {refusal['row']}, column {problem['column']!r}: "
                      f"{problem['reason']}", soft_wrap=True, highlight=False)
    if report.refused:
        raise typer.Exit(EXIT_FAILED)


def _preview_or_resume(svc: Stocksync, tenant_id: str, file: Path, opts: ImportOptions, *,
                       resume: bool) -> dict[str, Any]:
    """The unfinished apply of this file, when there is one and we are to apply (a killed
    run goes on where it stopped); else a new preview, shown."""
    from stocksync.imports.preview import file_hash, preview
    from stocksync.imports.readers import estimate_rows
    from stocksync.imports.store import get_job, unfinished_job

    with svc.engine.connect() as conn:
        job = unfinished_job(conn, tenant_id, file_hash(file)) if resume else None
    if job is not None:
        console.print(f"resuming import {job['id']}: {job['rows_applied']} of "
                      f"{job['rows_to_apply']} rows were applied", highlight=False)
        return job
    with _bar() as bar:
        task = bar.add_task(f"reading {file.name}", total=estimate_rows(file, opts.sheet))
        job_id = preview(svc, tenant_id, file, opts, progress=lambda n: bar.advance(task, n))
    with svc.engine.connect() as conn:
        job = get_job(conn, tenant_id, job_id)
    assert job is not None
    show_preview(job)
    return job


def _apply(svc: Stocksync, tenant_id: str, job: dict[str, Any]) -> ApplyReport:
    from stocksync.imports.applier import apply_job

    with _bar() as bar:
        task = bar.add_task("applying", total=job["rows_to_apply"],
                            completed=job["rows_applied"])
        report = apply_job(svc, tenant_id, job["id"], actor="cli",
                           progress=lambda n: bar.advance(task, n))
    svc.admin.drain()  # give the events their log positions now (verify reads those)
    return report


def _bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    _Rate(),
                    TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                    console=console, transient=False)


class _Rate(TextColumn):
    """Rows per second (blank until rich has measured a rate)."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Any) -> Any:
        from rich.text import Text

        return Text(f"{task.speed:,.0f} rows/s" if task.speed else "")


def show_preview(job: dict[str, Any]) -> None:
    s = job["summary"]
    rows = s.get("rows", {})
    head = table(f"import preview: {job['file_name']} ({job['format']}, {job['mode']} mode, "
                 f"mapping {job['mapping'].get('preset') or 'given'})", "what", "count",
                 right=("count",))
    for label, value in (("rows read", s["rows_read"]), ("rows to apply", s["rows_to_apply"]),
                         ("unchanged", rows.get("unchanged", 0)),
                         ("rejected", s["rows_rejected"]), ("skipped", rows.get("skipped", 0)),
                         ("applied before", rows.get("applied_before", 0)),
                         ("items created", s["items_created"]),
                         ("items changed", s["items_changed"]),
                         ("items deleted", s["items_deleted"]),
                         ("SKUs absent from the file", s["absent_skus"])):
        head.add_row(label, str(value))
    console.print(head)
    if s["quantity_changes"]:
        qty = table("quantity changes", "location", "rows", "net units", right=("rows",
                                                                                "net units"))
        for loc, change in s["quantity_changes"].items():
            qty.add_row(loc, str(change["rows"]), f"{change['units']:+d}")
        console.print(qty)
    if s["item_samples"]:
        diffs = table(f"item changes (first {SAMPLE_LINES})", "row", "sku", "change")
        for sample in s["item_samples"]:
            change = "; ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in sample["diff"].items())
            diffs.add_row(str(sample["row"]), sample["sku"], change)
        console.print(diffs)
    if s["channels"]:
        shown = table("what channels would show", "channel", "SKUs changing", "examples")
        for code, change in s["channels"].items():
            examples = ", ".join(f"{x['sku']} {x['before']}->{x['after']}"
                                 for x in change["samples"][:5])
            shown.add_row(code, str(change["skus_changed"]), examples)
        console.print(shown)
    if s["absent_samples"]:
        console.print(f"absent from the file ({s['absent_skus']}, action: {job['absent']}): "
                      + ", ".join(s["absent_samples"][:SAMPLE_LINES]), soft_wrap=True,
                      highlight=False)
    for problem in s["errors"]:
        err.print(f"rejected: row {problem['row']}, column {problem['column']!r}: "
                  f"{problem['reason']}", soft_wrap=True, highlight=False)
    if s["rows_rejected"] > len(s["errors"]):
        err.print(f"... and more: {s['rows_rejected']} rows rejected in all", highlight=False)

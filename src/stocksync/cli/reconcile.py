"""`stocksync reconcile`: what each channel shows against what the ledger says it should.

Exit 0 when every channel matches, 3 when drift was found (also with --apply, which fixed
what it could: the report says what was wrong), 1 when a channel could not be read."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from stocksync.cli.common import (
    EXIT_DRIFT,
    EXIT_FAILED,
    DbOption,
    TenantOption,
    console,
    err,
    fail,
    settings,
    table,
    tenant_or_exit,
)

if TYPE_CHECKING:
    from stocksync.app.reconcile import ReconcileReport

SHOWN_PER_LIST = 200  # SKUs named per list; the stored report has them all


def _drifted(report: ReconcileReport) -> bool:
    return bool(report.mismatches or report.status_mismatches or report.missing
                or report.untracked)


def _name_skus(code: str, report: ReconcileReport) -> None:
    for m in report.mismatches + report.status_mismatches:
        console.print(f"  {code} {escape(m.sku)}: ledger says {m.expected}, channel shows "
                      f"{m.actual}", soft_wrap=True, highlight=False)
    for label, skus in (("missing (listed here, absent there)", report.missing),
                        ("untracked (on the channel, unknown here)", report.untracked)):
        if not skus:
            continue
        more = len(skus) - SHOWN_PER_LIST
        tail = f" … and {more} more (GET /v1/reconciliations/{report.id})" if more > 0 else ""
        console.print(f"  {code} {label}: {escape(', '.join(skus[:SHOWN_PER_LIST]))}{tail}",
                      soft_wrap=True, highlight=False)


def reconcile_cmd(
    tenant: TenantOption,
    channel: Annotated[str | None, typer.Option(help="only this channel code")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="push the source values")] = False,
    database_url: DbOption = None,
) -> None:
    """Compare what each channel shows with the ledger; a dry run unless --apply.
    Exit 0: in sync; 3: drift found; 1: a channel could not be read; 2: bad usage."""
    import asyncio

    import httpx
    from rich.progress import Progress

    from stocksync.app.connect import connect
    from stocksync.app.reconcile import reconcile
    from stocksync.bootstrap import build_service
    from stocksync.channels import registry
    from stocksync.storage.credentials import CredentialsError

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id
    with svc.uow(tenant_id, write=False) as uow:
        found = [c for c in uow.channels.list()
                 if c.kind in registry.PUSHED and (channel is None or c.code == channel)]
    if not found:
        raise fail(f"no channel {channel or ''} to reconcile for tenant {tenant}")
    shown = table("reconciliation" + (" (applied)" if apply else " (dry run)"), "channel",
                  "compared", "mismatches", "deleted for sale", "missing", "untracked",
                  "drift", "applied", "report id")
    outcome = {"failed": False, "drift": False}

    async def run() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            with Progress(console=console) as progress:
                for ch in found:
                    task = progress.add_task(f"reading {ch.code}", total=None)
                    report = await reconcile(
                        svc, ch, connect(svc, ch, client), apply=apply,
                        progress=lambda done, total, t=task: progress.update(
                            t, completed=done, total=total))
                    outcome["failed"] |= report.error is not None
                    outcome["drift"] |= _drifted(report)
                    shown.add_row(ch.code, str(report.compared), str(len(report.mismatches)),
                                  str(len(report.status_mismatches)), str(len(report.missing)),
                                  str(len(report.untracked)), f"{report.drift_rate:.2%}",
                                  str(report.applied), report.id)
                    _name_skus(ch.code, report)
                    if report.error:
                        err.print(f"[red]{ch.code}: {escape(report.error)}[/red]",
                                  soft_wrap=True)

    try:
        asyncio.run(run())
    except CredentialsError as exc:
        raise fail(f"{exc} (set the key the server uses)", EXIT_FAILED) from exc
    console.print(shown)
    if outcome["failed"]:
        raise typer.Exit(EXIT_FAILED)
    if outcome["drift"]:
        err.print("drift found (exit 3)" + ("; the source values were pushed" if apply
                                            else "; --apply pushes the source values"))
        raise typer.Exit(EXIT_DRIFT)

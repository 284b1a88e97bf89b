"""The `stocksync` command line."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stocksync.app.service import Stocksync
from stocksync.cli.simulate import simulate_app
from stocksync.config import Settings, SettingsError

app = typer.Typer(help="stocksync: one ledger of stock, pushed to every sales channel.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
tenants_app = typer.Typer(help="Manage tenants (merchants) and their API keys.",
                          no_args_is_help=True)
app.add_typer(tenants_app, name="tenants")
app.add_typer(simulate_app, name="simulate")
console = Console()
err = Console(stderr=True)

DbOption = Annotated[str | None, typer.Option("--database-url", envvar="STOCKSYNC_DATABASE_URL",
                                              help="SQLAlchemy URL (default sqlite file)")]


def settings(database_url: str | None = None, **overrides: object) -> Settings:
    try:
        return Settings.from_env(database_url=database_url, **overrides)
    except SettingsError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


@app.command()
def serve(
    database_url: DbOption = None,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="create a demo tenant with stock")] = False,
) -> None:
    """Run the HTTP API and the workers in one process (SQLite by default)."""
    import uvicorn

    from stocksync.api.app import create_app
    from stocksync.bootstrap import build_service

    cfg = settings(database_url, host=host, port=port)
    svc = build_service(cfg)
    app_ = create_app(cfg, svc)
    if demo:
        _start_demo(svc, f"http://{cfg.host}:{cfg.port}")
    uvicorn.run(app_, host=cfg.host, port=cfg.port, log_level=cfg.log_level,
                access_log=False)


def _start_demo(svc: Stocksync, base: str) -> None:
    """Demo tenant and data, two simulated channels, and a timed POS sale once serving."""
    import threading

    from stocksync.app.demo import seed_demo
    from stocksync.cli.demo import run_demo_sale, start_simulators

    seeded = seed_demo(svc)
    console.print(f"[green]demo tenant ready[/green]: {seeded.items} items at WH_MAIN and "
                  "NYC_01")
    console.print(f"API key: [bold]{seeded.api_key}[/bold]", soft_wrap=True)
    print(f"try:  curl -s -H 'Authorization: Bearer {seeded.api_key}' "
          f"{base}/v1/stock/TEE-BLA-M", flush=True)
    sims = start_simulators()
    threading.Thread(target=run_demo_sale, args=(base, seeded.api_key, sims, console),
                     daemon=True).start()


@app.command()
def demo(database_url: DbOption = None,
         port: Annotated[int | None, typer.Option(help="listen port")] = None) -> None:
    """Same as `serve --demo`."""
    serve(database_url=database_url, host=None, port=port, demo=True)


@app.command()
def worker(database_url: DbOption = None) -> None:
    """Run the workers without the API: sequencer, expirer and one task per channel.
    On PostgreSQL, several can run beside `serve`; each channel is run by one at a time."""
    import asyncio

    from stocksync.bootstrap import build_service
    from stocksync.logs import configure as configure_logs
    from stocksync.workers import start_workers
    from stocksync.workers.alerts import AlertWorker
    from stocksync.workers.channels import ChannelSupervisor
    from stocksync.workers.ingest import IngestWorker
    from stocksync.workers.reconciler import ReconcileScheduler

    cfg = settings(database_url)
    configure_logs(cfg.log_level)
    svc = build_service(cfg)
    assert svc.box is not None
    loops = start_workers(svc)
    console.print(f"workers running on {svc.engine.dialect.name}; Ctrl-C to stop", soft_wrap=True)

    async def main() -> None:
        assert svc.box is not None
        tasks = [asyncio.create_task(ChannelSupervisor(svc, svc.box).run()),
                 asyncio.create_task(IngestWorker(svc, svc.box).run()),
                 asyncio.create_task(ReconcileScheduler(svc).run()),
                 asyncio.create_task(AlertWorker(svc).run())]
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    try:
        asyncio.run(main())
    finally:
        for stoppable in loops:
            stoppable.stop()


@app.command()
def migrate(database_url: DbOption = None) -> None:
    """Apply database migrations (serve does this at start too)."""
    from stocksync.storage.engine import make_engine
    from stocksync.storage.migrate import upgrade

    cfg = settings(database_url)
    upgrade(make_engine(cfg))
    console.print("[green]database is at the latest schema[/green]")


@tenants_app.command("create")
def tenants_create(name: Annotated[str, typer.Argument(help="merchant name")],
                   database_url: DbOption = None) -> None:
    """Create a tenant and print its API key (shown once, stored only as a hash)."""
    from stocksync.bootstrap import build_service
    from stocksync.storage.tenants import create_tenant

    name = name.strip()
    if not 1 <= len(name) <= 200:
        err.print("[red]error:[/red] NAME must be 1 to 200 characters")
        raise typer.Exit(2)
    svc = build_service(settings(database_url))
    with svc.engine.begin() as conn:
        tenant = create_tenant(conn, name, svc.clock())
    console.print(f"tenant [bold]{tenant.name}[/bold] id={tenant.id}")
    console.print("API key (store it now, it is not shown again):")
    print(tenant.api_key)


@app.command()
def validate(file: Annotated[Path, typer.Argument(help="JSON array or JSONL of events",
                                                  exists=True, dir_okay=False)]) -> None:
    """Check an event file against the published schema; one line per violation."""
    from stocksync.app.event_file import read

    records, problems = read(file)
    for problem in problems:
        err.print(f"{file}: {problem}", soft_wrap=True)
    if problems:
        err.print(f"[red]{len(problems)} violation(s)[/red] in {file}")
        raise typer.Exit(1)
    console.print(f"[green]{len(records)} events are valid[/green]")


@app.command()
def replay(file: Annotated[Path, typer.Argument(help="JSON array or JSONL of events",
                                                exists=True, dir_okay=False)],
           tenant: Annotated[str, typer.Option(help="tenant id, or a tenant name (created "
                                                    "if missing)")],
           database_url: DbOption = None) -> None:
    """Apply an event file to a tenant. Each record applies once: replaying the same
    file again changes nothing. The whole file is validated before anything is applied."""
    from rich.progress import Progress

    from stocksync.app.event_file import read
    from stocksync.app.replay import replay as run_replay
    from stocksync.bootstrap import build_service
    from stocksync.storage.tables import tenants
    from stocksync.storage.tenants import create_tenant, tenant_by_name

    svc = build_service(settings(database_url))
    with svc.engine.begin() as conn:
        tenant_id = conn.execute(tenants.select().with_only_columns(tenants.c.id).where(
            tenants.c.id == tenant)).scalar() or tenant_by_name(conn, tenant)
        if tenant_id is None:
            tenant_id = create_tenant(conn, tenant, svc.clock()).id
            console.print(f"created tenant {tenant} ({tenant_id})")
    total = len(read(file)[0])
    with Progress(console=console) as progress:
        task = progress.add_task(f"replaying {file.name}", total=total)
        report, problems = run_replay(svc, tenant_id, file,
                                      lambda n: progress.advance(task, n))
    for problem in problems:
        err.print(f"{file}: {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(1)
    console.print(f"applied {report.applied}, already applied {report.already_applied}, "
                  f"refused {len(report.refused)}")
    for refusal in report.refused:
        console.print(f"  refused: {refusal}", soft_wrap=True)


@app.command("reconcile")
def reconcile_cmd(
    tenant: Annotated[str, typer.Option(help="tenant id or name")],
    channel: Annotated[str | None, typer.Option(help="only this channel code")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="push the source values")] = False,
    database_url: DbOption = None,
) -> None:
    """Compare what each channel shows with the ledger; a dry run unless --apply."""
    import asyncio

    import httpx
    from rich.progress import Progress

    from stocksync.app.connect import connect
    from stocksync.app.reconcile import reconcile
    from stocksync.bootstrap import build_service
    from stocksync.channels import registry
    from stocksync.storage.channels import SqlChannels
    from stocksync.storage.tables import tenants
    from stocksync.storage.tenants import tenant_by_name

    svc = build_service(settings(database_url))
    with svc.engine.connect() as conn:
        tenant_id = conn.execute(tenants.select().with_only_columns(tenants.c.id).where(
            tenants.c.id == tenant)).scalar() or tenant_by_name(conn, tenant)
    if tenant_id is None:
        err.print(f"[red]error:[/red] no tenant {tenant}")
        raise typer.Exit(2)
    with svc.uow(tenant_id, write=False) as uow:
        found = [c for c in SqlChannels(uow.conn, tenant_id).list()
                 if c.kind in registry.PUSHED and (channel is None or c.code == channel)]
    if not found:
        err.print(f"[red]error:[/red] no channel {channel or ''} to reconcile")
        raise typer.Exit(2)
    table = Table(title="reconciliation" + (" (applied)" if apply else " (dry run)"))
    for col in ("channel", "compared", "mismatches", "deleted for sale", "missing",
                "untracked", "drift", "applied", "report id"):
        table.add_column(col)
    failed = False

    async def run() -> None:
        nonlocal failed
        async with httpx.AsyncClient(timeout=30) as client:
            with Progress(console=console) as progress:
                for ch in found:
                    task = progress.add_task(f"reading {ch.code}", total=None)
                    connector = connect(svc, ch, client)
                    report = await reconcile(
                        svc, ch, connector, apply=apply,
                        progress=lambda done, total, t=task: progress.update(
                            t, completed=done, total=total))
                    failed |= report.error is not None
                    table.add_row(ch.code, str(report.compared), str(len(report.mismatches)),
                                  str(len(report.status_mismatches)), str(len(report.missing)),
                                  str(len(report.untracked)), f"{report.drift_rate:.2%}",
                                  str(report.applied), report.id)
                    for m in (report.mismatches + report.status_mismatches)[:20]:
                        console.print(f"  {ch.code} {m.sku}: ledger says {m.expected}, "
                                      f"channel shows {m.actual}", soft_wrap=True)
                    if report.error:
                        err.print(f"[red]{ch.code}: {report.error}[/red]", soft_wrap=True)

    asyncio.run(run())
    console.print(table)
    if failed:
        raise typer.Exit(1)


inbox_app = typer.Typer(help="Webhook deliveries kept by stocksync.", no_args_is_help=True)
app.add_typer(inbox_app, name="inbox")


@inbox_app.command("list")
def inbox_list(database_url: DbOption = None,
               status: Annotated[str, typer.Option(help="pending, done or failed")] = "failed",
               tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None,
               ) -> None:
    """Show deliveries (by default the dead-lettered ones) with their errors."""
    from stocksync.bootstrap import build_service
    from stocksync.storage import inbox as inbox_store
    from stocksync.storage.tables import tenants

    svc = build_service(settings(database_url))
    table = Table(title=f"inbox: {status}")
    for col in ("id", "tenant", "channel", "topic", "attempts", "error"):
        table.add_column(col)
    with svc.engine.connect() as conn:
        ids = [tenant] if tenant else list(conn.execute(
            tenants.select().with_only_columns(tenants.c.id)).scalars())
        for tid in ids:
            for d in inbox_store.listing(conn, tid, status, 0, 1000):
                table.add_row(str(d.id), tid, d.channel, d.topic, str(d.attempts),
                              (d.last_error or "")[:80])
    console.print(table)


@inbox_app.command("replay")
def inbox_replay(delivery_id: Annotated[int, typer.Argument(help="inbox id")],
                 database_url: DbOption = None) -> None:
    """Queue a delivery again; the running workers apply it (exactly once)."""
    from stocksync.bootstrap import build_service
    from stocksync.storage import inbox as inbox_store
    from stocksync.storage.engine import WRITE

    svc = build_service(settings(database_url))
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        if not inbox_store.replay(conn, delivery_id):
            err.print(f"[red]error:[/red] no delivery with id {delivery_id}")
            raise typer.Exit(1)
    console.print(f"delivery {delivery_id} queued again")


@app.command()
def verify(database_url: DbOption = None,
           tenant: Annotated[str | None, typer.Option(help="only this tenant id")] = None) -> None:
    """Replay the ledger and compare with stored levels; exit 1 on any difference."""
    from stocksync.app.verify import verify as run_verify
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    with console.status("replaying the ledger…"):
        report = run_verify(svc.engine, tenant)
    table = Table(title="verify")
    for col in ("tenants", "levels", "events", "mismatches"):
        table.add_column(col, justify="right")
    table.add_row(str(report.tenants), str(report.levels), str(report.events),
                  str(len(report.mismatches)))
    console.print(table)
    for mismatch in report.mismatches[:50]:
        err.print(f"[red]mismatch[/red] {mismatch.describe()}")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]ledger and levels agree[/green]")


if __name__ == "__main__":
    app()

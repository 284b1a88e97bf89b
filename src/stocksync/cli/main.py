"""The `stocksync` command line.

Exit codes: 0 done, 1 failed (a mismatch, an unreadable channel, a busy port), 2 bad usage
(unknown tenant, bad option value), 3 `reconcile` found drift.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer

from stocksync import __version__
from stocksync.cli.agents import mcp_cmd, storefront_keys_app
from stocksync.cli.common import (
    EXIT_FAILED,
    DbOption,
    FlagsCommand,
    command_group,
    console,
    err,
    fail,
    settings,
    table,
    tenant_or_exit,
)
from stocksync.cli.imports import import_cmd
from stocksync.cli.inbox import inbox_app
from stocksync.cli.leakage import leakage_app
from stocksync.cli.listings import listings_app
from stocksync.cli.reconcile import reconcile_cmd
from stocksync.cli.simulate import simulate_app
from stocksync.cli.stream import stream_app
from stocksync.cli.tenants import keys_app, tenants_app

app = command_group("stocksync: one ledger of stock, pushed to every sales channel.")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(simulate_app, name="simulate")
app.add_typer(inbox_app, name="inbox")
app.add_typer(leakage_app, name="leakage")
app.add_typer(storefront_keys_app, name="storefront-keys")
app.add_typer(stream_app, name="stream")
app.add_typer(listings_app, name="listings")


def _print_version(value: bool) -> None:
    if value:
        print(f"stocksync {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True,
        help="print the version and exit")] = False) -> None:
    """stocksync: one ledger of stock, pushed to every sales channel."""


@app.command(cls=FlagsCommand)
def serve(
    database_url: DbOption = None,
    host: Annotated[str | None, typer.Option(help="listen address")] = None,
    port: Annotated[int | None, typer.Option(help="listen port")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="create a demo tenant with stock")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, max=64,
        help="server processes (PostgreSQL only; singletons run in one of them)")] = 1,
) -> None:
    """Run the HTTP API and the workers in one process (SQLite by default), or in
    --workers N processes on PostgreSQL."""
    import uvicorn

    from stocksync.api.app import create_app
    from stocksync.api.server import server_config
    from stocksync.bootstrap import build_service
    from stocksync.cli.demo import check_port_free, start_demo

    cfg = settings(database_url, host=host, port=port)
    if workers > 1 and (cfg.is_sqlite or demo):
        raise fail("--workers N needs PostgreSQL and no --demo: SQLite has one writer, "
                   "served by one process")
    # Before anything changes (migrations, demo keys, channels): a busy port ends here.
    check_port_free(cfg.host, cfg.port)
    svc = build_service(cfg)
    if workers > 1:
        from stocksync.api.multiproc import serve_processes

        svc.engine.dispose()  # migrated: the processes open their own connections
        raise typer.Exit(serve_processes(cfg, workers))
    app_ = create_app(cfg, svc)
    if demo:
        start_demo(svc, cfg)
    # header-read and keep-alive timeouts: idle or slow clients cannot hold sockets open
    uvicorn.Server(server_config(app_, cfg)).run()


@app.command(cls=FlagsCommand)
def demo(database_url: DbOption = None,
         port: Annotated[int | None, typer.Option(help="listen port")] = None) -> None:
    """Same as `serve --demo`."""
    serve(database_url=database_url, host=None, port=port, demo=True)


@app.command(cls=FlagsCommand)
def worker(database_url: DbOption = None) -> None:
    """Run the workers without the API: sequencer, expirer and one task per channel.
    On PostgreSQL, several can run beside `serve`; each channel is run by one at a time."""
    import asyncio

    from stocksync.bootstrap import build_service
    from stocksync.logs import configure as configure_logs
    from stocksync.workers import start_workers
    from stocksync.workers.alerts import AlertWorker
    from stocksync.workers.channels import ChannelSupervisor
    from stocksync.workers.content import ContentSupervisor
    from stocksync.workers.ingest import IngestWorker
    from stocksync.workers.reconciler import ReconcileScheduler

    cfg = settings(database_url)
    configure_logs(cfg.log_level)
    svc = build_service(cfg)
    assert svc.box is not None
    loops = start_workers(svc)
    console.print(f"workers running on {svc.admin.kind}; Ctrl-C to stop", soft_wrap=True)

    async def main() -> None:
        assert svc.box is not None
        tasks = [asyncio.create_task(ChannelSupervisor(svc, svc.box).run()),
                 asyncio.create_task(IngestWorker(svc, svc.box).run()),
                 asyncio.create_task(ReconcileScheduler(svc).run()),
                 asyncio.create_task(AlertWorker(svc).run()),
                 asyncio.create_task(ContentSupervisor(svc).run())]  # content sync
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


@app.command(cls=FlagsCommand)
def migrate(database_url: DbOption = None) -> None:
    """Apply database migrations (serve does this at start too)."""
    from stocksync.storage.engine import make_engine
    from stocksync.storage.migrate import upgrade

    cfg = settings(database_url)
    upgrade(make_engine(cfg))
    console.print("[green]database is at the latest schema[/green]")
    from stocksync.cli.stream import setup_if_configured
    setup_if_configured(cfg)  # STOCKSYNC_NATS_URL set: the stream too


EventFile = Annotated[Path, typer.Argument(help="JSON array or JSONL of events", exists=True,
                                           dir_okay=False)]


@app.command(cls=FlagsCommand)
def validate(file: EventFile) -> None:
    """Check an event file against the published schema; one line per violation."""
    from stocksync.app.event_file import read

    records, problems = read(file)
    for problem in problems:
        err.print(f"{file}: {problem}", soft_wrap=True)
    if problems:
        err.print(f"[red]{len(problems)} violation(s)[/red] in {file}")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"[green]{len(records)} events are valid[/green]")


@app.command(cls=FlagsCommand)
def replay(file: EventFile,
           tenant: Annotated[str, typer.Option(help="tenant id or name")],
           create: Annotated[bool, typer.Option(
               "--create", help="create the tenant (named --tenant) if there is none")] = False,
           database_url: DbOption = None) -> None:
    """Apply an event file to a tenant. Each record applies once: replaying the same
    file again changes nothing. The whole file is validated before anything is applied."""
    from rich.progress import Progress

    from stocksync.app.event_file import read
    from stocksync.app.replay import replay as run_replay
    from stocksync.app.tenants import TenantRefused
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    records, problems = read(file)
    if problems:  # nothing is created or applied for a bad file
        for problem in problems:
            err.print(f"{file}: {problem}", soft_wrap=True)
        raise typer.Exit(EXIT_FAILED)
    try:
        found, made = svc.tenants.resolve_or_create(tenant, svc.clock(), create)
    except TenantRefused as exc:
        raise fail(str(exc)) from exc
    if made is not None:
        err.print(f"created tenant {made.name} ({made.id}); its API key (shown once):",
                  highlight=False)
        print(made.api_key, flush=True)
    tenant_id = found.id if found else tenant_or_exit(svc, tenant).id
    with Progress(console=console) as progress:
        task = progress.add_task(f"replaying {file.name}", total=len(records))
        report, problems = run_replay(svc, tenant_id, file,
                                      lambda n: progress.advance(task, n))
    for problem in problems:
        err.print(f"{file}: {problem}", soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_FAILED)
    console.print(f"applied {report.applied}, already applied {report.already_applied}, "
                  f"refused {len(report.refused)}")
    for refusal in report.refused:
        console.print(f"  refused: {refusal}", soft_wrap=True)


@app.command(cls=FlagsCommand)
def verify(database_url: DbOption = None,
           tenant: Annotated[str | None, typer.Option(help="only this tenant (id or name)")]
           = None) -> None:
    """Replay the ledger and compare with stored levels; exit 1 on any difference."""
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id if tenant else None
    with console.status("replaying the ledger…"):
        report = svc.verify(tenant_id)
    shown = table("verify", "tenants", "levels", "events", "mismatches",
                  right=("tenants", "levels", "events", "mismatches"))
    shown.add_row(str(report.tenants), str(report.levels), str(report.events),
                  str(len(report.mismatches)))
    console.print(shown)
    for mismatch in report.mismatches[:50]:
        err.print(f"[red]mismatch[/red] {mismatch.describe()}", soft_wrap=True)
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)
    console.print("[green]ledger and levels agree[/green]")


app.command("reconcile", cls=FlagsCommand)(reconcile_cmd)
app.command("import", cls=FlagsCommand)(import_cmd)
app.command("mcp", cls=FlagsCommand)(mcp_cmd)

if __name__ == "__main__":
    app()

"""`stocksync inbox …`: stored webhook deliveries, dead letters, replaying and dismissing."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from stocksync.cli.common import (
    EXIT_FAILED,
    DbOption,
    FlagsCommand,
    command_group,
    console,
    fail,
    settings,
    table,
    tenant_or_exit,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

inbox_app = command_group("Webhook deliveries kept by stocksync.")
CLI_ACTOR = "cli"
DeliveryArg = Annotated[int, typer.Argument(help="inbox id (the first column of `inbox list`)")]
OnlyTenant = Annotated[str | None, typer.Option(help="only this tenant (id or name)")]


class Status(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    dismissed = "dismissed"
    all = "all"


@inbox_app.command("list", cls=FlagsCommand)
def inbox_list(database_url: DbOption = None,
               status: Annotated[Status, typer.Option(help="which deliveries")] = Status.failed,
               tenant: OnlyTenant = None) -> None:
    """Show deliveries (by default the dead-lettered ones) with their errors."""
    from stocksync.bootstrap import build_service
    from stocksync.storage import inbox as inbox_store
    from stocksync.storage.tenants import list_tenants

    svc = build_service(settings(database_url))
    only = tenant_or_exit(svc, tenant) if tenant else None
    shown = table(f"inbox: {status.value}", "id", "tenant", "channel", "topic", "status",
                  "attempts", "error", right=("id", "attempts"))
    wanted = None if status is Status.all else status.value
    with svc.engine.connect() as conn:
        for t in [only] if only else list_tenants(conn):
            for d in inbox_store.listing(conn, t.id, wanted, 0, 1000):
                note = d.last_error or ""
                if d.dismissed_at:
                    note += f" (dismissed by {d.dismissed_by}: {d.dismiss_reason or '-'})"
                shown.add_row(str(d.id), t.name, d.channel, d.topic, d.status,
                              str(d.attempts), note)
    console.print(shown)


def _found(conn: Connection, delivery_id: int, tenant_id: str | None) -> None:
    from stocksync.storage import inbox as inbox_store

    if inbox_store.get(conn, delivery_id, tenant_id) is None:
        raise fail(f"no delivery with id {delivery_id}", EXIT_FAILED)


@inbox_app.command("replay", cls=FlagsCommand)
def inbox_replay(delivery_id: DeliveryArg, tenant: OnlyTenant = None,
                 database_url: DbOption = None) -> None:
    """Queue a delivery again; the running workers apply it (exactly once)."""
    from stocksync.bootstrap import build_service
    from stocksync.storage import inbox as inbox_store
    from stocksync.storage.engine import WRITE

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id if tenant else None
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        _found(conn, delivery_id, tenant_id)
        inbox_store.replay(conn, delivery_id, tenant_id)
    console.print(f"delivery {delivery_id} queued again")


@inbox_app.command("dismiss", cls=FlagsCommand)
def inbox_dismiss(delivery_id: DeliveryArg,
                  reason: Annotated[str | None, typer.Option(help="why it is given up")] = None,
                  tenant: OnlyTenant = None, database_url: DbOption = None) -> None:
    """Give up on a dead-lettered delivery: kept as `dismissed` with when, by whom (cli)
    and why; it no longer counts as failed and can still be replayed."""
    from stocksync.bootstrap import build_service
    from stocksync.storage import inbox as inbox_store
    from stocksync.storage.engine import WRITE

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id if tenant else None
    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        _found(conn, delivery_id, tenant_id)
        found = inbox_store.get(conn, delivery_id, tenant_id)
        if not inbox_store.dismiss(conn, delivery_id, svc.clock(), CLI_ACTOR, reason,
                                   tenant_id):
            status = found.status if found else "unknown"
            raise fail(f"delivery {delivery_id} is {status}: only a failed (dead-lettered) "
                       "delivery can be dismissed", EXIT_FAILED)
    console.print(f"delivery {delivery_id} dismissed")

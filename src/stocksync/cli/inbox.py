"""`stocksync inbox …`: stored webhook deliveries, dead letters, replaying and dismissing."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

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

    svc = build_service(settings(database_url))
    only = tenant_or_exit(svc, tenant) if tenant else None
    shown = table(f"inbox: {status.value}", "id", "tenant", "channel", "topic", "status",
                  "attempts", "error", right=("id", "attempts"))
    wanted = None if status is Status.all else status.value
    for t in [only] if only else svc.tenants.tenants():
        for d in svc.inbox.listing(t.id, wanted, 0, 1000):
            note = d.last_error or ""
            if d.dismissed_at:
                note += f" (dismissed by {d.dismissed_by}: {d.dismiss_reason or '-'})"
            shown.add_row(str(d.id), t.name, d.channel, d.topic, d.status,
                          str(d.attempts), note)
    console.print(shown)


def _no_delivery(delivery_id: int) -> typer.Exit:
    return fail(f"no delivery with id {delivery_id}", EXIT_FAILED)


@inbox_app.command("replay", cls=FlagsCommand)
def inbox_replay(delivery_id: DeliveryArg, tenant: OnlyTenant = None,
                 database_url: DbOption = None) -> None:
    """Queue a delivery again; the running workers apply it (exactly once)."""
    from stocksync.app.inbox_admin import replay_delivery
    from stocksync.bootstrap import build_service
    from stocksync.core.errors import NotFound

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id if tenant else None
    try:
        replay_delivery(svc, delivery_id, tenant_id)
    except NotFound as exc:
        raise _no_delivery(delivery_id) from exc
    console.print(f"delivery {delivery_id} queued again")


@inbox_app.command("dismiss", cls=FlagsCommand)
def inbox_dismiss(delivery_id: DeliveryArg,
                  reason: Annotated[str | None, typer.Option(help="why it is given up")] = None,
                  tenant: OnlyTenant = None, database_url: DbOption = None) -> None:
    """Give up on a dead-lettered delivery: kept as `dismissed` with when, by whom (cli)
    and why; it no longer counts as failed and can still be replayed."""
    from stocksync.app.inbox_admin import DeliveryNotFailed, dismiss_delivery
    from stocksync.bootstrap import build_service
    from stocksync.core.errors import NotFound

    svc = build_service(settings(database_url))
    tenant_id = tenant_or_exit(svc, tenant).id if tenant else None
    try:
        dismiss_delivery(svc, delivery_id, CLI_ACTOR, reason, tenant_id)
    except NotFound as exc:
        raise _no_delivery(delivery_id) from exc
    except DeliveryNotFailed as exc:
        raise fail(str(exc), EXIT_FAILED) from exc
    console.print(f"delivery {delivery_id} dismissed")

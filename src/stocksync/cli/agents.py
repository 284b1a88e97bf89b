"""`stocksync mcp` (the MCP server on stdio, for one tenant) and `stocksync storefront-keys`
(publishable read-only keys)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from stocksync.cli.common import (
    DbOption,
    FlagsCommand,
    TenantOption,
    command_group,
    console,
    err,
    fail,
    settings,
    table,
    tenant_or_exit,
    writing,
)

storefront_keys_app = command_group(
    "Publishable keys (pk_...): read availability on /storefront/v1, nothing else; safe to "
    "put in a shop page.")


def mcp_cmd(tenant: TenantOption, database_url: DbOption = None) -> None:
    """Serve the MCP tools for one tenant on stdin/stdout (for an agent that starts it as
    a subprocess). Logs go to stderr: stdout carries only the protocol."""
    import anyio
    import structlog

    from stocksync.agents.tools import build_server
    from stocksync.bootstrap import build_service
    from stocksync.logs import configure as configure_logs

    cfg = settings(database_url)
    configure_logs(cfg.log_level)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    svc = build_service(cfg)
    tenant_id = tenant_or_exit(svc, tenant).id
    server = build_server(svc, lambda _ctx: tenant_id)
    anyio.run(server.run_stdio_async)


LabelOption = Annotated[str | None, typer.Option(help="what the key is for (shown in lists)")]


@storefront_keys_app.command("create", cls=FlagsCommand)
def create(tenant: TenantOption, label: LabelOption = None,
           database_url: DbOption = None) -> None:
    """A new publishable key (printed once on stdout, stored only as a hash)."""
    from stocksync.bootstrap import build_service
    from stocksync.storage.tenants import MAX_LABEL, add_publishable_key

    if label is not None and len(label) > MAX_LABEL:
        raise fail(f"--label: at most {MAX_LABEL} characters")
    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    with writing(svc) as conn:
        key = add_publishable_key(conn, found.id, svc.clock(), label)
    err.print(f"publishable key of {found.name} (read-only, store it now):", highlight=False)
    print(key, flush=True)


@storefront_keys_app.command("list", cls=FlagsCommand)
def list_(tenant: TenantOption, database_url: DbOption = None) -> None:
    """The tenant's publishable keys: prefix, label, created, revoked."""
    from stocksync.bootstrap import build_service
    from stocksync.storage.tenants import list_publishable_keys

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    shown = table(f"publishable keys of {found.name} ({found.id})", "prefix", "label",
                  "created", "revoked")
    with svc.engine.connect() as conn:
        for k in list_publishable_keys(conn, found.id):
            shown.add_row(k.prefix, k.label or "", k.created_at.isoformat(timespec="seconds"),
                          k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    console.print(shown)


@storefront_keys_app.command("revoke", cls=FlagsCommand)
def revoke(prefix: Annotated[str, typer.Argument(help="the key's prefix (pk_ and 7 "
                                                  "characters)")],
           tenant: TenantOption, database_url: DbOption = None) -> None:
    """Revoke a publishable key (a running server refuses it within 30 s; at once when
    revoked through the API)."""
    from stocksync.bootstrap import build_service
    from stocksync.storage.tenants import TenantError, revoke_publishable_key

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    try:
        with writing(svc) as conn:
            key = revoke_publishable_key(conn, found.id, prefix, svc.clock())
    except TenantError as exc:
        raise fail(f"PREFIX: {exc}") from exc
    console.print(f"revoked {key.prefix}")

"""`stocksync tenants …` and `stocksync keys …`: merchants and their API keys."""

from __future__ import annotations

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
)

tenants_app = command_group("Manage tenants (merchants).")
keys_app = command_group("Manage a tenant's API keys: list, create, revoke, rotate. A key is "
                         "named by its prefix (sk_ and 7 characters).")
LabelOption = Annotated[str | None, typer.Option(help="what the key is for (shown in lists)")]
KeyArg = Annotated[str, typer.Argument(help="the key's prefix, as `keys list` shows it")]


def _show_new_key(api_key: str) -> None:
    err.print("API key (store it now, it is not shown again):")
    print(api_key, flush=True)  # alone on stdout, so `KEY=$(stocksync …)` works


@tenants_app.command("create", cls=FlagsCommand)
def tenants_create(name: Annotated[str, typer.Argument(help="merchant name (unique)")],
                   database_url: DbOption = None) -> None:
    """Create a tenant and print its first API key (shown once, stored only as a hash)."""
    from stocksync.app.tenants import TenantRefused
    from stocksync.bootstrap import build_service
    from stocksync.storage.tenants import TenantError, check_name

    try:
        name = check_name(name)
    except TenantError as exc:
        raise fail(f"NAME: {exc}") from exc
    svc = build_service(settings(database_url))
    try:
        tenant = svc.tenants.create_tenant(name, svc.clock())
    except TenantRefused as exc:
        raise fail(str(exc)) from exc
    err.print(f"tenant [bold]{tenant.name}[/bold] id={tenant.id}", highlight=False)
    _show_new_key(tenant.api_key)


@tenants_app.command("list", cls=FlagsCommand)
def tenants_list(database_url: DbOption = None) -> None:
    """Every tenant with its id and number of active keys."""
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    shown = table("tenants", "name", "id", "created", "active keys", right=("active keys",))
    for t in svc.tenants.tenants():
        active = sum(k.active for k in svc.tenants.keys(t.id))
        shown.add_row(t.name, t.id, t.created_at.isoformat(timespec="seconds"), str(active))
    console.print(shown)


@keys_app.command("list", cls=FlagsCommand)
def keys_list(tenant: TenantOption, database_url: DbOption = None) -> None:
    """The tenant's keys: prefix, label, created, revoked."""
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    shown = table(f"API keys of {found.name} ({found.id})", "prefix", "label", "created",
                  "revoked")
    for k in svc.tenants.keys(found.id):
        shown.add_row(k.prefix, k.label or "", k.created_at.isoformat(timespec="seconds"),
                      k.revoked_at.isoformat(timespec="seconds") if k.revoked_at else "")
    console.print(shown)


@keys_app.command("create", cls=FlagsCommand)
def keys_create(tenant: TenantOption, label: LabelOption = None,
                database_url: DbOption = None) -> None:
    """A new key for the tenant, printed once."""
    from stocksync.app.tenants import TenantRefused
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    try:
        api_key, _ = svc.tenants.create_key(found.id, svc.clock(), label)
    except TenantRefused as exc:
        raise fail(str(exc)) from exc
    err.print(f"new key {api_key[:10]} for {found.name}", highlight=False)
    _show_new_key(api_key)


@keys_app.command("revoke", cls=FlagsCommand)
def keys_revoke(key: KeyArg, tenant: TenantOption, database_url: DbOption = None) -> None:
    """Revoke a key. A server that has just seen the key may accept it for up to 30 s more
    (its key cache); `POST /v1/keys/{prefix}/revoke` takes effect at once."""
    from stocksync.app.tenants import TenantRefused
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    try:
        revoked, left = svc.tenants.revoke_key(found.id, key, svc.clock())
    except TenantRefused as exc:
        raise fail(str(exc)) from exc
    console.print(f"key {revoked.prefix} of {found.name} revoked; {left} active key(s) left",
                  highlight=False)
    if not left:
        err.print(f"{found.name} has no active key now: `stocksync keys create --tenant "
                  f"{found.id}` makes one", highlight=False)


@keys_app.command("rotate", cls=FlagsCommand)
def keys_rotate(key: KeyArg, tenant: TenantOption, database_url: DbOption = None) -> None:
    """Replace a key: a new one with the same label is printed and the old one revoked."""
    from stocksync.app.tenants import TenantRefused
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    found = tenant_or_exit(svc, tenant)
    try:
        api_key, _, old = svc.tenants.rotate_key(found.id, key, svc.clock())
    except TenantRefused as exc:
        raise fail(str(exc)) from exc
    err.print(f"key {old.prefix} revoked; its replacement is {api_key[:10]}", highlight=False)
    _show_new_key(api_key)

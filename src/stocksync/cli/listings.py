"""`stocksync listings …`: AI listing drafts (titles, eBay aspects) per channel, their
review, and the tenant's word rules and prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stocksync.cli.common import (
    EXIT_FAILED,
    DbOption,
    FlagsCommand,
    TenantOption,
    command_group,
    console,
    fail,
    settings,
    table,
    tenant_or_exit,
)
from stocksync.core.errors import DomainError

if TYPE_CHECKING:
    from stocksync.app.service import Stocksync

listings_app = command_group("AI listings: titles and item specifics per channel, "
                             "reviewed before they are published.")
CLI_ACTOR = "cli"
Channels = Annotated[list[str] | None, typer.Option(
    "--channel", help="channel code (repeat); default every channel that lists")]
DraftArg = Annotated[str, typer.Argument(help="draft id (the first column of `list`)")]


def _service(database_url: str | None, tenant: str) -> tuple[Stocksync, str]:
    from stocksync.bootstrap import build_service

    svc = build_service(settings(database_url))
    return svc, tenant_or_exit(svc, tenant).id


def _show(rows: list[dict[str, Any]], title: str = "drafts") -> None:
    shown = table(title, "id", "sku", "channel", "title", "length", "outcome", "status",
                  "warnings", right=("length",))
    for r in rows:
        shown.add_row(r["id"], r["sku"], r["channel"], r["title"],
                      f"{len(r['title'])}/{r['title_limit']}", r["outcome"], r["status"],
                      "; ".join(r["warnings"]) + (f" ({r['reason']})" if r["reason"] else ""))
    console.print(shown)


@listings_app.command("generate", cls=FlagsCommand)
def generate_cmd(tenant: TenantOption,
                 sku: Annotated[list[str] | None, typer.Option(
                     "--sku", help="SKU to draft (repeat)")] = None,
                 all_items: Annotated[bool, typer.Option(
                     "--all", help="the whole catalog, as a resumable job")] = False,
                 channel: Channels = None,
                 rules_only: Annotated[bool, typer.Option(
                     "--rules-only", help="do not ask the configured model")] = False,
                 database_url: DbOption = None) -> None:
    """Draft titles, aspects and a short description for SKUs or the whole catalog.
    A whole-catalog run that was interrupted resumes where it stopped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from stocksync.listings import service

    if bool(sku) == all_items:
        raise fail("give --sku (one or more) or --all")
    svc, tenant_id = _service(database_url, tenant)
    try:
        if sku:
            _show(service.generate(svc, tenant_id, sku, channel, use_model=not rules_only))
            return
        # run by hand after a kill: take the unfinished job over at once
        job, run = service.start_job(svc, tenant_id, channel, not rules_only,
                                     take_over=True)
    except DomainError as exc:
        raise fail(exc.message) from exc
    if not run:
        raise fail(f"listing job {job['id']} is running in another process "
                   f"({job['items_done']}/{job['items_total']} items)", EXIT_FAILED)
    if job["resumed"]:
        console.print(f"resuming listing job {job['id']} after {job['items_done']} of "
                      f"{job['items_total']} items")
    start = job["items_done"]
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("drafting", total=job["items_total"], completed=start)
        finished = service.run_job(svc, tenant_id, job["id"],
                                   lambda done, total: bar.update(task, completed=done,
                                                                  total=total))
    console.print(f"drafted {finished['items_done'] - start} items in this run "
                  f"({finished['items_done']} in all) for {', '.join(finished['channels'])};"
                  f" outcomes: {json.dumps(finished['outcomes'], sort_keys=True)}")


@listings_app.command("list", cls=FlagsCommand)
def list_cmd(tenant: TenantOption,
             status: Annotated[str | None, typer.Option(
                 help="pending, approved or rejected")] = None,
             sku: Annotated[str | None, typer.Option(help="only this SKU")] = None,
             channel: Annotated[str | None, typer.Option(help="only this channel")] = None,
             limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
             database_url: DbOption = None) -> None:
    """Drafts with their title, length/limit, outcome, status and warnings."""
    from stocksync.listings import store

    if status not in (None, "pending", "approved", "rejected"):
        raise fail("--status must be pending, approved or rejected")
    svc, tenant_id = _service(database_url, tenant)
    with svc.engine.connect() as conn:
        _show(store.list_drafts(conn, tenant_id, status=status, sku=sku, channel=channel,
                                limit=limit))


def _decide(action: str, database_url: str | None, tenant: str, draft_id: str,
            title: str | None = None) -> None:
    from stocksync.listings import service

    svc, tenant_id = _service(database_url, tenant)
    try:
        if action == "approve":
            row = service.approve(svc, tenant_id, draft_id, CLI_ACTOR, title)
        elif action == "edit":
            row = service.edit(svc, tenant_id, draft_id, title or "", CLI_ACTOR)
        else:
            row = service.reject(svc, tenant_id, draft_id, CLI_ACTOR)
    except DomainError as exc:
        raise fail(exc.message) from exc
    _show([row], f"draft {row['id']}")
    if row["publish_state"] == "failed":
        raise fail(f"not published: {row['publish_error']}", EXIT_FAILED)


Title = Annotated[str | None, typer.Option(help="the title to use instead")]


@listings_app.command("approve", cls=FlagsCommand)
def approve_cmd(draft_id: DraftArg, tenant: TenantOption, title: Title = None,
                database_url: DbOption = None) -> None:
    """Approve a draft: its title (and eBay aspects) go to the channel by content sync."""
    _decide("approve", database_url, tenant, draft_id, title)


@listings_app.command("edit", cls=FlagsCommand)
def edit_cmd(draft_id: DraftArg, tenant: TenantOption,
             title: Annotated[str, typer.Option(help="the new title")],
             database_url: DbOption = None) -> None:
    """Change a draft's title (refused over the channel's limit)."""
    _decide("edit", database_url, tenant, draft_id, title)


@listings_app.command("reject", cls=FlagsCommand)
def reject_cmd(draft_id: DraftArg, tenant: TenantOption,
               database_url: DbOption = None) -> None:
    """Reject a draft (a published one gives the channel the item's own title back)."""
    _decide("reject", database_url, tenant, draft_id)


@listings_app.command("settings", cls=FlagsCommand)
def settings_cmd(tenant: TenantOption,
                 ban: Annotated[list[str] | None, typer.Option(
                     help="a banned (fluff) word or phrase (repeat)")] = None,
                 allow: Annotated[list[str] | None, typer.Option(
                     help="a default fluff word this tenant uses (repeat)")] = None,
                 prefer: Annotated[list[str] | None, typer.Option(
                     help="SYNONYM=TERM: write TERM, the buyers' search term (repeat)")]
                 = None,
                 template_file: Annotated[Path | None, typer.Option(
                     exists=True, dir_okay=False, help="the model's system prompt")] = None,
                 default_template: Annotated[bool, typer.Option(
                     "--default-template", help="back to the seed's prompt")] = False,
                 database_url: DbOption = None) -> None:
    """Show or change the tenant's banned words, preferred terms and prompt (the lists
    given replace the stored ones)."""
    from stocksync.listings import store
    from stocksync.listings.llm import SEED_PROMPT

    values: dict[str, Any] = {}
    if ban is not None:
        values["banned_words"] = [w.strip() for w in ban if w.strip()]
    if allow is not None:
        values["allowed_words"] = [w.strip() for w in allow if w.strip()]
    if prefer is not None:
        pairs = {}
        for n, entry in enumerate(prefer, 1):
            synonym, sep, term = entry.partition("=")
            if not sep or not synonym.strip() or not term.strip():
                raise fail(f"--prefer #{n} ({entry!r}) must be SYNONYM=TERM")
            pairs[synonym.strip()] = term.strip()
        values["preferred_terms"] = pairs
    if template_file is not None:
        values["template"] = template_file.read_text(encoding="utf-8").strip() or None
    if default_template:
        values["template"] = None
    svc, tenant_id = _service(database_url, tenant)
    with store.writing(svc.engine) as conn:
        if values:
            store.save_settings(conn, tenant_id, values, svc.clock())
        row = store.settings_row(conn, tenant_id)
    console.print(f"banned words: {', '.join(row['banned_words']) or '-'} (plus the "
                  f"defaults, less: {', '.join(row['allowed_words']) or '-'})", soft_wrap=True)
    console.print("preferred terms: " + (", ".join(
        f"{k} -> {v}" for k, v in row["preferred_terms"].items()) or "-"), soft_wrap=True)
    console.print(f"template: {row['template'] or SEED_PROMPT}"
                  + (" (the seed's)" if row["template"] is None else ""), soft_wrap=True)


@listings_app.command("analyse", cls=FlagsCommand)
def analyse_cmd(sku: Annotated[str, typer.Argument(help="the item's SKU")],
                tenant: TenantOption, database_url: DbOption = None) -> None:
    """Read the item's images: colours, image checks and (with a vision model) garment
    attributes, stored as suggestions; the item itself is not changed."""
    from stocksync.listings.images import analyse_item

    svc, tenant_id = _service(database_url, tenant)
    try:
        found = analyse_item(svc, tenant_id, sku)
    except DomainError as exc:
        raise fail(exc.message) from exc
    for image in found["images"]:
        console.print(f"{image['url']}: " + (image.get("error") or ", ".join(
            f"{c['name']} {c['share']:.0%}" for c in image["colours"]) + (
            f"; problems: {'; '.join(image['problems'])}" if image["problems"] else "")),
            soft_wrap=True)
    shown = table(f"suggestions for {sku}", "attribute", "suggested", "confidence",
                  "source", "merchant's value", right=("confidence",))
    for s in found["suggestions"]:
        shown.add_row(s["attribute"], s["value"], f"{s['confidence']:.2f}", s["source"],
                      s["merchant_value"] or "-")
    console.print(shown)

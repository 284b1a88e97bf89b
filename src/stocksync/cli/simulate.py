"""`stocksync simulate …`: the channel simulators as standalone servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

simulate_app = typer.Typer(help="Run a protocol-faithful channel simulator locally.",
                           no_args_is_help=True)
console = Console()
Port = Annotated[int, typer.Option(help="port to listen on")]
Host = Annotated[str, typer.Option(help="address to listen on")]


@simulate_app.command("shopify")
def shopify(
    port: Port = 8101,
    host: Host = "127.0.0.1",
    token: Annotated[str, typer.Option(help="X-Shopify-Access-Token it accepts")] =
        "shpat_stocksync_simulator",
    shop: Annotated[str, typer.Option(help="shop name (<shop>.myshopify.com)")] =
        "stocksync-sim",
    seed: Annotated[Path | None, typer.Option(help="JSON catalog to start with",
                                              exists=True, dir_okay=False)] = None,
    bucket_size: Annotated[float, typer.Option(help="cost bucket (points)")] = 1000.0,
    restore_rate: Annotated[float, typer.Option(help="points restored per second")] = 50.0,
    webhook_url: Annotated[str | None, typer.Option(help="where to send webhooks")] = None,
    webhook_secret: Annotated[str | None, typer.Option(help="HMAC secret for webhooks")] =
        None,
    latency_ms: Annotated[int, typer.Option(help="added to every API call")] = 0,
    fail_next: Annotated[int, typer.Option(help="answer the next N calls with 503")] = 0,
    force_throttle: Annotated[bool, typer.Option(help="answer every call THROTTLED")] = False,
) -> None:
    """Shopify Admin GraphQL (inventory), cost throttling, compare-and-set, webhooks."""
    from stocksync.simulators.shopify import run
    from stocksync.simulators.shopify_state import ShopifySimConfig

    config = ShopifySimConfig(
        access_token=token, shop=shop, seed_path=seed, maximum_available=bucket_size,
        restore_rate=restore_rate, webhook_url=webhook_url, webhook_secret=webhook_secret,
        latency_ms=latency_ms, fail_next_n=fail_next, force_throttle=force_throttle)
    console.print(f"Shopify simulator on http://{host}:{port} "
                  f"(GraphQL at /admin/api/2026-04/graphql.json, admin API at /_sim/…)",
                  soft_wrap=True)
    run(port, host, config)


@simulate_app.command("generic")
def generic(
    port: Port = 8102,
    host: Host = "127.0.0.1",
    secret: Annotated[str, typer.Option(help="HMAC secret it verifies")] =
        "stocksync-generic-secret",
    path: Annotated[str, typer.Option(help="path that receives quantity batches")] =
        "/inventory",
    latency_ms: Annotated[int, typer.Option(help="added to every request")] = 0,
    fail_next: Annotated[int, typer.Option(help="answer the next N pushes with 503")] = 0,
) -> None:
    """A custom storefront / B2B portal receiving signed JSON quantity batches."""
    from stocksync.simulators.generic_http import GenericHttpSimConfig, run

    config = GenericHttpSimConfig(secret=secret, path=path, latency_ms=latency_ms,
                                  fail_next_n=fail_next)
    console.print(f"generic HTTP receiver on http://{host}:{port}{path}", soft_wrap=True)
    run(port, host, config)

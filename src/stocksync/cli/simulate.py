"""`stocksync simulate …`: the channel simulators as standalone servers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stocksync.cli.common import FlagsCommand, command_group, console

simulate_app = command_group("Run a protocol-faithful channel simulator locally.")
Port = Annotated[int, typer.Option(help="port to listen on")]
Host = Annotated[str, typer.Option(help="address to listen on")]


@simulate_app.command("shopify", cls=FlagsCommand)
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


@simulate_app.command("generic", cls=FlagsCommand)
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


Seed = Annotated[Path | None, typer.Option(help="JSON catalog to start with", exists=True,
                                           dir_okay=False)]
Latency = Annotated[int, typer.Option(help="added to every API call (ms)")]
FailNext = Annotated[int, typer.Option(help="answer the next N calls with 503")]
ForceLimit = Annotated[bool, typer.Option(help="answer every call with the platform's 429")]


def _serve(name: str, run: object, config: object, host: str, port: int) -> None:
    from dataclasses import asdict

    shown = {k: v for k, v in asdict(config).items()  # type: ignore[call-overload]
             if any(w in k for w in ("id", "key", "secret", "token", "seller", "marketplace"))}
    console.print(f"{name} simulator on http://{host}:{port} (admin API at /_sim/…)",
                  soft_wrap=True)
    console.print(f"credentials it accepts: {shown}", soft_wrap=True)
    run(port, host, config)  # type: ignore[operator]


@simulate_app.command("ebay", cls=FlagsCommand)
def ebay(port: Port = 8103, host: Host = "127.0.0.1", seed: Seed = None,
         revision_cap: Annotated[int, typer.Option(help="revisions per listing per day")] = 250,
         token_ttl: Annotated[float, typer.Option(help="access token lifetime (s)")] = 7200.0,
         notification_url: Annotated[str | None, typer.Option(
             help="where signed ORDER_CONFIRMATION notifications are POSTed")] = None,
         latency_ms: Latency = 0, fail_next: FailNext = 0,
         force_rate_limit: ForceLimit = False) -> None:
    """eBay Sell Inventory + Fulfillment APIs: bulkUpdatePriceQuantity, getOrders, signed
    order notifications, OAuth refresh, revision cap."""
    from stocksync.simulators.ebay import run
    from stocksync.simulators.ebay_state import EbaySimConfig

    _serve("eBay", run, EbaySimConfig(seed_path=seed, revision_cap=revision_cap,
                                      notification_url=notification_url,
                                      access_token_ttl_s=token_ttl, latency_ms=latency_ms,
                                      fail_next_n=fail_next,
                                      force_rate_limit=force_rate_limit), host, port)


@simulate_app.command("amazon", cls=FlagsCommand)
def amazon(port: Port = 8104, host: Host = "127.0.0.1", seed: Seed = None,
           feed_delay: Annotated[float, typer.Option(help="seconds to process a feed")] = 2.0,
           min_feed_interval: Annotated[float, typer.Option(
               help="seconds between feeds before it counts a violation")] = 1200.0,
           order_forward_url: Annotated[str | None, typer.Option(
               help="where ORDER_CHANGE notifications are forwarded")] = None,
           order_forward_secret: Annotated[str | None, typer.Option(
               help="webhook_secret that signs forwarded notifications")] = None,
           latency_ms: Latency = 0, fail_next: FailNext = 0,
           force_rate_limit: ForceLimit = False) -> None:
    """Amazon SP-API: Listings Items patch, Orders API, LWA tokens, rate limits, feeds."""
    from stocksync.simulators.amazon import run
    from stocksync.simulators.amazon_state import AmazonSimConfig

    console.print(f"point the amazon channel's settings at it: endpoint http://{host}:{port}, "
                  f"token_url http://{host}:{port}/auth/o2/token", soft_wrap=True)
    _serve("Amazon SP-API", run, AmazonSimConfig(
        seed_path=seed, feed_processing_delay_s=feed_delay,
        min_feed_interval_s=min_feed_interval, order_forward_url=order_forward_url,
        order_forward_secret=order_forward_secret, latency_ms=latency_ms,
        fail_next_n=fail_next, force_rate_limit=force_rate_limit), host, port)


@simulate_app.command("woocommerce", cls=FlagsCommand)
def woocommerce(port: Port = 8105, host: Host = "127.0.0.1", seed: Seed = None,
                rate_limit: Annotated[int | None, typer.Option(
                    help="requests per 10 s window (off by default, like WooCommerce)")] = None,
                webhook_url: Annotated[str | None, typer.Option(help="webhook target")] = None,
                webhook_secret: Annotated[str | None, typer.Option(help="webhook secret")] =
                None,
                latency_ms: Latency = 0, fail_next: FailNext = 0,
                force_rate_limit: ForceLimit = False) -> None:
    """WooCommerce REST v3: products/variations batch endpoints, signed webhooks."""
    from stocksync.simulators.woocommerce import run
    from stocksync.simulators.woocommerce_state import WooCommerceSimConfig

    _serve("WooCommerce", run, WooCommerceSimConfig(
        seed_path=seed, rate_limit=rate_limit, webhook_url=webhook_url,
        webhook_secret=webhook_secret, latency_ms=latency_ms, fail_next_n=fail_next,
        force_rate_limit=force_rate_limit), host, port)


@simulate_app.command("square", cls=FlagsCommand)
def square(port: Port = 8106, host: Host = "127.0.0.1", seed: Seed = None,
           webhook_url: Annotated[str | None, typer.Option(help="webhook target")] = None,
           webhook_signature_key: Annotated[str | None, typer.Option(
               help="webhook signature key")] = None,
           latency_ms: Latency = 0, fail_next: FailNext = 0,
           force_rate_limit: ForceLimit = False) -> None:
    """Square Inventory API: BatchChangeInventory with idempotency, signed webhooks."""
    from stocksync.simulators.square import run
    from stocksync.simulators.square_state import SquareSimConfig

    _serve("Square", run, SquareSimConfig(
        seed_path=seed, webhook_url=webhook_url, webhook_signature_key=webhook_signature_key,
        latency_ms=latency_ms, fail_next_n=fail_next, force_rate_limit=force_rate_limit),
        host, port)

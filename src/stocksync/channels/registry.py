"""Build a connector for a channel from its settings and decrypted credentials."""

from __future__ import annotations

import uuid
from typing import ClassVar

import httpx

from stocksync.channels.amazon import AmazonConnector
from stocksync.channels.amazon_auth import LWA_TOKEN_URL
from stocksync.channels.base import ChannelConnector
from stocksync.channels.ebay import EbayConnector
from stocksync.channels.facts import PlatformFacts
from stocksync.channels.generic_http import GenericHttpConnector
from stocksync.channels.shopify import ShopifyConnector
from stocksync.channels.square import PRODUCTION_URL as SQUARE_URL
from stocksync.channels.square import SquareConnector
from stocksync.channels.woocommerce import WooCommerceConnector
from stocksync.core.channel_rules import check_location_map, location_legs
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.errors import InvalidInput

# A per-process part: after a restart, a push that returns to a value pushed before the
# restart must not collide with that old push's idempotency key / delivery id.
BOOT_ID = uuid.uuid4().hex[:12]


class PosFacts(PlatformFacts):
    """A till: it tells stocksync what it sold (webhooks); nothing is pushed to it, so it
    has no connector, only facts."""

    kind: ClassVar[str] = "pos"
    pushed: ClassVar[bool] = False
    required_credentials: ClassVar[tuple[str, ...]] = ("webhook_secret",)


CLASSES: dict[ChannelKind, type[PlatformFacts]] = {
    ChannelKind.SHOPIFY: ShopifyConnector, ChannelKind.GENERIC_HTTP: GenericHttpConnector,
    ChannelKind.POS: PosFacts, ChannelKind.WOOCOMMERCE: WooCommerceConnector,
    ChannelKind.SQUARE: SquareConnector, ChannelKind.EBAY: EbayConnector,
    ChannelKind.AMAZON: AmazonConnector,
}
# Kinds whose quantities can go to several store locations (`location_map.<id>` settings).
# Square (one location per connector and order reader today) and WooCommerce (no
# locations in its core API) are not among them yet.
MULTI_LOCATION = frozenset({ChannelKind.SHOPIFY})
# Kinds stocksync pushes quantities to; a POS only sends webhooks.
PUSHED = frozenset(kind for kind, facts in CLASSES.items() if facts.pushed)


def connector_class(kind: ChannelKind) -> type[PlatformFacts]:
    """The class whose attributes are the facts about `kind` (its connector, if it has one)."""
    return CLASSES[kind]


def check(kind: ChannelKind, settings: dict[str, str], credentials: dict[str, str] | None,
          *, creating: bool) -> None:
    facts = connector_class(kind)
    needed_settings, needed_credentials = facts.required_settings, facts.required_credentials
    rate = settings.get("max_requests_per_second")
    if rate is not None:
        try:
            ok = 0 < float(rate) <= 10_000
        except ValueError:
            ok = False
        if not ok:
            raise InvalidInput("settings.max_requests_per_second must be a number from "
                               "0 to 10000", field="settings.max_requests_per_second")
    poll = settings.get("order_poll_seconds")
    if poll is not None:
        try:
            ok = float(poll) == 0 or 1 <= float(poll) <= 86_400
        except ValueError:
            ok = False
        if not ok:
            raise InvalidInput("settings.order_poll_seconds must be 0 (off) or a number of "
                               "seconds from 1 to 86400", field="settings.order_poll_seconds")
    legs = location_legs(settings)
    if legs:
        if kind not in MULTI_LOCATION:
            raise InvalidInput(f"a {kind.value} channel pushes to one store location: "
                               "location_map settings are for Shopify only",
                               field="settings")
        problem = check_location_map(legs)
        if problem:
            raise InvalidInput(problem, field="settings")
    for name in needed_settings:
        if not settings.get(name):
            raise InvalidInput(f"a {kind.value} channel needs settings.{name}",
                               field=f"settings.{name}")
    if creating or credentials is not None:
        for name in needed_credentials:
            if not (credentials or {}).get(name):
                raise InvalidInput(f"a {kind.value} channel needs credentials.{name}",
                                   field=f"credentials.{name}")


def location_map(settings: dict[str, str]) -> dict[str, str]:
    """`location.<platform location id>` settings: platform location -> stocksync location.
    A mapped store location (`location_map.<id>`) takes its orders from the first location
    of its group unless a `location.<id>` setting says otherwise."""
    mapped = {leg: codes[0] for leg, codes in location_legs(settings).items()}
    return mapped | {key.split(".", 1)[1]: code for key, code in settings.items()
                     if key.startswith("location.") and code}


def _rate(settings: dict[str, str]) -> float | None:
    raw = settings.get("max_requests_per_second")
    return float(raw) if raw else None


def build(channel: Channel, credentials: dict[str, str], client: httpx.AsyncClient,
          *, revisions_today: dict[str, int] | None = None) -> ChannelConnector:
    # Per connector instance: a worker rebuilt after a config change must not reuse the
    # keys of the pushes its predecessor made (Shopify refuses a key whose attempt failed).
    namespace = f"{channel.tenant_id}:{channel.code}:{BOOT_ID}:{uuid.uuid4().hex[:8]}"
    s, c = channel.settings, credentials
    match channel.kind:
        case ChannelKind.SHOPIFY:
            return ShopifyConnector(client, s["shop_url"], c["access_token"],
                                    location_id=s["location_id"],
                                    api_version=s.get("api_version", "2026-04"),
                                    key_namespace=namespace, locations=location_map(s),
                                    legs=list(location_legs(s)))
        case ChannelKind.GENERIC_HTTP:
            return GenericHttpConnector(client, s["url"], c["secret"], key_namespace=namespace)
        case ChannelKind.WOOCOMMERCE:
            return WooCommerceConnector(
                client, s["store_url"], c["consumer_key"], c["consumer_secret"],
                requests_per_second=_rate(s), batch_limit=int(s.get("batch_limit", 100)),
                credentials_in_query=s.get("credentials_in_query") == "true")
        case ChannelKind.SQUARE:
            return SquareConnector(client, s.get("base_url", SQUARE_URL), c["access_token"],
                                   location_id=s["location_id"], key_namespace=namespace,
                                   requests_per_second=_rate(s) or 5.0)
        case ChannelKind.EBAY:
            return EbayConnector(client, s.get("api_url", "https://api.ebay.com"),
                                 c["client_id"], c["client_secret"], c["refresh_token"],
                                 marketplace_id=s.get("marketplace_id", "EBAY_US"),
                                 merchant_location_key=s.get("merchant_location_key"),
                                 revisions_today=revisions_today,
                                 restock_cancellations=s.get("restock_cancellations") == "true")
        case ChannelKind.AMAZON:
            return AmazonConnector(client, s["endpoint"], c["lwa_client_id"],
                                   c["lwa_client_secret"], c["refresh_token"],
                                   seller_id=s["seller_id"], marketplace_id=s["marketplace_id"],
                                   token_url=s.get("token_url", LWA_TOKEN_URL),
                                   orders_since=channel.created_at)
    raise InvalidInput(f"stocksync does not push to {channel.kind.value} channels",
                       field="kind")

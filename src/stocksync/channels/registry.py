"""Build a connector for a channel from its settings and decrypted credentials."""

from __future__ import annotations

import uuid

import httpx

from stocksync.channels.base import ChannelConnector
from stocksync.channels.generic_http import GenericHttpConnector
from stocksync.channels.shopify import ShopifyConnector
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.errors import InvalidInput

BOOT_ID = uuid.uuid4().hex[:12]

# What each kind needs: (settings fields, credential fields).
REQUIRED: dict[ChannelKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    ChannelKind.SHOPIFY: (("shop_url", "location_id"), ("access_token",)),
    ChannelKind.GENERIC_HTTP: (("url",), ("secret",)),
    ChannelKind.POS: ((), ("webhook_secret",)),
    ChannelKind.WOOCOMMERCE: ((), ("webhook_secret",)),
    ChannelKind.SQUARE: ((), ("signature_key",)),
}
# Kinds stocksync pushes quantities to; the others only send webhooks (for now).
PUSHED = {ChannelKind.SHOPIFY, ChannelKind.GENERIC_HTTP}


def check(kind: ChannelKind, settings: dict[str, str], credentials: dict[str, str] | None,
          *, creating: bool) -> None:
    needed_settings, needed_credentials = REQUIRED[kind]
    rate = settings.get("max_requests_per_second")
    if rate is not None:
        try:
            ok = 0 < float(rate) <= 10_000
        except ValueError:
            ok = False
        if not ok:
            raise InvalidInput("settings.max_requests_per_second must be a number from "
                               "0 to 10000", field="settings.max_requests_per_second")
    for name in needed_settings:
        if not settings.get(name):
            raise InvalidInput(f"a {kind.value} channel needs settings.{name}",
                               field=f"settings.{name}")
    if creating or credentials is not None:
        for name in needed_credentials:
            if not (credentials or {}).get(name):
                raise InvalidInput(f"a {kind.value} channel needs credentials.{name}",
                                   field=f"credentials.{name}")


def build(channel: Channel, credentials: dict[str, str],
          client: httpx.AsyncClient) -> ChannelConnector:
    # A per-process part: after a restart, a push that returns to a value pushed before the
    # restart must not collide with that old push's idempotency key / delivery id.
    namespace = f"{channel.tenant_id}:{channel.code}:{BOOT_ID}"
    s = channel.settings
    if channel.kind is ChannelKind.SHOPIFY:
        return ShopifyConnector(client, s["shop_url"], credentials["access_token"],
                                location_id=s["location_id"],
                                api_version=s.get("api_version", "2026-04"),
                                key_namespace=namespace)
    return GenericHttpConnector(client, s["url"], credentials["secret"],
                                key_namespace=namespace)

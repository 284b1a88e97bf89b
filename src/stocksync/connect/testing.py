"""POST /v1/channels/{code}/test: the same check a channel passes before it is accepted
(app/channel_check.py), run again on demand, answering what was checked and, when it
failed, the platform's own error."""

from __future__ import annotations

from typing import Any

import anyio

from stocksync.app.channel_check import ChannelUnreachable, CredentialsRefused, check_credentials
from stocksync.app.service import Stocksync
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.errors import NotFound

CHECKED = {
    ChannelKind.SHOPIFY: "Admin GraphQL `shop { name }` with the access token",
    ChannelKind.WOOCOMMERCE: "GET /wp-json/wc/v3/products?per_page=1 with the consumer "
                             "key and secret",
    ChannelKind.SQUARE: "BatchRetrieveInventoryCounts (limit 1) at the channel's location "
                        "with the access token (INVENTORY_READ)",
    ChannelKind.EBAY: "a refresh_token grant for a user access token, then "
                      "getInventoryItems (limit 1)",
    ChannelKind.AMAZON: "a Login with Amazon token from the refresh token, then "
                        "getListingsItem for the seller on the marketplace",
    ChannelKind.GENERIC_HTTP: "a signed GET of no SKUs at the endpoint",
    ChannelKind.POS: "nothing: a till only sends stocksync its sales (webhooks)",
}


def _load(svc: Stocksync, tenant_id: str, code: str) -> tuple[Channel, dict[str, str]]:
    assert svc.box is not None
    with svc.uow(tenant_id, write=False) as uow:
        channel = uow.channels.get(code)
        if channel is None:
            raise NotFound(f"no channel {code}", channel=code)
        sealed = uow.channels.sealed_credentials(code)
    return channel, svc.box.open(sealed) if sealed else {}


async def test_channel(svc: Stocksync, tenant_id: str, code: str) -> dict[str, Any]:
    channel, credentials = await anyio.to_thread.run_sync(_load, svc, tenant_id, code)
    answer: dict[str, Any] = {"channel": code, "kind": channel.kind.value,
                              "checked": CHECKED[channel.kind], "ok": True}
    try:
        await check_credentials(channel, credentials)
    except (CredentialsRefused, ChannelUnreachable) as exc:
        answer.update(ok=False, error=exc.code, message=exc.message,
                      platform_answer=exc.details.get("answer"),
                      reason=exc.details.get("reason"))
    return answer

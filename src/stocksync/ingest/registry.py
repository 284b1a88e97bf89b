"""The webhook parser for each channel kind that sends webhooks."""

from __future__ import annotations

from stocksync.ingest.amazon import AmazonNotificationParser
from stocksync.ingest.base import WebhookParser
from stocksync.ingest.ebay import EbayNotificationParser
from stocksync.ingest.pos import PosParser
from stocksync.ingest.shopify import ShopifyWebhookParser
from stocksync.ingest.square import SquareWebhookParser
from stocksync.ingest.woocommerce import WooCommerceWebhookParser

# Parsers hold no state, so one instance per kind serves every channel and tenant.
PARSERS: dict[str, WebhookParser] = {
    parser.kind: parser
    for parser in (PosParser(), ShopifyWebhookParser(), WooCommerceWebhookParser(),
                   SquareWebhookParser(), EbayNotificationParser(),
                   AmazonNotificationParser())
}


def parser_for(kind: str) -> WebhookParser:
    """The parser for a channel kind (a ChannelKind is a str); KeyError if it has none."""
    try:
        return PARSERS[kind]
    except KeyError:
        raise KeyError(f"no webhook parser for channel kind {kind!r}") from None

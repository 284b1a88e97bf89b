"""The content writer of a channel's connector (None: its platform takes no content)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from stocksync.channels.base import ChannelConnector
from stocksync.channels.content_base import ContentWriter
from stocksync.core.channels import ChannelKind

# Imported on first use: each writer builds on its connector module.
WRITERS: dict[ChannelKind, str] = {
    ChannelKind.SHOPIFY: "stocksync.channels.shopify_content:ShopifyContentWriter",
    ChannelKind.WOOCOMMERCE: "stocksync.channels.woocommerce_content:WooCommerceContentWriter",
    ChannelKind.EBAY: "stocksync.channels.ebay_content:EbayContentWriter",
    ChannelKind.AMAZON: "stocksync.channels.amazon_content:AmazonContentWriter",
    ChannelKind.SQUARE: "stocksync.channels.square_content:SquareContentWriter",
}


def writer_class(kind: ChannelKind) -> Any | None:
    path = WRITERS.get(kind)
    if path is None:
        return None
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def content_writer(kind: ChannelKind, connector: ChannelConnector,
                   settings: Mapping[str, str] | None = None) -> ContentWriter | None:
    cls = writer_class(kind)
    return None if cls is None else cls(connector, settings)  # type: ignore[no-any-return]


def content_fields_of(kind: ChannelKind) -> frozenset[str]:
    """The content fields a kind of channel carries (empty: none)."""
    cls = writer_class(kind)
    return frozenset() if cls is None else frozenset(cls.fields)

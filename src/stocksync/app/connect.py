"""Build a ready connector for a channel: decrypted credentials and stored SKU ids."""

from __future__ import annotations

import httpx

from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.channels.base import ChannelConnector
from stocksync.core.channels import Channel
from stocksync.storage.channels import SqlChannels

MAPPING_FIELD = "inventory_item_id"


def connect(svc: Stocksync, channel: Channel, client: httpx.AsyncClient) -> ChannelConnector:
    """Blocking (reads the database): call it in a worker thread from async code."""
    assert svc.box is not None
    with svc.uow(channel.tenant_id, write=False) as uow:
        repo = SqlChannels(uow.conn, channel.tenant_id)
        sealed = repo.sealed_credentials(channel.code)
        stored = repo.mapping(channel.code)
    connector = registry.build(channel, svc.box.open(sealed) if sealed else {}, client)
    mapping: dict[str, str] | None = getattr(connector, "mapping", None)
    if mapping is not None:
        mapping.update({sku: ids[MAPPING_FIELD] for sku, ids in stored.items()
                        if MAPPING_FIELD in ids})
    return connector

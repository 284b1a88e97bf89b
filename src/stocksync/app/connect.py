"""Build a ready connector for a channel: decrypted credentials and stored SKU ids."""

from __future__ import annotations

import httpx

from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.channels.base import ChannelConnector, DiscoversMapping
from stocksync.core.channels import Channel


def shared(svc: Stocksync, channel: Channel, client: httpx.AsyncClient) -> ChannelConnector:
    """The process's connector for this channel configuration (built on first use), so
    the pusher, the order poller and the ingest worker pace the platform's limits together.
    Blocking like `connect`."""
    key = (channel.tenant_id, channel.code)
    cached = svc.connectors.get(key)
    if cached is not None:
        updated_at, connector, owner = cached
        if updated_at == channel.updated_at and not owner.is_closed:
            return connector
    built = connect(svc, channel, client)
    svc.connectors[key] = (channel.updated_at, built, client)
    return built


def connect(svc: Stocksync, channel: Channel, client: httpx.AsyncClient) -> ChannelConnector:
    """Blocking (reads the database): call it in a worker thread from async code. The
    connector gets the SKU ids stored for the channel and, for eBay, today's revisions."""
    assert svc.box is not None
    now = svc.clock()
    with svc.uow(channel.tenant_id, write=False) as uow:
        repo = uow.channels
        sealed = repo.sealed_credentials(channel.code)
        stored = repo.mapping(channel.code)
        revisions = repo.revisions_today(channel.code, now)
    connector = registry.build(channel, svc.box.open(sealed) if sealed else {}, client,
                               revisions_today=revisions)
    field = registry.connector_class(channel.kind).mapping_field
    if isinstance(connector, DiscoversMapping) and field is not None:
        connector.mapping.update({sku: ids[field] for sku, ids in stored.items() if field in ids})
    return connector

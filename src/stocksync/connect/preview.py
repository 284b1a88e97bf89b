"""A new channel in preview: stored disabled, so nothing pushes, polls or alerts, until
the merchant has seen what the first push would change in the store (a dry-run
reconcile) and confirmed. `initial_sync: push` skips the preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import anyio
import httpx
from sqlalchemy import Connection

from stocksync.app.connect import connect
from stocksync.app.ports import UnitOfWork
from stocksync.app.reconcile import reconcile
from stocksync.app.service import Stocksync
from stocksync.channels import registry
from stocksync.core.channels import Channel, ChannelState
from stocksync.core.errors import InvalidInput, NotFound
from stocksync.storage import connections as stored


def _conn(uow: UnitOfWork) -> Connection:
    return cast(Connection, uow.conn)  # type: ignore[attr-defined]


def put_in_preview(uow: UnitOfWork, tenant_id: str, code: str, enabled_after: bool,
                   now: datetime) -> None:
    """In the channel's own creating transaction (the channel is stored disabled)."""
    stored.start_preview(_conn(uow), tenant_id, code, enabled_after, now)


def _load(svc: Stocksync, tenant_id: str, code: str) -> tuple[Channel, datetime | None]:
    with svc.uow(tenant_id, write=False) as uow:
        channel = uow.channels.get(code)
        if channel is None:
            raise NotFound(f"no channel {code}", channel=code)
        found = stored.preview_of(_conn(uow), tenant_id, code)
    return channel, found[1] if found else None


def state_of(svc: Stocksync, tenant_id: str, code: str) -> ChannelState | None:
    """PREVIEW for a channel waiting for its confirmation, else None."""
    return ChannelState.PREVIEW if _load(svc, tenant_id, code)[1] is not None else None


async def preview(svc: Stocksync, tenant_id: str, code: str) -> dict[str, Any]:
    """What the first push would change in the store: every SKU whose quantity there
    differs from what stocksync would set (nothing is written)."""
    channel, since = await anyio.to_thread.run_sync(_load, svc, tenant_id, code)
    if channel.kind not in registry.PUSHED:
        raise InvalidInput(f"nothing is pushed to {channel.kind.value} channels",
                           field="code")
    async with httpx.AsyncClient(timeout=30) as client:
        connector = await anyio.to_thread.run_sync(connect, svc, channel, client)
        report = await reconcile(svc, channel, connector, apply=False)
    changes = [{"sku": m.sku, "store_shows": m.actual, "first_push_sets": m.expected}
               for m in report.mismatches + report.status_mismatches]
    return {"channel": code, "state": ChannelState.PREVIEW.value if since else "pushing",
            "preview_since": since.isoformat() if since else None,
            "compared": report.compared, "would_change": changes,
            "unchanged": report.compared - len(changes),
            "missing_in_store": report.missing, "only_in_store": report.untracked,
            "report_id": report.id, "error": report.error}


def confirm(svc: Stocksync, tenant_id: str, code: str) -> dict[str, Any]:
    """End the preview: the channel is enabled as asked and its first push starts."""
    _load(svc, tenant_id, code)
    with svc.uow(tenant_id) as uow:
        ended = stored.end_preview(_conn(uow), tenant_id, code, svc.clock())
        uow.commit()
    return {"channel": code, "state": "pushing", "confirmed": ended}

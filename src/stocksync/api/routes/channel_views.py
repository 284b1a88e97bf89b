"""What GET /v1/channels shows: a channel with its rules and its health."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Connection

from stocksync.app.ports import UnitOfWork
from stocksync.core.channels import Channel
from stocksync.storage.channels import rules_to_json
from stocksync.storage.connections import preview_of
from stocksync.stream.view import StreamConsumerOut, stream_consumer


class ChannelStatusOut(BaseModel):
    state: Literal["healthy", "degraded", "failing", "paused", "preview"] = Field(
        description="preview: connected, waiting for the merchant to confirm its first "
        "push (GET /v1/channels/{code}/preview, POST …/confirm); "
        "paused: disabled; failing: its pushes or order reads fail now; "
        "degraded: lag over STOCKSYNC_ALERT_LAG_SECONDS, or webhooks refused since the "
        "last one accepted; else healthy")
    cursor: int
    head: int
    lag_seconds: float = Field(description="how long the oldest change this channel should "
                               "show has waited (not yet projected, or due and not yet "
                               "acknowledged), counted from the channel's last "
                               "configuration change at the earliest. Held and parked SKUs "
                               "are not lag; a till (pos) has none. The same value as the "
                               "metric stocksync_channel_lag_seconds and the lag alert")
    pending: int = Field(description="SKUs the channel has not acknowledged yet, held and "
                         "parked ones included")
    held: int = Field(0, description="of them, waiting on purpose: an eBay revision budget, "
                      "a platform still confirming a change, a sale crossing a push")
    parked: int = Field(description="of them, refused by the channel: not retried until "
                        "the SKU changes or the channel is resynced")
    oldest_unpushed_at: datetime | None = Field(description="since when the oldest SKU due "
                                                "now (neither held nor parked) has waited")
    last_push_at: datetime | None
    last_error: str | None = Field(description="the last push error, kept after recovery")
    last_error_at: datetime | None
    recovered: bool = Field(False, description="a push succeeded after the last error")
    failing_since: datetime | None = Field(description="pushes fail since then (cleared by "
                                           "the first push that succeeds)")
    orders_polled_at: datetime | None = Field(
        None, description="the last successful poll of the channel's orders")
    orders_error: str | None = Field(None, description="the last order poll's error, "
                                     "if it failed after the last success")
    orders_error_at: datetime | None = None
    webhooks_refused: int = Field(0, description="webhook deliveries refused (401) because "
                                  "their signature did not match the channel's secret")
    webhook_refused_at: datetime | None = None
    webhooks_refused_since_accepted: bool = Field(
        False, description="no delivery was accepted after the last refusal: the secret "
        "is probably wrong and the orders in them are not counted")
    stream: StreamConsumerOut | None = Field(
        None, description="the channel reads the event stream (NATS): its consumer's lag")


class ChannelOut(BaseModel):
    code: str
    kind: str
    name: str
    enabled: bool
    locations: list[str]
    settings: dict[str, str]
    rules: dict[str, Any]
    has_credentials: bool
    webhook_path: str | None = Field(None, description="where this channel's webhooks go: "
                                     "POST <base URL><webhook_path>")
    status: ChannelStatusOut | None = None


def channel_out(uow: UnitOfWork, channel: Channel, now: datetime, *,
         with_status: bool, degraded_after: float = 60.0) -> ChannelOut:
    repo = uow.channels
    rules = rules_to_json(channel.rules)
    locations = rules.pop("locations")
    status = None
    if with_status:
        s = repo.status(channel.code, channel.cursor, now)
        status = ChannelStatusOut(
            state="preview" if _in_preview(uow, channel) else s.state(now, degraded_after).value,
            cursor=s.cursor,
            head=uow.log_head(), lag_seconds=s.lag_seconds(now),
            pending=s.pending, held=s.held, parked=s.parked,
            oldest_unpushed_at=s.oldest_unpushed_at, last_push_at=s.last_push_at,
            last_error=s.last_error, last_error_at=s.last_error_at, recovered=s.recovered,
            failing_since=s.failing_since, orders_polled_at=s.orders_polled_at,
            orders_error=s.orders_error, orders_error_at=s.orders_error_at,
            webhooks_refused=s.webhooks_refused, webhook_refused_at=s.webhook_refused_at,
            webhooks_refused_since_accepted=s.webhooks_refused_since_accepted,
            stream=stream_consumer(uow, channel, now))
    return ChannelOut(code=channel.code, kind=channel.kind.value, name=channel.name,
                      enabled=channel.enabled, locations=locations, settings=channel.settings,
                      rules=rules, status=status,
                      has_credentials=repo.sealed_credentials(channel.code) is not None,
                      webhook_path=f"/webhooks/{channel.kind.value}/{channel.webhook_id}"
                      if channel.webhook_id else None)


def _in_preview(uow: UnitOfWork, channel: Channel) -> bool:
    """Whether the channel waits for its preview to be confirmed (connect/). Previews are
    kept by the SQL storage only (storage/connections.py), read in this unit of work's
    transaction; a unit of work without a SQL connection (the memory twin) has none."""
    conn = getattr(uow, "conn", None)
    if not isinstance(conn, Connection):
        return False
    return preview_of(conn, channel.tenant_id, channel.code) is not None

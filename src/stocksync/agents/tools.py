"""The MCP server: stock tools for buying agents, on the official `mcp` SDK.

One server object serves stdio (`stocksync mcp --tenant T`, one tenant) and streamable HTTP
on `serve` (the tenant of the bearer key of each request). Tools are synchronous: the SDK
runs them in worker threads, like FastAPI's sync routes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from stocksync import __version__, metrics
from stocksync.agents.health import channel_health as read_health
from stocksync.agents.reads import read_availability, search_items
from stocksync.api.errors import render_domain_error
from stocksync.api.routes.reservations import reservation_out
from stocksync.app import handlers as h
from stocksync.app.service import Outcome, RequestMeta, Stocksync
from stocksync.core.errors import DomainError
from stocksync.core.reservations import ReservationKind, ReservationStatus
from stocksync.storage.ledger import WriteContext
from stocksync.storage.reservations import ReservationRecord
from stocksync.storage.uow import SqlUnitOfWork

TenantOf = Callable[[Context], str]
Json = dict[str, Any]
Key = Annotated[str, Field(min_length=1, max_length=255, description="makes a retry safe: "
                           "the same key with the same arguments returns the first answer")]
Sku = Annotated[str, Field(min_length=1, max_length=64)]
INSTRUCTIONS = (
    "Live stock of one merchant. Every stock answer says when it was read (as_of), at which "
    "log position (as_of_sequence), how old it is (age_seconds) and whether it is fresh; "
    "for each sales channel, what it shows, its lag_seconds and whether that is fresh "
    "against fresh_threshold_seconds. Hold stock with reserve_stock before buying, then "
    "commit_reservation or release_reservation; pass a new idempotency_key for each "
    "intended action and the same one when retrying it.")


def _refused(error: DomainError) -> ToolError:
    status, body = render_domain_error(error)
    return ToolError(json.dumps({"status": status, **body}))


def _answer(outcome: Outcome) -> Json:
    body: Json = json.loads(outcome.body)
    if outcome.status >= 400:
        raise ToolError(json.dumps({"status": outcome.status, **body}))
    return {**body, "replayed": outcome.replayed}


def build_server(svc: Stocksync, tenant_of: TenantOf) -> MCPServer:
    # The SDK logs each stateless request at INFO; stocksync logs its own writes.
    server: MCPServer = MCPServer("stocksync", version=__version__, instructions=INSTRUCTIONS,
                                  log_level="WARNING")

    def meta(tool: str, key: str, args: Json) -> RequestMeta:
        canonical = json.dumps(args, sort_keys=True, default=str).encode()
        return RequestMeta(source="mcp", actor="mcp", idempotency_key=key,
                           fingerprint=RequestMeta.fingerprint_of("MCP", tool, canonical))

    def stock_after(tenant_id: str, sku: str) -> Json:
        return read_availability(svc, tenant_id, [sku], channels=False).as_json()

    @server.tool()
    def get_availability(ctx: Context, skus: Annotated[list[Sku], Field(
            min_length=1, max_length=200)], location: str | None = None,
            include_channels: bool = True) -> Json:
        """Available units of one or many SKUs (per location, or at one location), with
        what each sales channel shows, its lag and a `fresh` flag."""
        try:
            return read_availability(svc, tenant_of(ctx), skus, location=location,
                                     channels=include_channels).as_json()
        except DomainError as exc:
            raise _refused(exc) from exc

    @server.tool(name="search_items")
    def search(ctx: Context, query: str = "", limit: Annotated[int, Field(ge=1, le=200)] = 20,
               after: str | None = None) -> Json:
        """Items whose SKU or title contains `query`, with their availability; page on with
        `after` = the answer's `next_after`."""
        try:
            return search_items(svc, tenant_of(ctx), query, limit, after)
        except DomainError as exc:
            raise _refused(exc) from exc

    @server.tool()
    def reserve_stock(ctx: Context, sku: Sku, quantity: Annotated[int, Field(ge=1)],
                      idempotency_key: Key, location: str | None = None,
                      kind: Literal["cart", "checkout"] = "checkout",
                      ttl_seconds: Annotated[int | None, Field(ge=1, le=86_400)] = None,
                      reference: Annotated[str | None, Field(max_length=200)] = None) -> Json:
        """Hold units so no other channel sells them; refused (409) when not available.
        The hold expires after ttl_seconds unless committed."""
        tenant_id = tenant_of(ctx)
        args = {"sku": sku, "quantity": quantity, "location": location, "kind": kind,
                "ttl_seconds": ttl_seconds, "reference": reference}
        req = h.NewReservation(sku=sku, quantity=quantity, location=location,
                               kind=ReservationKind(kind),
                               ttl=timedelta(seconds=ttl_seconds) if ttl_seconds else None,
                               reference=reference)

        def render(record: ReservationRecord) -> tuple[int, Any]:
            return 201, reservation_out(record, record.created_at).model_dump(mode="json")

        try:
            outcome = svc.reserve(tenant_id, meta("reserve", idempotency_key, args), req,
                                  render, render_domain_error)
        except DomainError as exc:
            raise _refused(exc) from exc
        if not outcome.replayed:  # counted like the API's holds
            metrics.RESERVATIONS.labels("created" if outcome.status == 201 else "refused").inc()
        return {"reservation": _answer(outcome), "stock": stock_after(tenant_id, sku)}

    def resolve(ctx: Context, tool: str, reservation_id: str, key: str,
                to: ReservationStatus) -> Json:
        tenant_id = tenant_of(ctx)

        def action(uow: SqlUnitOfWork, wctx: WriteContext) -> Any:
            record, _ = h.resolve_reservation(uow, wctx, reservation_id, to)
            return reservation_out(record, wctx.now).model_dump(mode="json")

        try:
            outcome = svc.execute(tenant_id, meta(tool, key, {"id": reservation_id}),
                                  action, lambda body: (200, body), render_domain_error)
        except DomainError as exc:
            raise _refused(exc) from exc
        if outcome.status == 200 and not outcome.replayed:
            metrics.RESERVATIONS.labels(to.value).inc()
        reservation = _answer(outcome)
        return {"reservation": reservation, "stock": stock_after(tenant_id,
                                                                 reservation["sku"])}

    @server.tool()
    def commit_reservation(ctx: Context, reservation_id: Annotated[str, Field(
            min_length=1, max_length=64)], idempotency_key: Key) -> Json:
        """The held units leave stock (the purchase is done)."""
        return resolve(ctx, "commit", reservation_id, idempotency_key,
                       ReservationStatus.COMMITTED)

    @server.tool()
    def release_reservation(ctx: Context, reservation_id: Annotated[str, Field(
            min_length=1, max_length=64)], idempotency_key: Key) -> Json:
        """Give held units back (the purchase will not happen)."""
        return resolve(ctx, "release", reservation_id, idempotency_key,
                       ReservationStatus.RELEASED)

    @server.tool()
    def channel_health(ctx: Context) -> Json:
        """Each sales channel's state, lag and whether what it shows is fresh enough for
        agents (lag within fresh_threshold_seconds)."""
        return read_health(svc, tenant_of(ctx))

    return server

"""Receiver for the generic signed HTTP channel (format in channels/generic_http.py).

    POST /inventory              verify X-Stocksync-Signature (401 if bad), dedupe by delivery id
    GET  /inventory?sku=...      current quantities (signed query string)
    GET  /_sim/state             {"quantities": {sku: last quantity}, ...counters}
    GET/DELETE /_sim/requests    every request received, with its outcome
    GET/POST /_sim/faults        latency_ms, fail_next_n, fail_status (500/503), down
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from stocksync.channels.generic_http import DELIVERY_HEADER, SIGNATURE_HEADER, verify_signature

__all__ = ["GenericHttpSimConfig", "GenericHttpSimState", "create_app", "run"]

REQUEST_LOG_SIZE = 10_000
DELIVERY_IDS_KEPT = 100_000


@dataclass(frozen=True, slots=True)
class GenericHttpSimConfig:
    secret: str = "stocksync-generic-secret"
    path: str = "/inventory"
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    down: bool = False


@dataclass(slots=True)
class ReceiverFaults:
    latency_ms: int = 0
    fail_next_n: int = 0
    fail_status: int = 503
    down: bool = False  # every request answers 503 until cleared


@dataclass(slots=True)
class ReceivedRequest:
    seq: int
    at: str
    method: str
    delivery_id: str | None
    signature_valid: bool
    outcome: str  # applied | duplicate | unauthorized | invalid | fault | read
    skus: list[str] = field(default_factory=list)


@dataclass(slots=True)
class GenericHttpSimState:
    faults: ReceiverFaults
    quantities: dict[str, int] = field(default_factory=dict)
    seen_deliveries: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    requests: deque[ReceivedRequest] = field(
        default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    unauthorized_count: int = 0

    def record(self, method: str, delivery_id: str | None, valid: bool, outcome: str,
               skus: list[str] | None = None) -> None:
        seq = (self.requests[-1].seq + 1) if self.requests else 1
        self.requests.append(ReceivedRequest(
            seq, datetime.now(UTC).isoformat(timespec="milliseconds"), method, delivery_id,
            valid, outcome, skus or []))
        if outcome == "unauthorized":
            self.unauthorized_count += 1


class FaultsIn(BaseModel):
    latency_ms: int | None = Field(None, ge=0)
    fail_next_n: int | None = Field(None, ge=0)
    fail_status: int | None = Field(None, ge=500, le=599)
    down: bool | None = None


def create_app(config: GenericHttpSimConfig | None = None) -> FastAPI:
    """The receiver app; its state is `app.state.sim` (a GenericHttpSimState)."""
    config = config or GenericHttpSimConfig()
    sim = GenericHttpSimState(ReceiverFaults(config.latency_ms, config.fail_next_n,
                                             config.fail_status, config.down))
    app = FastAPI(title="stocksync generic HTTP channel simulator")
    app.state.sim = sim

    async def fault(method: str, delivery_id: str | None) -> JSONResponse | None:
        if sim.faults.latency_ms:
            await asyncio.sleep(sim.faults.latency_ms / 1000)
        if sim.faults.down:
            sim.record(method, delivery_id, False, "fault")
            return JSONResponse({"error": "down"}, status_code=503)
        if sim.faults.fail_next_n > 0:
            sim.faults.fail_next_n -= 1
            sim.record(method, delivery_id, False, "fault")
            return JSONResponse({"error": "simulated failure"},
                                status_code=sim.faults.fail_status)
        return None

    @app.post(config.path)
    async def receive(request: Request) -> JSONResponse:
        delivery_id = request.headers.get(DELIVERY_HEADER)
        if (failed := await fault("POST", delivery_id)) is not None:
            return failed
        raw = await request.body()  # verify the raw bytes before parsing anything
        if not verify_signature(config.secret, raw, request.headers.get(SIGNATURE_HEADER)):
            sim.record("POST", delivery_id, False, "unauthorized")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        quantities = _parse_push(raw, delivery_id)
        if quantities is None:
            sim.record("POST", delivery_id, True, "invalid")
            return JSONResponse({"error": "expected {delivery_id, quantities: [{sku, "
                                          "quantity}]} with delivery_id matching the header"},
                                status_code=422)
        skus = [sku for sku, _ in quantities]
        if delivery_id in sim.seen_deliveries:
            sim.record("POST", delivery_id, True, "duplicate", skus)
            return JSONResponse({"status": "duplicate"})
        sim.seen_deliveries[str(delivery_id)] = None
        while len(sim.seen_deliveries) > DELIVERY_IDS_KEPT:
            del sim.seen_deliveries[next(iter(sim.seen_deliveries))]
        rejected: dict[str, str] = {}
        for sku, qty in quantities:  # refuse per SKU, like a real portal would
            if isinstance(qty, int) and not isinstance(qty, bool) and qty >= 0:
                sim.quantities[sku] = qty
            else:
                rejected[sku] = "quantity must be an integer >= 0"
        sim.record("POST", delivery_id, True, "applied", skus)
        return JSONResponse({"status": "applied", "rejected": rejected})

    @app.get(config.path)
    async def read(request: Request) -> JSONResponse:
        if (failed := await fault("GET", None)) is not None:
            return failed
        query = request.url.query.encode()
        if not verify_signature(config.secret, query, request.headers.get(SIGNATURE_HEADER)):
            sim.record("GET", None, False, "unauthorized")
            return JSONResponse({"error": "bad signature"}, status_code=401)
        skus = request.query_params.getlist("sku")
        sim.record("GET", None, True, "read", skus)
        return JSONResponse({"quantities": [{"sku": sku, "quantity": sim.quantities[sku]}
                                            for sku in skus if sku in sim.quantities]})

    @app.get("/_sim/state")
    async def state() -> dict[str, Any]:
        return {"quantities": sim.quantities, "deliveries": len(sim.seen_deliveries),
                "unauthorized_count": sim.unauthorized_count}

    @app.get("/_sim/requests")
    async def requests() -> list[dict[str, Any]]:
        return [asdict(r) for r in sim.requests]

    @app.delete("/_sim/requests", status_code=204)
    async def clear_requests() -> None:
        sim.requests.clear()

    @app.get("/_sim/faults")
    async def get_faults() -> dict[str, Any]:
        return asdict(sim.faults)

    @app.post("/_sim/faults")
    async def set_faults(body: FaultsIn) -> dict[str, Any]:
        for name, value in body.model_dump(exclude_none=True).items():
            setattr(sim.faults, name, value)
        return asdict(sim.faults)

    return app


def _parse_push(raw: bytes, delivery_id: str | None) -> list[tuple[str, object]] | None:
    """(sku, quantity as sent) pairs, or None when the body is not a push at all."""
    try:
        body = json.loads(raw)
        if not delivery_id or body["delivery_id"] != delivery_id:
            return None
        return [(str(q["sku"]), q["quantity"]) for q in body["quantities"]]
    except (ValueError, KeyError, TypeError):
        return None


def run(port: int, host: str = "127.0.0.1", config: GenericHttpSimConfig | None = None) -> None:
    """Serve the receiver until interrupted (`stocksync simulate generic_http --port N`)."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="info")

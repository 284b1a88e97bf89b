"""The naive baselines of issue 12, served over HTTP by a small async service (FastAPI +
psycopg 3 AsyncConnection, a fixed pool, no idempotency, no log): what a competent first
version of a reservation API looks like. Two ways of taking stock:

- `forupdate`:   BEGIN; SELECT on_hand … FOR UPDATE; SELECT sum(unexpired holds);
                 INSERT the hold; COMMIT   (the level row is locked across round trips)
- `conditional`: one autocommit statement, UPDATE … SET reserved = reserved + n
                 WHERE on_hand - reserved >= n, with the hold INSERTed in the same CTE

Started by benchmarks/http_hot_sku.py with NAIVE_MODE, NAIVE_DSN, NAIVE_POOL, NAIVE_KEY:

    NAIVE_MODE=conditional ... python -m uvicorn --factory benchmarks.naive_service:create_app
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, LiteralString

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

TABLES: tuple[LiteralString, ...] = (
    "CREATE TABLE naive_levels (sku text PRIMARY KEY, on_hand bigint NOT NULL, "
    "reserved bigint NOT NULL DEFAULT 0)",
    "CREATE TABLE naive_holds (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), "
    "sku text NOT NULL, quantity bigint NOT NULL, expires_at timestamptz NOT NULL, "
    "created_at timestamptz NOT NULL DEFAULT now())",
    "CREATE INDEX ON naive_holds (sku, expires_at)",
)
FOR_UPDATE: LiteralString = "SELECT on_hand FROM naive_levels WHERE sku = %s FOR UPDATE"
HELD: LiteralString = ("SELECT coalesce(sum(quantity), 0) FROM naive_holds "
                       "WHERE sku = %s AND expires_at > now()")
INSERT_HOLD: LiteralString = ("INSERT INTO naive_holds (sku, quantity, expires_at) "
                              "VALUES (%s, %s, now() + interval '300 seconds') RETURNING id")
CONDITIONAL: LiteralString = (
    "WITH taken AS (UPDATE naive_levels SET reserved = reserved + %(q)s "
    "WHERE sku = %(sku)s AND on_hand - reserved >= %(q)s RETURNING sku) "
    "INSERT INTO naive_holds (sku, quantity, expires_at) "
    "SELECT sku, %(q)s, now() + interval '300 seconds' FROM taken RETURNING id")
AVAILABLE_COUNTER: LiteralString = "SELECT on_hand - reserved FROM naive_levels WHERE sku = %s"
AVAILABLE_SUM: LiteralString = (
    "SELECT l.on_hand - coalesce((SELECT sum(quantity) FROM naive_holds h "
    "WHERE h.sku = l.sku AND h.expires_at > now()), 0) FROM naive_levels l WHERE l.sku = %s")


class ReservationIn(BaseModel):
    sku: Annotated[str, Field(min_length=1, max_length=128)]
    quantity: Annotated[int, Field(gt=0)]
    location: str | None = None


class Pool:
    """A fixed set of connections handed out in turn (what asyncpg's pool does)."""

    def __init__(self) -> None:
        self.free: asyncio.Queue[psycopg.AsyncConnection[tuple[object, ...]]] = asyncio.Queue()
        self.all: list[psycopg.AsyncConnection[tuple[object, ...]]] = []

    async def open(self, dsn: str, size: int) -> None:
        for _ in range(size):
            conn = await psycopg.AsyncConnection.connect(dsn, autocommit=True)
            self.all.append(conn)
            self.free.put_nowait(conn)

    @asynccontextmanager
    async def conn(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        conn = await self.free.get()
        try:
            yield conn
        finally:
            self.free.put_nowait(conn)

    async def close(self) -> None:
        for conn in self.all:
            await conn.close()


def create_app() -> FastAPI:
    mode = os.environ["NAIVE_MODE"]
    auth = f"Bearer {os.environ['NAIVE_KEY']}"
    pool = Pool()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await pool.open(os.environ["NAIVE_DSN"], int(os.environ.get("NAIVE_POOL", "20")))
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/v1/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/reservations")
    async def reserve(body: ReservationIn, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != auth:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        async with pool.conn() as conn:
            if mode == "forupdate":
                async with conn.transaction():
                    level = await (await conn.execute(FOR_UPDATE, (body.sku,))).fetchone()
                    held = await (await conn.execute(HELD, (body.sku,))).fetchone()
                    available = (int(level[0]) - int(held[0])  # type: ignore[call-overload]
                                 if level and held else 0)
                    hold = None
                    if available >= body.quantity:
                        hold = await (await conn.execute(
                            INSERT_HOLD, (body.sku, body.quantity))).fetchone()
            else:
                hold = await (await conn.execute(
                    CONDITIONAL, {"sku": body.sku, "q": body.quantity})).fetchone()
                available = 0
                if hold is None:
                    found = await (await conn.execute(AVAILABLE_COUNTER, (body.sku,))).fetchone()
                    available = int(found[0]) if found else 0  # type: ignore[call-overload]
        if hold is None:
            return JSONResponse({"error": "insufficient_stock", "available": available},
                                status_code=409)
        return JSONResponse({"id": str(hold[0]), "sku": body.sku, "quantity": body.quantity},
                            status_code=201)

    @app.get("/v1/stock/{sku}")
    async def stock(sku: str, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != auth:
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        query = AVAILABLE_SUM if mode == "forupdate" else AVAILABLE_COUNTER
        async with pool.conn() as conn:
            found = await (await conn.execute(query, (sku,))).fetchone()
        return JSONResponse({"sku": sku, "available": int(found[0]) if found else 0})  # type: ignore[call-overload]

    return app

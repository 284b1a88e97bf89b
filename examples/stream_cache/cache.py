"""An outside service's cache of available quantities, fed by stocksync's event stream.

It needs nothing of stocksync but nats-py: it reads one tenant's subjects through a durable
JetStream consumer and keeps `available = on_hand_after - reserved_after` of every
(SKU, location) the events report, in a local SQLite file.

Why it stays exact:
- each event carries the level *after* it, so the cache never adds deltas that could drift;
- the cache stores the tenant's log position with the quantities in one transaction and
  acknowledges the message only after that commit: a crash before the commit redelivers the
  message (applied then), a crash after the commit but before the ack redelivers it too,
  and the stored position says it was applied already (skipped, acknowledged);
- positions are consecutive: a position that jumps means messages were lost (e.g. the
  consumer fell behind the stream's retention), and the cache refuses to go on instead of
  serving wrong numbers (rebuild it from GET /v1/stock, then start a new consumer).

Run it:  python examples/stream_cache/cache.py --nats-url nats://127.0.0.1:4222 \\
             --tenant t_0123456789abcdef --db cache.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError


class Gap(RuntimeError):
    """The stream skipped positions of the tenant's log: the cache cannot stay exact."""


class AvailabilityCache:
    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS available (tenant TEXT, sku TEXT, "
                        "location TEXT, quantity INTEGER, PRIMARY KEY (tenant, sku, location))")
        self.db.execute("CREATE TABLE IF NOT EXISTS position (tenant TEXT PRIMARY KEY, "
                        "sequence INTEGER NOT NULL)")

    def position(self, tenant: str) -> int:
        row = self.db.execute("SELECT sequence FROM position WHERE tenant = ?",
                              (tenant,)).fetchone()
        return int(row[0]) if row else 0

    def apply(self, event: dict[str, Any]) -> bool:
        """Apply one event; False when it was applied before (a redelivery)."""
        tenant, sequence = event["tenant"], int(event["sequence"])
        self.db.execute("BEGIN IMMEDIATE")
        try:
            seen = self.position(tenant)
            if sequence <= seen:
                self.db.execute("ROLLBACK")
                return False
            if sequence != seen + 1:
                raise Gap(f"tenant {tenant}: position {sequence} after {seen}")
            on_hand, reserved = event.get("on_hand_after"), event.get("reserved_after")
            if event.get("location") and on_hand is not None and reserved is not None:
                self.db.execute(
                    "INSERT INTO available VALUES (?, ?, ?, ?) ON CONFLICT (tenant, sku, "
                    "location) DO UPDATE SET quantity = excluded.quantity",
                    (tenant, event["sku"], event["location"], on_hand - reserved))
            self.db.execute("INSERT INTO position VALUES (?, ?) ON CONFLICT (tenant) "
                            "DO UPDATE SET sequence = excluded.sequence", (tenant, sequence))
            self.db.execute("COMMIT")
            return True
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def snapshot(self, tenant: str) -> dict[tuple[str, str], int]:
        return {(sku, loc): int(q) for sku, loc, q in self.db.execute(
            "SELECT sku, location, quantity FROM available WHERE tenant = ?", (tenant,))}

    def close(self) -> None:
        self.db.close()


@dataclass(frozen=True)
class Source:
    url: str
    tenant: str
    stream: str = "STOCKSYNC"
    prefix: str = "stocksync"
    durable: str | None = None
    ack_wait: float = 30.0

    @property
    def consumer(self) -> str:
        return self.durable or f"cache_{self.tenant}"

    @property
    def subjects(self) -> str:
        return f"{self.prefix}.{self.tenant}.>"


async def consume(source: Source, cache: AvailabilityCache, *, create: bool = True,
                  idle_exit: float | None = None, crash_after: int | None = None,
                  user: str | None = None, password: str | None = None) -> int:
    """Apply the tenant's events until idle for `idle_exit` seconds (None: forever).
    `create`: make the durable consumer if it does not exist (a user limited to one tenant
    cannot: an operator creates it, see the README). `crash_after` stops right after that
    many commits, before their ack, as a crash would (tests). Returns events applied."""
    nc = await nats.connect(source.url, user=user, password=password, connect_timeout=3)
    applied = handled = 0
    try:
        js = nc.jetstream()
        if create:
            try:
                await js.consumer_info(source.stream, source.consumer)
            except NotFoundError:
                await js.add_consumer(source.stream, ConsumerConfig(
                    durable_name=source.consumer, filter_subject=source.subjects,
                    deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.EXPLICIT,
                    ack_wait=source.ack_wait, max_ack_pending=1000))
        sub = await js.pull_subscribe_bind(source.consumer, source.stream)
        idle = 0.0
        while idle_exit is None or idle < idle_exit:
            try:
                messages = await sub.fetch(100, timeout=0.5)
            except TimeoutError:
                idle += 0.5
                continue
            idle = 0.0
            for msg in messages:
                if cache.apply(json.loads(msg.data)):
                    applied += 1
                handled += 1
                if crash_after is not None and handled >= crash_after:
                    return applied  # committed, never acknowledged: it comes back
                await msg.ack()
    finally:
        await nc.close()
    return applied


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    parser.add_argument("--tenant", required=True)
    parser.add_argument("--stream", default="STOCKSYNC")
    parser.add_argument("--prefix", default="stocksync")
    parser.add_argument("--durable")
    parser.add_argument("--db", type=Path, default=Path("stream_cache.db"))
    args = parser.parse_args()
    cache = AvailabilityCache(args.db)
    source = Source(args.nats_url, args.tenant, args.stream, args.prefix, args.durable)
    try:
        asyncio.run(consume(source, cache))
    except KeyboardInterrupt:
        pass
    finally:
        cache.close()


if __name__ == "__main__":
    main()

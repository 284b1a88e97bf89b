"""What the sales race reads back from stocksync: the ledger's events (sales keyed by the
platform's order, conflicts, receipts, adjustments), the inbox, stock levels and the
latency histograms on /metrics."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import metrics_text, percentile_ms
from benchmarks.propagation import STOCK_READ_CHUNK, Histogram

Json = dict[str, Any]
EVENT_PAGE = 1000
INBOX_PAGE = 1000
SALE_DELAY_METRIC = "stocksync_channel_sale_delay_seconds"  # order time -> counted, by kind
PROPAGATION_METRIC = "stocksync_propagation_seconds"  # ledger -> channel acknowledged
LEDGER_TYPES = ("stock.received", "stock.sold", "stock.adjusted", "conflict.detected")


def events(api: httpx.Client, types: Sequence[str] = LEDGER_TYPES) -> list[Json]:
    found: list[Json] = []
    after = 0
    while True:
        r = api.get("/v1/events", params=[("after", after), ("limit", EVENT_PAGE),
                                          *(("type", t) for t in types)])
        r.raise_for_status()
        page = r.json()
        found += page["events"]
        if len(page["events"]) < EVENT_PAGE:
            return found
        after = page["next_after"]


def deliveries(api: httpx.Client, status: str) -> list[Json]:
    found: list[Json] = []
    after = 0
    while True:
        r = api.get("/v1/inbox", params={"status": status, "after": after,
                                         "limit": INBOX_PAGE})
        r.raise_for_status()
        page = r.json()
        found += page
        if len(page) < INBOX_PAGE:
            return found
        after = page[-1]["id"]


def levels(api: httpx.Client, skus: Sequence[str]) -> dict[str, Json]:
    """sku -> GET /v1/stock item (on_hand, available, ...)."""
    found: dict[str, Json] = {}
    for start in range(0, len(skus), STOCK_READ_CHUNK):
        r = api.get("/v1/stock", params=[("sku", s) for s in skus[start:start + STOCK_READ_CHUNK]])
        r.raise_for_status()
        found.update((item["sku"], item) for item in r.json()["items"])
    return found


def order_of(key: str | None) -> tuple[str, str] | None:
    """(kind, platform order id) from a channel sale's key "<kind>:<order>:<line>", whether
    bare (a conflict's data.key) or as stored ("ingest:<channel>:<kind>:<order>:<line>")."""
    if not key:
        return None
    parts = key.split(":")
    if parts[0] == "ingest":
        parts = parts[2:]
    return (parts[0], parts[1]) if len(parts) >= 3 else None


def channel_of(event: Json) -> str | None:
    """The channel code of an event a channel caused (source "<kind>:<code>")."""
    source = str(event.get("source") or "")
    return source.split(":", 1)[1] if ":" in source else None


@dataclass(slots=True)
class Ledger:
    """The run's events, sorted into what the report needs."""

    sold_at: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (kind, order)
    api_sold: int = 0
    sold_units: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # by sku
    received: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    adjusted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    adjusted_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # channel
    oversold: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, order) -> units
    oversold_by: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # channel
    other_conflicts: list[Json] = field(default_factory=list)

    def accounted(self, kind: str, order_id: str) -> bool:
        return (kind, order_id) in self.sold_at or (kind, order_id) in self.oversold


def read_ledger(api: httpx.Client) -> Ledger:
    ledger = Ledger()
    for e in events(api):
        sku, quantity = str(e.get("sku") or ""), abs(int(e.get("quantity") or 0))
        match e["type"]:
            case "stock.received":
                ledger.received[sku] += quantity
            case "stock.sold":
                ledger.sold_units[sku] += quantity
                order = order_of(e.get("idempotency_key")) if channel_of(e) else None
                if order is None:
                    ledger.api_sold += 1
                else:
                    ledger.sold_at[order] = datetime.fromisoformat(e["recorded_at"])
            case "stock.adjusted":
                signed = int(e.get("quantity") or 0)
                ledger.adjusted[sku] += signed
                ledger.adjusted_by[channel_of(e) or "api"] += signed
            case "conflict.detected":
                data = e.get("data") or {}
                order = order_of(str(data.get("key") or ""))
                if data.get("attempted") == "stock.sold" and order is not None \
                        and order[0] != "level":
                    ledger.oversold[order] = int(data.get("requested") or 0)
                    ledger.oversold_by[str(data.get("channel"))] += int(
                        data.get("requested") or 0)
                else:
                    ledger.other_conflicts.append(data)
    return ledger


# ---- /metrics ----------------------------------------------------------------------------


def histograms(base_url: str, metric: str, label: str, tenant: str | None = None
               ) -> dict[str, Histogram]:
    """One histogram per value of `label` (only the tenant's, when its samples carry one)."""
    found: dict[str, Histogram] = {}
    text = metrics_text(base_url)
    for family in text_string_to_metric_families(text):
        if family.name != metric:
            continue
        for s in family.samples:
            if tenant is not None and s.labels.get("tenant", tenant) != tenant:
                continue
            name = s.labels.get(label)
            if name is None:
                continue
            h = found.setdefault(name, Histogram({}, 0.0, 0.0))
            if s.name.endswith("_bucket"):
                h.buckets[float(s.labels["le"])] = s.value
            elif s.name.endswith("_count"):
                found[name] = Histogram(h.buckets, s.value, h.total)
            elif s.name.endswith("_sum"):
                found[name] = Histogram(h.buckets, h.count, s.value)
    return found


def inbox_summary(api: httpx.Client) -> list[str]:
    """Per channel: deliveries kept, by topic, and how long each waited to be applied
    (received_at -> processed_at): where the sale -> ledger time goes."""
    by_channel: dict[str, list[Json]] = defaultdict(list)
    for d in deliveries(api, "done") + deliveries(api, "failed"):
        by_channel[d["channel"]].append(d)
    lines = []
    for channel, kept in sorted(by_channel.items()):
        topics = Counter(str(d["topic"]) for d in kept)
        waits = sorted((datetime.fromisoformat(d["processed_at"])
                        - datetime.fromisoformat(d["received_at"])).total_seconds()
                       for d in kept if d.get("processed_at"))
        p50, p99 = percentile_ms(waits, 0.5), percentile_ms(waits, 0.99)
        lines.append(f"inbox {channel}: {len(kept)} deliveries "
                     f"({', '.join(f'{t} {n}' for t, n in topics.most_common())}); "
                     f"received→applied p50 {(p50 or 0) / 1000:.1f} s, "
                     f"p99 {(p99 or 0) / 1000:.1f} s")
    return lines

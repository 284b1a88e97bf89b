"""How long stocksync takes to bring a change to every channel, as the simulation samples it.

Two legs: a channel's sale reaching the ledger (measured per sale in the log: recorded -
occurred) and the ledger's new value being acknowledged by the other channels (measured by
the pushers of this process: the stocksync_propagation_seconds histogram). A leg without
measurements of the tenant falls back on the benchmark figures in the README.
"""

from __future__ import annotations

from stocksync import metrics

# benchmarks: a sale reaches the ledger in 0.24 s p50 / 2.3 s p99 (eBay, no inbox queue,
# "Sales from five channels") and channels acknowledge the new value 0.109 s p50 / 0.266 s
# p99 later (Shopify on SQLite, "Propagation").
BENCH_SALE_TO_LEDGER = (0.24, 2.3)
BENCH_PUSH = (0.109, 0.266)
MAX_SAMPLES = 1000


def quantiles(p50: float, p99: float) -> list[float]:
    """100 delays spread to match a p50 and a p99 (linear between the points)."""
    out = []
    for i in range(100):
        q = (i + 0.5) / 100
        out.append(p50 * q / 0.5 if q <= 0.5 else p50 + (p99 - p50) * (q - 0.5) / 0.49)
    return out


def benchmark_propagation() -> list[float]:
    ingest, push = quantiles(*BENCH_SALE_TO_LEDGER), quantiles(*BENCH_PUSH)
    return sorted(a + b for a, b in zip(ingest, push, strict=True))


def measured_push(tenant_id: str) -> list[float]:
    """Push times this process observed for the tenant's channels, one value per
    observation (each at its histogram bucket's upper bound: never optimistic), thinned to
    at most MAX_SAMPLES in proportion; empty when nothing was pushed yet."""
    per_bound: dict[float, float] = {}
    for metric in metrics.PROPAGATION.collect():
        cumulative: dict[str, list[tuple[float, float]]] = {}
        for sample in metric.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("tenant") == tenant_id:
                bound = float(sample.labels["le"])
                cumulative.setdefault(sample.labels["channel"], []).append(
                    (bound, sample.value))
        for buckets in cumulative.values():
            before = 0.0
            finite = [b for b, _ in buckets if b != float("inf")]
            for bound, count in sorted(buckets):
                value = bound if bound != float("inf") else 2 * max(finite)
                per_bound[value] = per_bound.get(value, 0.0) + count - before
                before = count
    total = sum(per_bound.values())
    if total <= 0:
        return []
    scale = min(1.0, MAX_SAMPLES / total)
    return [bound for bound, count in sorted(per_bound.items()) if count > 0
            for _ in range(max(1, round(count * scale)))]

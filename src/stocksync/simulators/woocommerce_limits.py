"""The WooCommerce simulator's request log, host rate limit and limit violations.

WooCommerce's REST API has no rate limit of its own; hosts and WAFs add one (woocommerce.md
§4), so the window here is off unless configured. A violation is a request a well-behaved
client would not have sent: beyond the rate limit, before a Retry-After it was given ran
out, a batch over the batch limit (§3), or a page size over WordPress's cap (§1). Forced
429s (fault `force_rate_limit`) are transient and counted apart: they are not the client's
fault, but retrying before their Retry-After is.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from stocksync.simulators.woocommerce_state import JsonObject

REQUEST_LOG_SIZE = 10_000
VIOLATION_LOG_SIZE = 10_000
VIOLATION_KINDS = ("rate_limited", "ignored_retry_after", "batch_too_large",
                   "per_page_too_large")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class RequestRecord:
    """One REST call as the simulator saw it (GET /_sim/requests)."""

    seq: int
    at: str
    method: str
    path: str
    query: dict[str, str]  # consumer_secret is never logged
    status: int = 0
    # ok | item_errors | unauthorized | fault | rate_limited | forced_rate_limited
    # | too_large | invalid | not_found
    outcome: str = "ok"
    body: object | None = None  # the JSON body of writes
    item_errors: int = 0


@dataclass(slots=True)
class Violation:
    seq: int  # the request's seq in the request log
    at: str
    kind: str  # one of VIOLATION_KINDS
    method: str
    path: str
    detail: str


@dataclass(slots=True)
class RateWindow:
    """A fixed window of `limit` requests per `window_s`, opened by the first request after
    the previous window ended (how most WAF and plugin limiters count)."""

    limit: int | None
    window_s: float
    send_headers: bool = True  # RateLimit-* on every answer (False: a bare WAF)
    clock: Callable[[], float] = time.monotonic
    started_at: float | None = None
    used: int = 0

    def take(self) -> tuple[bool, float]:
        """(allowed, seconds until the window resets)."""
        now = self.clock()
        if self.started_at is None or now >= self.started_at + self.window_s:
            self.started_at, self.used = now, 0
        reset = self.started_at + self.window_s - now
        if self.limit is not None and self.used >= self.limit:
            return False, reset
        self.used += 1
        return True, reset

    def headers(self, reset: float) -> dict[str, str]:
        if self.limit is None or not self.send_headers:
            return {}
        # IETF RateLimit header draft: Reset in delta seconds, rounded up.
        return {"RateLimit-Limit": str(self.limit),
                "RateLimit-Remaining": str(max(0, self.limit - self.used)),
                "RateLimit-Reset": str(math.ceil(reset))}


@dataclass(slots=True)
class Monitor:
    """Request log and violation ledger of one simulator."""

    clock: Callable[[], float] = time.monotonic
    requests: deque[RequestRecord] = field(
        default_factory=lambda: deque(maxlen=REQUEST_LOG_SIZE))
    violations: deque[Violation] = field(
        default_factory=lambda: deque(maxlen=VIOLATION_LOG_SIZE))
    counts: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0  # 429s caused by the configured limit (client's fault)
    forced_rate_limited: int = 0  # 429s forced by the fault knob (transient)
    retry_not_before: float = 0.0  # monotonic time the last Retry-After given runs out
    _seq: int = 0

    def start(self, method: str, path: str, query: dict[str, str]) -> RequestRecord:
        self._seq += 1
        record = RequestRecord(self._seq, now_iso(), method, path,
                               {k: v for k, v in query.items() if k != "consumer_secret"})
        self.requests.append(record)
        return record

    def violation(self, record: RequestRecord, kind: str, detail: str) -> None:
        self.counts[kind] += 1
        self.violations.append(Violation(record.seq, now_iso(), kind, record.method,
                                         record.path, detail))

    def told_to_wait(self, seconds: float) -> None:
        self.retry_not_before = max(self.retry_not_before, self.clock() + seconds)

    def ignores_retry_after(self) -> bool:
        return self.clock() < self.retry_not_before

    def report(self) -> JsonObject:
        return {
            "count": sum(self.counts.values()),
            "rate_limited": self.rate_limited,
            "forced_rate_limited": self.forced_rate_limited,
            "by_kind": {kind: self.counts[kind] for kind in VIOLATION_KINDS},
            "violations": [asdict(v) for v in self.violations],
        }

    def clear(self) -> None:
        self.violations.clear()
        self.counts.clear()
        self.rate_limited = self.forced_rate_limited = 0

"""The sales race's results: one row per channel kind (and the API), the ledger check, and
the printed table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from benchmarks.common import percentile_ms
from benchmarks.propagation import Histogram, histogram_ms
from benchmarks.sales_race_ledger import Ledger
from benchmarks.sales_race_platforms import Platform

if TYPE_CHECKING:
    from benchmarks.sales_race import Sale

Json = dict[str, Any]
TAKEN, REFUSED = 201, 409
INSUFFICIENT = "cannot take"  # the ledger's insufficient_stock message


@dataclass(frozen=True, slots=True)
class Row:
    kind: str
    channel: str
    path: str  # how its orders reach stocksync
    poll_s: float | None  # order_poll_seconds in force (None: the API, nothing to poll)
    placed: int  # orders the platform took (API: sales the ledger took)
    refused: int  # refused by the platform (API: by the ledger)
    errors: int  # no answer or another status
    counted: int  # sales in the ledger for those orders
    oversold_orders: int  # orders the ledger refused (conflict.detected)
    oversold_units: int
    missing: int  # placed - counted - oversold: must be 0
    to_ledger_ms: tuple[float | None, float | None]  # p50, p99: order request -> recorded_at
    metric_ms: tuple[float | None, float | None]  # stocksync_channel_sale_delay_seconds
    to_channel_ms: tuple[float | None, float | None]  # stocksync_propagation_seconds
    adjusted_net: int  # level changes accepted from this channel, net of orders
    dead_letters: int  # failed inbox deliveries of this channel
    wrong_at_end: list[str] = field(default_factory=list)
    violations: int = 0
    violation_report: Json | None = None


@dataclass(slots=True)
class Race:
    rows: list[Row]
    load_s: float
    converge_s: float | None
    state: Json  # what was still missing when the wait ended
    receipts: int
    sold: int
    adjusted: int
    on_hand: int
    ledger_mismatches: list[str]  # SKUs whose on-hand != receipts - sales + adjustments
    beyond_stock: int  # units taken (all places) beyond each SKU's stock
    sold_out: int  # SKUs at 0 available at the end
    failed_other: list[str]  # dead letters that are not oversells
    other_conflicts: int
    notes: list[str] = field(default_factory=list)

    def passed(self) -> bool:
        return (self.converge_s is not None and not self.ledger_mismatches
                and self.adjusted == 0 and not self.failed_other
                and all(not r.missing and not r.wrong_at_end and not r.violations
                        and not r.errors for r in self.rows))


def _pair(samples: Sequence[float]) -> tuple[float | None, float | None]:
    return percentile_ms(samples, 0.5), percentile_ms(samples, 0.99)


def _hist(h: Histogram | None) -> tuple[float | None, float | None]:
    return (histogram_ms(h, 0.5), histogram_ms(h, 0.99)) if h else (None, None)


def platform_row(p: Platform, sales: Sequence[Sale], ledger: Ledger, failed: Sequence[Json],
                 delay: dict[str, Histogram], propagation: dict[str, Histogram],
                 wrong: list[str], violations: tuple[int, Json],
                 poll_seconds: float | None) -> Row:
    mine = [s for s in sales if s.source == p.code]
    taken = [s for s in mine if s.status == TAKEN and s.order_id]
    counted = [s for s in taken if (s.kind, s.order_id) in ledger.sold_at]
    oversold = [s for s in taken if (s.kind, s.order_id) in ledger.oversold]
    waits = [(ledger.sold_at[(s.kind, str(s.order_id))] - s.at).total_seconds()
             for s in counted]
    return Row(p.kind, p.code, p.push, p.poll_default_s if poll_seconds is None
               else poll_seconds, len(taken), sum(s.status == REFUSED for s in mine),
               sum(s.status not in (TAKEN, REFUSED) for s in mine), len(counted),
               len(oversold), ledger.oversold_by.get(p.code, 0),
               len(taken) - len(counted) - len(oversold), _pair(waits),
               _hist(delay.get(p.kind)), _hist(propagation.get(p.code)),
               ledger.adjusted_by.get(p.code, 0),
               sum(d["channel"] == p.code for d in failed), wrong, violations[0],
               violations[1] if violations[0] else None)


def summarize(found: Sequence[Platform], sales: Sequence[Sale], stock: dict[str, int],
              ledger: Ledger, final: dict[str, Json], failed: Sequence[Json],
              delay: dict[str, Histogram], propagation: dict[str, Histogram],
              wrong: dict[str, list[str]], violations: dict[str, tuple[int, Json]], *,
              poll_seconds: float | None, load_s: float, converge_s: float | None,
              state: Json) -> Race:
    rows = [platform_row(p, sales, ledger, failed, delay, propagation, wrong[p.code],
                         violations[p.code], poll_seconds) for p in found]
    api = [s for s in sales if s.source == "api"]
    rows.append(Row("api", "-", "POST /v1/movements", None,
                    sum(s.status == TAKEN for s in api), sum(s.status == REFUSED for s in api),
                    sum(s.status not in (TAKEN, REFUSED) for s in api), ledger.api_sold, 0, 0,
                    sum(s.status == TAKEN for s in api) - ledger.api_sold, (None, None),
                    (None, None), (None, None), ledger.adjusted_by.get("api", 0), 0))
    taken_units: dict[str, int] = defaultdict(int)
    for s in sales:
        if s.status == TAKEN:
            taken_units[s.sku] += 1
    mismatches = [sku for sku, item in final.items() if int(item["on_hand"]) != (
        ledger.received[sku] - ledger.sold_units[sku] + ledger.adjusted[sku])]
    # A refused sale, or a level the channel reached by one, is the oversell itself.
    failed_other = [f"{d['channel']}: {d.get('last_error')}"[:200] for d in failed
                    if INSUFFICIENT not in str(d.get("last_error"))]
    return Race(rows, round(load_s, 2), None if converge_s is None else round(converge_s, 2),
                state, sum(ledger.received.values()), sum(ledger.sold_units.values()),
                sum(ledger.adjusted.values()), sum(int(i["on_hand"]) for i in final.values()),
                mismatches, sum(max(0, n - stock[sku]) for sku, n in taken_units.items()),
                sum(int(i["available"]) <= 0 for i in final.values()), failed_other,
                len(ledger.other_conflicts))


# ---- the printed report ----------------------------------------------------------------------


def _ms(pair: tuple[float | None, float | None]) -> str:
    def one(v: float | None) -> str:
        return "-" if v is None else (f"{v / 1000:.2f}" if v >= 1000 else f"{v / 1000:.3f}")
    return f"{one(pair[0])} / {one(pair[1])}"


def _path(r: Row) -> str:
    return r.path if r.poll_s is None else f"{r.path}; poll {r.poll_s:g} s"


def _red(value: int) -> str:
    return f"[red]{value}[/red]" if value else "0"


def print_report(race: Race | None, notes: Sequence[str], console: Console) -> None:
    if race is None:
        for note in notes:
            console.print(f"[red]{note}[/red]")
        return
    placed = sum(r.placed + r.refused for r in race.rows)
    table = Table(title=f"sales race: {placed:,} sales in {race.load_s:.0f} s over 5 channels "
                        "+ API, 100 SKUs")
    for col in ("kind", "placed", "refused", "counted", "oversold units", "missing",
                "sale→ledger p50/p99 s", "metric p50/p99 s", "ledger→channel p50/p99 s",
                "wrong at end", "violations", "how orders arrive"):
        table.add_column(col, justify="left" if col in ("kind", "how orders arrive")
                         else "right")
    for r in race.rows:
        table.add_row(r.kind, f"{r.placed:,}", f"{r.refused:,}", f"{r.counted:,}",
                      f"{r.oversold_units} ({r.oversold_orders} orders)" if r.oversold_units
                      else "0", _red(r.missing), _ms(r.to_ledger_ms), _ms(r.metric_ms),
                      _ms(r.to_channel_ms), _red(len(r.wrong_at_end)), _red(r.violations),
                      _path(r))
    console.print(table)
    converged = ("[red]NOT converged[/red]" if race.converge_s is None
                 else f"converged {race.converge_s:.1f} s after the last sale")
    console.print(f"{converged}; {race.sold_out} SKUs sold out; units taken beyond stock "
                  f"(all places): {race.beyond_stock}; oversold units recorded: "
                  f"{sum(r.oversold_units for r in race.rows)}")
    check = race.receipts - race.sold + race.adjusted
    ok = check == race.on_hand and not race.ledger_mismatches and race.adjusted == 0
    console.print(f"ledger check: receipts {race.receipts:,} - sales {race.sold:,} "
                  f"+ adjustments {race.adjusted:+,} = {check:,}; on hand {race.on_hand:,}; "
                  f"SKUs off: {len(race.ledger_mismatches)} "
                  f"{'[green]ok[/green]' if ok else '[red]FAILED[/red]'}")
    for r in race.rows:
        extra = []
        if r.adjusted_net:
            extra.append(f"level changes accepted, net of orders: {r.adjusted_net:+}")
        if r.dead_letters:
            extra.append(f"{r.dead_letters} dead-lettered deliveries")
        if r.wrong_at_end:
            extra.append(f"wrong at end: {r.wrong_at_end[:10]}")
        if r.violation_report:
            extra.append(f"violations: {r.violation_report}"[:600])
        if extra:
            console.print(f"[yellow]{r.kind}[/yellow]: " + "; ".join(extra))
    if not race.converge_s:
        console.print(f"[red]still missing when the wait ended[/red]: {race.state}")
    for line in race.failed_other[:5]:
        console.print(f"[red]dead letter (not an oversell)[/red]: {line}")
    if race.other_conflicts:
        console.print(f"{race.other_conflicts} other conflicts (stale or refused level "
                      "notices)")
    console.print(
        "note: a unit is oversold when two places sell the last one before either sale "
        "reaches the other. The window is the selling channel's sale→ledger time (webhook "
        "latency for Shopify/WooCommerce, notification + fetch for eBay/Amazon, the order "
        "poll for Square till sales) plus the other channel's ledger→channel time.")
    for note in [*race.notes, *notes]:
        console.print(f"[yellow]note[/yellow] {note}")

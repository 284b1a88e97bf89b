"""Orders of the WooCommerce simulator, moving stock exactly as core WooCommerce does.

woocommerce/woocommerce `includes/wc-stock-functions.php` and `wc-order-functions.php`:

- Reaching processing / completed / on-hold runs `wc_maybe_reduce_stock_levels`: unless
  the order's `_order_stock_reduced` flag is set, every line without a truthy
  `_reduced_stock` meta loses its quantity from the stock holder and gets that meta
  (a new meta row, so a new meta id, each time); the flag is set.
- Moving to cancelled or pending runs `wc_maybe_increase_stock_levels`: if the flag is
  set, every line with a truthy `_reduced_stock` gets it back and the meta is deleted;
  the flag is cleared.
- Moving to refunded runs `wc_order_fully_refunded`: a refund of whatever is left, with
  no lines and no restock.
- A refund restocks only when asked (`wc_restock_refunded_items`): each refunded line
  with a truthy `_reduced_stock` gets its refunded quantity back; `_reduced_stock` goes
  down and `_restock_refunded_items` up by it. Nothing on the refund records the restock.
- A refund that leaves nothing to refund moves the order to refunded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stocksync.simulators.woocommerce_state import WooCommerceSimState

REDUCING_STATUSES = frozenset({"processing", "completed", "on-hold"})
RESTORING_STATUSES = frozenset({"cancelled", "pending"})
ORDER_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded",
                  "failed")
REDUCED_STOCK = "_reduced_stock"
RESTOCKED = "_restock_refunded_items"
DEFAULT_PRICE_CENTS = 1000


@dataclass(slots=True)
class Meta:
    id: int
    key: str
    value: str


@dataclass(slots=True)
class OrderLine:
    id: int
    item_id: int  # the product or variation sold
    quantity: int
    price_cents: int = DEFAULT_PRICE_CENTS
    meta: list[Meta] = field(default_factory=list)

    def meta_int(self, key: str) -> int:
        """The meta as WooCommerce reads it: absent or "" is 0 (falsy)."""
        found = next((m for m in self.meta if m.key == key), None)
        return int(found.value) if found is not None and found.value else 0

    def has_meta(self, key: str) -> bool:
        return any(m.key == key for m in self.meta)


@dataclass(slots=True)
class RefundLine:
    id: int
    line_id: int  # _refunded_item_id
    item_id: int
    quantity: int  # refunded units (shown negative)
    total_cents: int


@dataclass(slots=True)
class Refund:
    id: int
    amount_cents: int
    reason: str
    lines: list[RefundLine]
    created_gmt: str


@dataclass(slots=True)
class Order:
    id: int
    status: str
    lines: list[OrderLine]
    stock_reduced: bool = False  # _order_stock_reduced
    created_gmt: str = ""
    modified_gmt: str = ""
    refunds: list[Refund] = field(default_factory=list)

    @property
    def total_cents(self) -> int:
        return sum(line.price_cents * line.quantity for line in self.lines)

    @property
    def refunded_cents(self) -> int:
        return sum(refund.amount_cents for refund in self.refunds)

    def refunded_units(self, line_id: int) -> int:
        return sum(r.quantity for refund in self.refunds for r in refund.lines
                   if r.line_id == line_id)


class OrderDesk:
    """Places orders, changes their status and refunds them; every change saves the order
    (order.updated) and each stock change saves the product (product.updated)."""

    def __init__(self, sim: WooCommerceSimState) -> None:
        self.sim = sim

    def place(self, lines: list[tuple[int, int, int]], status: str, now: str) -> Order:
        """`lines` are (item id, quantity, unit price in cents); checks done by the caller."""
        order = Order(self.sim.new_id(), "pending",
                      [OrderLine(self.sim.new_id(), item_id, quantity, price)
                       for item_id, quantity, price in lines],
                      created_gmt=now, modified_gmt=now)
        self.sim.orders[order.id] = order
        self.sim.emit("order.created", order.id)
        if status != "pending":
            self.set_status(order, status, now)
        return order

    def set_status(self, order: Order, status: str, now: str) -> None:
        if status not in ORDER_STATUSES:
            raise ValueError(f"status must be one of {ORDER_STATUSES}")
        changed = status != order.status
        order.status, order.modified_gmt = status, now
        self.sim.emit("order.updated", order.id)
        if not changed:
            return  # WC_Order::status_transition fires the status hooks on a change only
        if status in REDUCING_STATUSES and not order.stock_reduced:
            self._reduce(order)
        elif status in RESTORING_STATUSES and order.stock_reduced:
            self._increase(order)
        elif status == "refunded" and order.total_cents > order.refunded_cents:
            self.refund(order, {}, restock=False, amount_cents=None,
                        reason="Order fully refunded.", now=now)

    def refund(self, order: Order, quantities: dict[int, int], *, restock: bool,
               amount_cents: int | None, reason: str, now: str) -> Refund:
        """wc_create_refund: `quantities` maps order line id -> units refunded."""
        by_id = {line.id: line for line in order.lines}
        for line_id, quantity in quantities.items():
            line = by_id.get(line_id)
            if line is None or quantity <= 0:
                raise ValueError(f"invalid refund line {line_id}")
            if quantity > line.quantity - order.refunded_units(line_id):
                raise ValueError(f"line {line_id} has fewer units left to refund")
        lines = [RefundLine(self.sim.new_id(), line_id, by_id[line_id].item_id, quantity,
                            by_id[line_id].price_cents * quantity)
                 for line_id, quantity in quantities.items()]
        remaining = order.total_cents - order.refunded_cents
        amount = sum(r.total_cents for r in lines) if amount_cents is None else amount_cents
        if lines == [] and amount_cents is None:
            amount = remaining
        if not 0 <= amount <= remaining:
            raise ValueError("Invalid refund amount.")
        refund = Refund(self.sim.new_id(), amount, reason, lines, now)
        order.refunds.append(refund)
        if restock:
            self._restock(order, quantities)
        if remaining - amount <= 0 and order.status != "refunded":
            self.set_status(order, "refunded", now)  # woocommerce_order_fully_refunded
        order.modified_gmt = now
        self.sim.emit("order.updated", order.id)
        return refund

    # -- stock ------------------------------------------------------------------------------
    def _reduce(self, order: Order) -> None:
        for line in order.lines:
            if line.meta_int(REDUCED_STOCK) or not self._move(line, -line.quantity):
                continue
            # add_meta_data(..., unique=true): the old row goes, a new row (new id) comes.
            line.meta = [m for m in line.meta if m.key != REDUCED_STOCK]
            line.meta.append(Meta(self.sim.new_meta_id(), REDUCED_STOCK, str(line.quantity)))
        order.stock_reduced = True

    def _increase(self, order: Order) -> None:
        for line in order.lines:
            reduced = line.meta_int(REDUCED_STOCK)
            if reduced and self._move(line, reduced):
                line.meta = [m for m in line.meta if m.key != REDUCED_STOCK]
        order.stock_reduced = False

    def _restock(self, order: Order, quantities: dict[int, int]) -> None:
        for line in order.lines:
            quantity = quantities.get(line.id, 0)
            reduced = line.meta_int(REDUCED_STOCK)
            if not reduced or not quantity or not self._move(line, quantity):
                continue
            self._update_meta(line, REDUCED_STOCK, reduced - quantity)
            self._update_meta(line, RESTOCKED, line.meta_int(RESTOCKED) + quantity)

    def _update_meta(self, line: OrderLine, key: str, value: int) -> None:
        found = next((m for m in line.meta if m.key == key), None)
        if found is None:
            line.meta.append(Meta(self.sim.new_meta_id(), key, str(value)))
        else:
            found.value = str(value)  # update_meta_data keeps the row (and its id)

    def _move(self, line: OrderLine, delta: int) -> bool:
        """wc_update_product_stock on the post whose stock applies; False if unmanaged."""
        item = self.sim.items.get(line.item_id)
        holder = self.sim.stock_holder(item) if item is not None else None
        if holder is None or holder.stock_quantity is None:
            return False
        holder.stock_quantity += delta
        self.sim.saved_by_order(holder)
        return True

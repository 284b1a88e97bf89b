"""The eBay simulator's orders: buyer purchases and cancellations as eBay applies them to
listings, the Sell Fulfillment API's getOrders, and ORDER_CONFIRMATION notifications
signed as eBay signs them (see ingest/ebay.py and channels/ebay_orders.py for the rules).

- A purchase takes the units off the inventory item's ship-to-home quantity and off the
  offer of the marketplace it was bought on (eBay reduces listing quantity at purchase).
- A cancellation sets cancelStatus.cancelState CANCELED; the units go back on the
  listing only when the seller relists them (Post-Order API relistLineItem).
- getOrders: `orderIds` (at most 50; filter, limit and offset then ignored), else
  `filter=lastmodifieddate:[from..to]` / `creationdate:[..]` with `limit` 1-200
  (default 50) and `offset`; default window the last 90 days. Result order is not
  documented: newest creation first here, so a client must not rely on it.
- Notifications: one ORDER_CONFIRMATION per line item, POSTed as compact JSON with
  X-EBAY-SIGNATURE (ECDSA P-256, SHA1 digest) to `notification_url`; the public key is
  served by getPublicKey to application tokens.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stocksync.simulators.ebay_state import EbaySimState, JsonObject, Offer, ebay_error

MAX_ORDER_IDS = 50
MAX_LIMIT, DEFAULT_LIMIT = 200, 50
DEFAULT_WINDOW = timedelta(days=90)
INVALID_FILTER = 30700  # Fulfillment API "invalid filter" (exact ids unconfirmed)
INVALID_LIMIT = 30820
INVALID_ORDER_IDS = 30850
_RANGE = re.compile(r"^(lastmodifieddate|creationdate):\[([^\]]*?)\.\.([^\]]*)\]$")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class Order:
    order_id: str
    created: datetime
    modified: datetime
    lines: list[JsonObject]
    record: int
    cancel_state: str = "NONE_REQUESTED"
    cancelled: datetime | None = None

    def json(self) -> JsonObject:
        cancel: JsonObject = {"cancelState": self.cancel_state, "cancelRequests": []}
        if self.cancelled is not None:
            cancel["cancelledDate"] = iso(self.cancelled)
        return {"orderId": self.order_id, "legacyOrderId": self.order_id,
                "creationDate": iso(self.created), "lastModifiedDate": iso(self.modified),
                "orderFulfillmentStatus": "NOT_STARTED",
                "orderPaymentStatus": "PAID", "sellerId": "stocksync-sim-seller",
                "buyer": {"username": "sim_buyer"}, "cancelStatus": cancel,
                "salesRecordReference": str(self.record),
                "lineItems": [dict(line) for line in self.lines]}


@dataclass(slots=True)
class OrderBook:
    """Orders of the simulated seller account, and the notification signing key."""

    notification_url: str | None = None
    orders: dict[str, Order] = field(default_factory=dict)
    outbox: list[JsonObject] = field(default_factory=list)  # every notification sent
    delivered: list[JsonObject] = field(default_factory=list)  # url, status per POST
    kid: str = field(default_factory=lambda: str(uuid.uuid4()))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    next_record: int = 1000
    next_line: int = 10_000_000_000

    # -- what buyers and sellers do --------------------------------------------------------
    def purchase(self, sim: EbaySimState, sku: str, quantity: int,
                 marketplace_id: str | None) -> Order:
        offer = _listed_offer(sim, sku, marketplace_id)
        item = sim.items[sku]
        if offer is None or min(item.quantity, offer.available_quantity) < quantity:
            raise ValueError(f"not enough {sku!r} listed to buy {quantity}")
        item.quantity -= quantity
        for location in item.distributions:
            item.distributions[location] = max(0, item.distributions[location] - quantity)
        offer.available_quantity -= quantity
        now = datetime.now(UTC)
        self.next_record += 1
        self.next_line += 1
        order_id = f"{now:%y}-{self.next_record:05d}-{self.next_line % 100_000:05d}"
        line = {"lineItemId": str(self.next_line), "legacyItemId": offer.listing_id,
                "sku": sku, "title": item.title, "quantity": quantity,
                "lineItemFulfillmentStatus": "NOT_STARTED",
                "listingMarketplaceId": offer.marketplace_id,
                "purchaseMarketplaceId": offer.marketplace_id,
                "lineItemCost": {"value": offer.price, "currency": offer.currency}}
        order = Order(order_id, now, now, [line], self.next_record)
        self.orders[order_id] = order
        self._confirm(order, now)
        return order

    def cancel(self, sim: EbaySimState, order_id: str, relist: bool) -> Order:
        order = self.orders[order_id]
        if order.cancel_state == "CANCELED":
            raise ValueError(f"order {order_id} is already cancelled")
        now = datetime.now(UTC)
        order.cancel_state, order.cancelled, order.modified = "CANCELED", now, now
        if relist:  # the seller asked eBay to put the units back on the listing
            for line in order.lines:
                item = sim.items.get(str(line["sku"]))
                offer = _listed_offer(sim, str(line["sku"]), line["listingMarketplaceId"])
                if item is not None:
                    item.quantity += int(line["quantity"])
                if offer is not None:
                    offer.available_quantity += int(line["quantity"])
        return order

    # -- getOrders ---------------------------------------------------------------------------
    def search(self, href: str, order_ids: str | None, filter_: str | None,
               limit: int | None, offset: int | None) -> tuple[int, JsonObject]:
        if order_ids is not None:
            ids = [i for i in order_ids.split(",") if i]
            if not 1 <= len(ids) <= MAX_ORDER_IDS:
                return 400, _error(INVALID_ORDER_IDS, "orderIds", f"1-{MAX_ORDER_IDS} ids")
            found = [self.orders[i].json() for i in ids if i in self.orders]
            return 200, {"href": href, "total": len(found), "orders": found}
        size = DEFAULT_LIMIT if limit is None else limit
        start = 0 if offset is None else offset
        if not 1 <= size <= MAX_LIMIT or start < 0:
            return 400, _error(INVALID_LIMIT, "limit", f"1-{MAX_LIMIT}; offset >= 0")
        try:
            wanted = self._matching(filter_)
        except ValueError as exc:
            return 400, _error(INVALID_FILTER, "filter", str(exc))
        wanted.sort(key=lambda o: o.created, reverse=True)
        page = wanted[start:start + size]
        body: JsonObject = {"href": f"{href}&offset={start}", "total": len(wanted),
                            "limit": size, "offset": start,
                            "orders": [o.json() for o in page]}
        if start + size < len(wanted):
            body["next"] = f"{href}&offset={start + size}"
        if start > 0:
            body["prev"] = f"{href}&offset={max(0, start - size)}"
        return 200, body

    def _matching(self, filter_: str | None) -> list[Order]:
        field_name, low, high = "creationdate", datetime.now(UTC) - DEFAULT_WINDOW, None
        for part in [p.strip() for p in (filter_ or "").split(",") if p.strip()]:
            if part.startswith("orderfulfillmentstatus:"):
                continue  # every simulated order is NOT_STARTED
            match = _RANGE.match(part)
            if match is None:
                raise ValueError(f"unsupported filter {part!r}")
            field_name = match.group(1)
            low = _time(match.group(2)) or low
            high = _time(match.group(3))
        stamp = (lambda o: o.modified) if field_name == "lastmodifieddate" else (
            lambda o: o.created)
        return [o for o in self.orders.values()
                if stamp(o) >= low and (high is None or stamp(o) <= high)]

    # -- notifications -------------------------------------------------------------------
    def public_key(self) -> JsonObject:
        pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        # eBay returns the PEM on one line (its SDK re-inserts the line breaks).
        return {"key": "".join(pem.splitlines()), "algorithm": "ECDSA", "digest": "SHA1"}

    def sign(self, body: bytes) -> str:
        signature = self.key.sign(body, ec.ECDSA(hashes.SHA1()))
        header = {"alg": "ecdsa", "kid": self.kid,
                  "signature": base64.b64encode(signature).decode(), "digest": "SHA1"}
        return base64.b64encode(json.dumps(header).encode()).decode()

    def _confirm(self, order: Order, now: datetime) -> None:
        """ORDER_CONFIRMATION, one notification per line item (eBay's topic contract)."""
        for line in order.lines:
            payload = {
                "metadata": {"topic": "ORDER_CONFIRMATION", "schemaVersion": "1.0",
                             "deprecated": False},
                "notification": {
                    "notificationId": f"{uuid.uuid4()}_{uuid.uuid4()}",
                    "eventDate": iso(now), "publishDate": iso(datetime.now(UTC)),
                    "publishAttemptCount": 1,
                    "data": {"order": {"orderId": order.order_id, "orderLineItems": [{
                        "orderLineItemId": line["lineItemId"],
                        "listingId": line["legacyItemId"],
                        "quantity": line["quantity"]}]}}}}
            self.outbox.append(payload)
            if self.notification_url:
                asyncio.get_running_loop().create_task(self._post(payload))

    async def _post(self, payload: JsonObject) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()  # JSON.stringify form
        url = self.notification_url or ""
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.post(url, content=body, headers={
                    "Content-Type": "application/json", "X-EBAY-SIGNATURE": self.sign(body)})
            self.delivered.append({"url": url, "status": response.status_code})
        except httpx.HTTPError as exc:
            self.delivered.append({"url": url, "status": None, "error": repr(exc)})


def _listed_offer(sim: EbaySimState, sku: str, marketplace_id: object) -> Offer | None:
    offers = [o for o in sim.offers_of(sku) if o.status == "PUBLISHED"
              and (marketplace_id is None or o.marketplace_id == marketplace_id)]
    return offers[0] if offers else None


def _time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"bad date {value!r}: use YYYY-MM-DDThh:mm:ss.sssZ") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"bad date {value!r}: UTC (Z) required")
    return parsed


def _error(error_id: int, name: str, detail: str) -> JsonObject:
    return {"errors": [ebay_error(error_id, f"Invalid value for {name}: {detail}",
                                  domain="API_FULFILLMENT")]}

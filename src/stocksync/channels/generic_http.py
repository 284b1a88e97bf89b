"""Generic signed HTTP channel: a custom storefront or B2B portal that accepts stocksync's own
push format.

    POST {endpoint}   {"delivery_id": "...", "quantities": [{"sku": "A-1", "quantity": 3}]}
        X-Stocksync-Signature: sha256=<hex HMAC-SHA256(channel secret, raw body)>
        X-Stocksync-Delivery-Id: <delivery_id>
        -> 2xx {"status": "applied" | "duplicate", "rejected"?: {"sku": "reason"}}
           (receivers dedupe on delivery_id and answer "duplicate" for one already seen;
           any other 2xx body means everything was accepted)
    GET  {endpoint}?sku=A-1&sku=B-2   (signature over the raw query string)
        -> {"quantities": [{"sku": "A-1", "quantity": 3}]}

A retried push reuses its delivery id, so it is applied once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, ClassVar
from urllib.parse import urlencode

import httpx

from stocksync.channels.base import PushReport, QuantitySet, RateLimited, Rejected, Unavailable
from stocksync.channels.facts import PlatformFacts
from stocksync.channels.http_errors import retry_after
from stocksync.core.channel_rules import ExternalChanges

SIGNATURE_HEADER = "X-Stocksync-Signature"
DELIVERY_HEADER = "X-Stocksync-Delivery-Id"
KEYS_REMEMBERED = 4096
DEFAULT_RETRY_AFTER_S = 1.0


def sign(secret: str, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def verify_signature(secret: str, payload: bytes, header_value: str | None) -> bool:
    return header_value is not None and hmac.compare_digest(
        sign(secret, payload).encode(), header_value.strip().encode())


class GenericHttpConnector(PlatformFacts):
    """Pushes absolute quantities to one signed HTTP endpoint."""

    kind: ClassVar[str] = "generic_http"
    max_batch: ClassVar[int] = 500
    required_settings: ClassVar[tuple[str, ...]] = ("url",)
    required_credentials: ClassVar[tuple[str, ...]] = ("secret",)
    # Fed only by stocksync: a change made there is put back to stocksync's value.
    default_external_changes: ClassVar[ExternalChanges] = ExternalChanges.OVERWRITE

    def __init__(self, client: httpx.AsyncClient, endpoint_url: str, secret: str, *,
                 key_namespace: str | None = None) -> None:
        self.client = client
        self.endpoint_url = endpoint_url
        self._secret = secret
        # Delivery ids: same content -> same id until it is acknowledged (see _delivery_id).
        self._key_namespace = uuid.uuid4().hex if key_namespace is None else key_namespace
        self._key_uses: OrderedDict[str, int] = OrderedDict()
        self._sent: OrderedDict[str, None] = OrderedDict()  # delivery ids this instance sent

    async def set_quantities(self, changes: Sequence[QuantitySet]) -> PushReport:
        latest = {change.sku: change.quantity for change in changes}
        report = PushReport()
        items = list(latest.items())
        for start in range(0, len(items), self.max_batch):
            await self._push(dict(items[start:start + self.max_batch]), report)
        return report

    async def fetch_quantities(self, skus: Sequence[str]) -> dict[str, int]:
        query = urlencode([("sku", sku) for sku in skus])
        response = await self._send("GET", f"{self.endpoint_url}?{query}", query.encode(), {})
        body = _json(response)
        return {str(q["sku"]): int(q["quantity"]) for q in body.get("quantities", [])}

    async def check_credentials(self) -> None:
        """ChecksCredentials: a signed read of no SKUs (the protocol's GET); an endpoint
        that does not accept the secret answers 401/403."""
        await self.fetch_quantities([])

    async def _push(self, quantities: dict[str, int], report: PushReport) -> None:
        content = json.dumps([self._key_namespace, self.endpoint_url, sorted(quantities.items())])
        for _ in range(2):
            delivery_id = self._delivery_id(content)
            sent_before = delivery_id in self._sent
            self._sent[delivery_id] = None
            while len(self._sent) > KEYS_REMEMBERED:
                self._sent.popitem(last=False)
            payload = json.dumps({
                "delivery_id": delivery_id,
                "quantities": [{"sku": sku, "quantity": qty} for sku, qty in quantities.items()],
            }, separators=(",", ":")).encode()
            response = await self._send("POST", self.endpoint_url, payload, {
                "Content-Type": "application/json", DELIVERY_HEADER: delivery_id})
            self._retire(content)
            status, refused = _answer(response)
            # "duplicate" for an id this instance never sent: the receiver remembers it from
            # before a restart (a namespace that survives restarts). This push may be new
            # (stock went back to an earlier value), so send it again under a fresh id.
            if sent_before or status != "duplicate":
                break
        for sku, qty in quantities.items():
            if sku in refused:
                report.rejected[sku] = str(refused[sku])
            else:
                report.acknowledged[sku] = qty

    def _delivery_id(self, content: str) -> str:
        """A retry after a timeout or 5xx reuses the id, so the receiver applies it once; once
        acknowledged the id is retired, so the same values pushed again later (stock went
        3 -> 5 -> 3) get a new id and are not dropped as duplicates."""
        uses = self._key_uses.get(content, 0)
        return str(uuid.UUID(bytes=hashlib.sha256(f"{uses}:{content}".encode()).digest()[:16],
                             version=5))

    def _retire(self, content: str) -> None:
        self._key_uses[content] = self._key_uses.get(content, 0) + 1
        self._key_uses.move_to_end(content)
        while len(self._key_uses) > KEYS_REMEMBERED:
            self._key_uses.popitem(last=False)

    async def _send(self, method: str, url: str, signed: bytes, headers: dict[str, str]
                    ) -> httpx.Response:
        """Signed, and transport failures become Unavailable."""
        headers = {**headers, SIGNATURE_HEADER: sign(self._secret, signed)}
        content = signed if method == "POST" else None
        try:
            response = await self.client.request(method, url, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise Unavailable(f"{url} timed out: {exc!r}") from exc
        except httpx.HTTPError as exc:
            raise Unavailable(f"{url} unreachable: {exc!r}") from exc
        return raise_for_status(response)

def raise_for_status(response: httpx.Response) -> httpx.Response:
    """The one place where the endpoint's HTTP answers become ChannelErrors."""
    status = response.status_code
    if response.is_success:
        return response
    if status in (401, 403):
        raise Rejected(f"endpoint refused the signature ({status})", response.text[:500])
    if status in (408, 429):
        raise RateLimited(f"endpoint answered {status}",
                          retry_after(response, DEFAULT_RETRY_AFTER_S))
    if status >= 500:
        raise Unavailable(f"endpoint answered {status}")
    raise Rejected(f"endpoint answered {status}", response.text[:500])


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError as exc:
        raise Unavailable(f"endpoint answered non-JSON ({response.status_code})") from exc
    if not isinstance(body, dict):
        raise Rejected("endpoint answered JSON that is not an object", body)
    return body


def _answer(response: httpx.Response) -> tuple[str | None, dict[str, object]]:
    """(status, SKUs refused) of a 2xx answer; any other 2xx body (even plain text) means
    everything was accepted."""
    try:
        body = response.json()
    except ValueError:
        return None, {}
    if not isinstance(body, dict):
        return None, {}
    refused = body.get("rejected")
    status = body.get("status")
    return (str(status) if status is not None else None,
            refused if isinstance(refused, dict) else {})


"""eBay Notification API deliveries (JSON, ECDSA-signed): ORDER_CONFIRMATION.

Which notification carries sales: the Notification API topic ORDER_CONFIRMATION (added in
Notification API 1.6.6, 2025-12-01), sent when a buyer completes checkout, one per line
item; the seller then reads the order with getOrders by orderId. So each delivery is an
`OrderNotice(orderId)` and the connector's `fetch_orders` turns it into the same sale
keys the poll produces. (The legacy Trading API Platform Notifications, SOAP
FixedPriceTransaction/ItemSold signed with MD5(Timestamp+DevID+AppID+CertID), are not
used: they need a Trading API preference call per user and a SOAP endpoint.)

Signature (eBay's event-notification SDKs): header X-EBAY-SIGNATURE = base64 of JSON
{"alg": "ecdsa", "kid": <public key id>, "signature": <base64 DER ECDSA>, "digest":
"SHA1"}; the signature covers the message as JSON.stringify(parsed body) (compact, key
order kept); the key is eBay's, fetched once per kid with getPublicKey
(channels/ebay_notification_keys.py). Here the keys come from the channel's
`notification_keys` credential: {"<kid>": "<PEM>" or {"key": "<PEM>", "digest": ...}}.
An unknown kid fails verification (401; eBay retries, and polling still finds the order).

Endpoint validation: when the destination is created eBay sends
GET <endpoint>?challenge_code=X and expects {"challengeResponse":
hex(SHA-256(X + verification token + endpoint URL))}: `challenge_response`.
Dedupe id: notification.notificationId (kept across retries; publishAttemptCount counts).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from stocksync.core.inbound import Ignored, MalformedWebhook, OrderNotice, ParsedDelivery
from stocksync.ingest.fields import load_object

SIGNATURE_HEADER = "x-ebay-signature"
ORDER_CONFIRMATION = "ORDER_CONFIRMATION"
MAX_ID_LENGTH = 200  # the inbox keeps delivery ids up to 200, topics up to 100
PEM_START, PEM_END = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
DIGESTS: dict[str, type[hashes.HashAlgorithm]] = {"SHA1": hashes.SHA1,
                                                  "SHA256": hashes.SHA256}


def challenge_response(challenge_code: str, verification_token: str, endpoint: str) -> str:
    """The `challengeResponse` eBay expects when it validates a notification endpoint."""
    digest = hashlib.sha256()
    for part in (challenge_code, verification_token, endpoint):
        digest.update(part.encode())
    return digest.hexdigest()


def signed_message(body: bytes) -> bytes:
    """What eBay signs: the body as compact JSON (JSON.stringify of the parsed body)."""
    return json.dumps(json.loads(body), separators=(",", ":"),
                      ensure_ascii=False).encode()


def pem(key: str) -> bytes:
    """eBay's getPublicKey returns the PEM on one line; PEM loaders want line breaks."""
    body = key.replace(PEM_START, "").replace(PEM_END, "").strip()
    return f"{PEM_START}\n{body}\n{PEM_END}\n".encode()


class EbayNotificationParser:
    """eBay notifications -> OrderNotice for ORDER_CONFIRMATION, Ignored otherwise."""

    kind: ClassVar[str] = "ebay"
    secret_field: ClassVar[str] = "notification_keys"

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        header = _signature_header(headers.get(SIGNATURE_HEADER, ""))
        if header is None or not secret:
            return False
        key = _key(secret, str(header.get("kid") or ""))
        if key is None:
            return False
        key_pem, key_digest = key
        digest = DIGESTS.get(str(header.get("digest") or key_digest or "SHA1").upper())
        try:
            signature = base64.b64decode(str(header.get("signature") or ""), validate=True)
            public_key = load_pem_public_key(pem(key_pem))
        except (binascii.Error, ValueError):
            return False
        if digest is None or not isinstance(public_key, ec.EllipticCurvePublicKey):
            return False
        try:
            candidates = [signed_message(body), body]
        except (ValueError, RecursionError):
            return False
        for message in candidates:
            try:
                public_key.verify(signature, message, ec.ECDSA(digest()))
                return True
            except InvalidSignature:
                continue
        return False

    def parse(self, headers: Mapping[str, str], body: bytes,
              settings: Mapping[str, str]) -> ParsedDelivery:
        payload = load_object(body)
        metadata = _object(payload, "metadata", "metadata")
        topic = _text(metadata, "topic", "metadata.topic")
        notification = _object(payload, "notification", "notification")
        delivery_id = _text(notification, "notificationId", "notification.notificationId")
        if topic != ORDER_CONFIRMATION:
            return ParsedDelivery(delivery_id, topic,
                                  [Ignored(f"topic {topic!r} is not handled")])
        data = _object(notification, "data", "notification.data")
        order = _object(data, "order", "notification.data.order")
        order_id = _text(order, "orderId", "notification.data.order.orderId")
        return ParsedDelivery(delivery_id, topic, [OrderNotice(order_id)])


def _signature_header(value: str) -> dict[str, Any] | None:
    try:
        header = json.loads(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return None
    return header if isinstance(header, dict) else None


def _key(secret: str, kid: str) -> tuple[str, str | None] | None:
    """(PEM, digest) for `kid` from the notification_keys credential."""
    try:
        keys = json.loads(secret)
    except ValueError:
        return None
    entry = keys.get(kid) if isinstance(keys, dict) and kid else None
    if isinstance(entry, str):
        return entry, None
    if isinstance(entry, dict) and isinstance(entry.get("key"), str):
        digest = entry.get("digest")
        return entry["key"], digest if isinstance(digest, str) else None
    return None


def _object(payload: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, dict):
        raise MalformedWebhook(f"{where} must be an object", field=where)
    return value


def _text(payload: Mapping[str, Any], name: str, where: str) -> str:
    value = payload.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedWebhook(f"{where} must be a non-empty string", field=where)
    if len(value) > MAX_ID_LENGTH:
        raise MalformedWebhook(f"{where} is longer than {MAX_ID_LENGTH}", field=where)
    return value

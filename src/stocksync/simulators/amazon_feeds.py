"""Feeds API 2021-06-30 of the Amazon simulator: feed documents behind pre-signed URLs,
`JSON_LISTINGS_FEED` processing after a delay, and processing reports (amazon.md §4).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import uuid4

from stocksync.simulators.amazon_listings import (
    CheckedPatch,
    MalformedRequest,
    apply_patch,
    check_patch,
    unknown_sku_issue,
)
from stocksync.simulators.amazon_state import AmazonSimState, JsonObject, now_iso

FEED_TYPE = "JSON_LISTINGS_FEED"
MAX_MESSAGES = 25_000
OPERATION_TYPES = frozenset({"UPDATE", "PARTIAL_UPDATE", "PATCH", "DELETE"})
REPORT_CONTENT_TYPE = "application/json"
FIRST_FEED_ID = 50_000_000_001


@dataclass(slots=True)
class FeedDocument:
    id: str
    content_type: str
    content: bytes | None = None  # None until uploaded
    compression: str | None = None  # "GZIP" for compressed processing reports


@dataclass(slots=True)
class Feed:
    id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    created_time: str
    status: str = "IN_QUEUE"
    processing_start_time: str | None = None
    processing_end_time: str | None = None
    result_document_id: str | None = None

    def render(self) -> JsonObject:
        body: JsonObject = {"feedId": self.id, "feedType": self.feed_type,
                            "marketplaceIds": self.marketplace_ids,
                            "createdTime": self.created_time,
                            "processingStatus": self.status}
        for key, value in (("processingStartTime", self.processing_start_time),
                           ("processingEndTime", self.processing_end_time),
                           ("resultFeedDocumentId", self.result_document_id)):
            if value is not None:
                body[key] = value
        return body


class FeedStore:
    """Documents and feeds of the simulated seller."""

    def __init__(self, sim: AmazonSimState) -> None:
        self.sim = sim
        self.documents: dict[str, FeedDocument] = {}
        self.feeds: dict[str, Feed] = {}
        self.last_created_at: float | None = None
        self._signing_key = secrets.token_bytes(16)
        self._next_feed_id = FIRST_FEED_ID

    # -- documents -------------------------------------------------------------------------
    def new_document(self, content_type: str) -> FeedDocument:
        document = FeedDocument(f"amzn1.tortuga.4.na.{uuid4()}", content_type)
        self.documents[document.id] = document
        return document

    def signature(self, document_id: str) -> str:
        return hmac.new(self._signing_key, document_id.encode(), hashlib.sha256).hexdigest()

    def signed(self, document_id: str, signature: str | None) -> bool:
        return signature is not None and hmac.compare_digest(self.signature(document_id),
                                                             signature)

    # -- feeds -----------------------------------------------------------------------------
    def create_feed(self, body: object) -> Feed:
        if not isinstance(body, dict):
            raise MalformedRequest("the body must be a JSON object")
        feed_type, marketplaces = body.get("feedType"), body.get("marketplaceIds")
        document = self.documents.get(str(body.get("inputFeedDocumentId")))
        if feed_type != FEED_TYPE:
            raise MalformedRequest(f"the simulator processes only {FEED_TYPE} feeds")
        if not isinstance(marketplaces, list) or not marketplaces:
            raise MalformedRequest("marketplaceIds is required")
        if self.sim.config.marketplace_id not in marketplaces:
            raise MalformedRequest(f"unknown marketplace in {marketplaces}")
        if document is None or document.content is None:
            raise MalformedRequest("inputFeedDocumentId names no uploaded document")
        now = self.sim.clock()
        if (self.last_created_at is not None
                and now - self.last_created_at < self.sim.min_feed_interval_s):
            self.sim.violate("feed_interval", "createFeed",
                             f"{now - self.last_created_at:.1f} s after the previous feed "
                             f"(minimum {self.sim.min_feed_interval_s:g} s)")
        self.last_created_at = now
        feed = Feed(str(self._next_feed_id), FEED_TYPE, [str(m) for m in marketplaces],
                    document.id, now_iso())
        self._next_feed_id += 1
        self.feeds[feed.id] = feed
        delay = self.sim.feed_processing_delay_s
        self.sim.later(delay / 2, partial(self._start, feed))
        self.sim.later(delay, partial(self._process, feed))
        return feed

    def cancel(self, feed: Feed) -> bool:
        """Only a feed still IN_QUEUE can be cancelled."""
        if feed.status != "IN_QUEUE":
            return False
        feed.status = "CANCELLED"
        return True

    def _start(self, feed: Feed) -> None:
        if feed.status == "IN_QUEUE":
            feed.status, feed.processing_start_time = "IN_PROGRESS", now_iso()

    def _process(self, feed: Feed) -> None:
        if feed.status == "CANCELLED":
            return
        self._start(feed)
        content = self.documents[feed.input_document_id].content or b""
        try:
            document = json.loads(content)
            messages = _messages(document, self.sim.config.seller_id)
        except (ValueError, MalformedRequest) as exc:
            feed.status = "FATAL"
            report = self._report(feed, [{"code": "BAD_REQUEST", "severity": "ERROR",
                                          "message": f"Invalid feed document: {exc}"}],
                                  0, 0)
        else:
            issues: list[JsonObject] = []
            invalid = sum(1 for message in messages if self._message(message, issues))
            feed.status = "DONE"
            report = self._report(feed, issues, len(messages), invalid)
        feed.processing_end_time = now_iso()
        feed.result_document_id = self._store_report(report)

    def _message(self, message: JsonObject, issues: list[JsonObject]) -> bool:
        """Validate and apply one message; True if it was invalid."""
        message_id, sku = message.get("messageId"), message.get("sku")
        found: list[JsonObject] = []
        try:
            if not isinstance(sku, str) or not sku:
                raise MalformedRequest("sku is required")
            operation = message.get("operationType")
            if operation not in OPERATION_TYPES:
                raise MalformedRequest(f"operationType must be one of {sorted(OPERATION_TYPES)}")
            checked = _checked(message, str(operation))
        except MalformedRequest:
            # What Amazon reports for a message it cannot parse (amzn/...-models#4554).
            found.append({"code": "BAD_REQUEST", "severity": "ERROR",
                          "message": "Invalid parameters provided."})
        else:
            found += checked.issues if checked else []
            unknown = unknown_sku_issue(self.sim, sku) if operation != "DELETE" else None
            found += [unknown] if unknown else []
            if not found:
                if checked is None:
                    self.sim.listings.pop(sku, None)
                else:
                    # Accepted messages are "being applied" (processing report schema v2):
                    # like a patch, they land after patch_apply_delay_s.
                    self.sim.later(self.sim.patch_apply_delay_s,
                                   partial(apply_patch, self.sim, sku, checked))
        for item in found:
            item = {"messageId": message_id, "sku": sku, **item}
            issues.append({k: v for k, v in item.items() if k != "categories"})
        return any(item["severity"] == "ERROR" for item in found)

    def _report(self, feed: Feed, issues: list[JsonObject], processed: int, invalid: int
                ) -> JsonObject:
        return {"header": {"sellerId": self.sim.config.seller_id, "version": "2.0",
                           "feedId": feed.id},
                "issues": issues,
                "summary": {"errors": sum(1 for i in issues if i["severity"] == "ERROR"),
                            "warnings": sum(1 for i in issues if i["severity"] == "WARNING"),
                            "messagesProcessed": processed,
                            "messagesAccepted": processed - invalid,
                            "messagesInvalid": invalid}}

    def _store_report(self, report: JsonObject) -> str:
        document = self.new_document(REPORT_CONTENT_TYPE)
        raw = json.dumps(report).encode()
        if self.sim.config.compress_reports:
            raw, document.compression = gzip.compress(raw), "GZIP"
        document.content = raw
        return document.id

    def snapshot(self) -> list[JsonObject]:
        return [feed.render() for feed in self.feeds.values()]


def _messages(document: Any, seller_id: str) -> list[JsonObject]:
    """The messages of a schema-v2 listings feed; whole-document problems raise."""
    if not isinstance(document, dict) or not isinstance(document.get("header"), dict):
        raise MalformedRequest("header is required")
    header = document["header"]
    if header.get("version") != "2.0":
        raise MalformedRequest("header.version must be '2.0'")
    if header.get("sellerId") != seller_id:
        raise MalformedRequest("header.sellerId does not match the selling partner")
    messages = document.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise MalformedRequest(f"messages must hold 1 to {MAX_MESSAGES} messages")
    ids = [m.get("messageId") if isinstance(m, dict) else None for m in messages]
    if any(not isinstance(i, int) or i < 1 for i in ids) or len(set(ids)) != len(ids):
        raise MalformedRequest("messageId must be a unique integer of at least 1")
    return messages


def _checked(message: JsonObject, operation: str) -> CheckedPatch | None:
    """The message as a patch (None for DELETE). UPDATE / PARTIAL_UPDATE carry attributes;
    they are simulated as replace / merge of each top-level attribute given."""
    if operation == "DELETE":
        return None
    if operation == "PATCH":
        return check_patch({"productType": message.get("productType"),
                            "patches": message.get("patches")})
    attributes = message.get("attributes")
    if not isinstance(attributes, dict) or not attributes:
        raise MalformedRequest("attributes are required")
    op = "replace" if operation == "UPDATE" else "merge"
    return check_patch({"productType": message.get("productType"), "patches": [
        {"op": op, "path": f"/attributes/{name}", "value": value}
        for name, value in attributes.items()]})

"""POST /webhooks/{kind}/{channel}: hand the raw delivery to the application
(app/webhook_intake.py), which verifies and stores it durably; answer with what it says.
Processing comes after.
"""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from stocksync.api.deps import correlation_id as usable_correlation_id
from stocksync.api.errors import json_error
from stocksync.app.webhook_intake import (
    Accepted,
    Duplicate,
    Intake,
    Ping,
    Refused,
    WebhookIntake,
)

router = APIRouter(tags=["webhooks"])
REFUSALS = {"unknown_channel": (404, "unknown_webhook"),
            "bad_signature": (401, "invalid_signature"),
            "malformed": (400, "malformed_webhook")}


def _answer(outcome: Intake, correlation_id: str) -> JSONResponse:
    match outcome:
        case Accepted(id=stored, delivery_id=delivery_id):
            return JSONResponse({"status": "accepted", "id": stored, "delivery_id": delivery_id},
                                headers={"X-Correlation-Id": correlation_id})
        case Duplicate(delivery_id=delivery_id):
            return JSONResponse({"status": "duplicate", "delivery_id": delivery_id})
        case Ping():
            return JSONResponse({"status": "ok"})
        case Refused(reason=reason, message=message, details=details):
            status, code = REFUSALS[reason]
            return json_error(status, code, message, details or None)
    raise AssertionError(outcome)


@router.post("/webhooks/{kind}/{channel}", response_model=None)
async def receive_webhook(kind: str, channel: str, request: Request) -> JSONResponse:
    """Deliveries from a channel: `kind` is the platform, `channel` the channel's
    webhook id (shown as `webhook_path` on the channel)."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    intake: WebhookIntake = request.app.state.webhook_intake
    correlation_id = usable_correlation_id(headers.get("x-correlation-id"))
    outcome = await anyio.to_thread.run_sync(
        intake.accept, kind, channel, headers, body, str(request.url), correlation_id)
    return _answer(outcome, correlation_id)


@router.get("/webhooks/ebay/{channel}", response_model=None)
async def ebay_endpoint_challenge(channel: str, challenge_code: str,
                                  request: Request) -> JSONResponse:
    """eBay validates a notification endpoint with GET ?challenge_code=X and expects
    hex(SHA-256(X + verification token + endpoint URL)) (ingest/ebay.py). The token is
    the channel's `notification_verification_token` credential; the URL is
    settings.notification_url when set (what was registered with eBay), else this one."""
    from stocksync.ingest.ebay import challenge_response

    intake: WebhookIntake = request.app.state.webhook_intake
    receiver = await anyio.to_thread.run_sync(intake.receiver, channel)
    token = receiver.credentials.get("notification_verification_token") if receiver else None
    if receiver is None or receiver.channel.kind.value != "ebay" or not token:
        return json_error(404, "unknown_webhook", "no eBay channel receives webhooks here")
    endpoint = (receiver.channel.settings.get("notification_url")
                or str(request.url.remove_query_params("challenge_code")))
    return JSONResponse({"challengeResponse": challenge_response(challenge_code, token,
                                                                 endpoint)})

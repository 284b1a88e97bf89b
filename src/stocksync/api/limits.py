"""ASGI middleware that refuses what the app must never see: request bodies over a limit
(413, before parsing, whether or not a Content-Length was sent) and NUL characters in the
URL (422: PostgreSQL text cannot hold them)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(raw)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": raw})


def _has_nul(scope: Scope) -> bool:
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
    query: bytes = scope.get("query_string") or b""
    return any(b"%00" in part or b"\x00" in part for part in (raw_path, query)) \
        or "\x00" in scope["path"]


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int,
                 larger: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths that take files (catalog imports) get their own, larger limit.
        self.larger = {path: BodySizeLimit(app, limit) for path, limit in (larger or {}).items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if (bigger := self.larger.get(scope["path"])) is not None:
            await bigger(scope, receive, send)
            return
        if _has_nul(scope):
            await _send_json(send, 422, {
                "error": "invalid_input", "message": "the URL contains a NUL character",
                "details": {}})
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        if declared is None:
            # A chunked body has no declared size: read it here, up to the limit, because
            # an exception raised while the framework reads it would become a 400.
            buffered = await self._buffer(receive)
            if buffered is None:
                await self._refuse(send)
                return
            receive = _replay(buffered, receive)
        await self._guarded(scope, receive, send)

    async def _buffer(self, receive: Receive) -> Message | None:
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client went away: let the app see it
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, {
            "error": "payload_too_large",
            "message": f"request body is larger than {self.max_bytes} bytes",
            "details": {"max_bytes": self.max_bytes},
        })


def _replay(first: Message, receive: Receive) -> Receive:
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay

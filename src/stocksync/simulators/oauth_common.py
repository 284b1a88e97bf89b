"""What the platforms' authorisation simulators share: single-use, expiring authorization
codes, and a way to add the authorization_code grant to a token endpoint an existing
simulator already serves (its other grants reach it untouched)."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GrantHandler = Callable[[Request, dict[str, str]], Awaitable[Response]]


@dataclass
class CodeBook:
    """Authorization codes: each redeemable once, before it expires (platforms give codes
    a few minutes: eBay 299 s, Amazon and Square 5 min)."""

    ttl_s: float
    prefix: str = ""
    clock: Callable[[], float] = time.monotonic
    codes: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    redeemed: int = 0

    def issue(self, grant: dict[str, Any]) -> str:
        code = self.prefix + secrets.token_urlsafe(24)
        self.codes[code] = (self.clock() + self.ttl_s, grant)
        return code

    def redeem(self, code: str | None) -> dict[str, Any] | None:
        """The grant behind `code`, or None if unknown, already redeemed or expired."""
        entry = self.codes.pop(code or "", None)
        if entry is None or entry[0] < self.clock():
            return None
        self.redeemed += 1
        return entry[1]


def with_query(url: str, params: dict[str, str]) -> str:
    """`url` with `params` added to whatever query it already has."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return parts._replace(query=urlencode(query)).geturl()


def is_web_url(url: str | None) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def body_fields(body: bytes, content_type: str) -> dict[str, str]:
    """A token request's fields, form-encoded (OAuth 2.0) or JSON (Square, LWA accept it)."""
    if "json" in content_type:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        return {k: str(v) for k, v in data.items()} if isinstance(data, dict) else {}
    return dict(parse_qsl(body.decode(errors="replace"), keep_blank_values=True))


class GrantIntercept:
    """ASGI middleware: a POST to `path` whose grant_type is `grant` is answered by
    `handler`; every other request reaches the simulator with its body intact."""

    def __init__(self, app: ASGIApp, path: str, grant: str, handler: GrantHandler) -> None:
        self.app, self.path, self.grant, self.handler = app, path, grant, handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        request = Request(scope)
        fields = body_fields(body, request.headers.get("content-type", ""))
        if fields.get("grant_type") == self.grant:
            await (await self.handler(request, fields))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

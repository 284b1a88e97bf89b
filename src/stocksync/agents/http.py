"""The MCP server over streamable HTTP on `serve`, at /mcp, behind the tenant's API key.

Stateless and JSON-only: every POST carries its bearer key and is answered on its own, so
no MCP session can outlive a revoked key or be shared between tenants. DNS-rebinding
checks are off because a browser page cannot add the bearer key this endpoint requires.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from stocksync.agents.tools import build_server
from stocksync.api.deps import KeyCache
from stocksync.app.service import Stocksync
from stocksync.storage.tenants import KEY_PREFIX

PATH = "/mcp"


class McpEndpoint:
    """ASGI endpoint: refuses a missing or unknown key with 401, then hands the request to
    the SDK, whose tools read the tenant from the same (already checked) key."""

    def __init__(self, svc: Stocksync, keys: Callable[[], KeyCache]) -> None:
        self.svc = svc
        self.keys = keys  # the app's current cache: a revocation replaces it
        self.server: MCPServer = build_server(svc, self._tenant_of)
        self.app: ASGIApp = self.server.streamable_http_app(
            streamable_http_path=PATH, json_response=True, stateless_http=True,
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=False))

    def lifespan(self) -> AbstractAsyncContextManager[None]:
        return self.server.session_manager.run()

    def tenant(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        # Secret keys only: a publishable (pk_) key can read availability, never reserve.
        if scheme.lower() != "bearer" or not token.startswith(KEY_PREFIX):
            return None
        return self.keys().tenant(self.svc, token)

    def _tenant_of(self, ctx: Context) -> str:
        headers: Mapping[str, str] = ctx.headers or {}
        tenant_id = self.tenant(headers.get("authorization"))
        if tenant_id is None:  # revoked between the check and the call
            raise ToolError(json.dumps({"status": 401, "error": "unauthorized",
                                        "message": "unknown API key", "details": {}}))
        return tenant_id

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = dict(scope.get("headers") or []).get(b"authorization")
        authorization = raw.decode("latin-1") if raw else None
        tenant_id = await anyio.to_thread.run_sync(self.tenant, authorization)
        if tenant_id is None:
            body = json.dumps({"error": "unauthorized", "message": "the MCP endpoint needs "
                               "'Authorization: Bearer <secret API key sk_...>'",
                               "details": {}}).encode()
            await send({"type": "http.response.start", "status": 401, "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

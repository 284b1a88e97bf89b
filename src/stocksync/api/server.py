"""The uvicorn configuration `serve` runs: timeouts so idle or slow clients cannot hold
connections (and file descriptors) for ever."""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from stocksync.config import Settings


def header_timeout_protocol(header_seconds: float) -> type[asyncio.Protocol]:
    """HTTP/1.1 that closes a connection whose request headers are not complete within
    `header_seconds` of it opening or of the previous response. Uvicorn arms its keep-alive
    timer only after a response, and cancels it at the first byte: a socket that connects
    and sends nothing, or a header line now and then, would stay open for ever."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm()  # the next request's headers get the same time

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol


def server_config(app: FastAPI, settings: Settings, **overrides: Any) -> uvicorn.Config:
    """What `serve` hands uvicorn (host and port from settings unless overridden)."""
    options: dict[str, Any] = {
        "host": settings.host, "port": settings.port, "log_level": settings.log_level,
        "access_log": False, "timeout_keep_alive": settings.http_keepalive_seconds,
        "http": header_timeout_protocol(settings.http_header_timeout_seconds),
    }
    options.update(overrides)
    return uvicorn.Config(app, **options)

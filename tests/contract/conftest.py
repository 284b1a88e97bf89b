"""Running simulators for the contract tests: each stops when its test ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from stocksync.simulators.server import ServerThread
from tests.webhook_receiver import WebhookReceiver

Serve = Callable[[ASGIApp], tuple[ServerThread, httpx.Client]]
Receive = Callable[..., WebhookReceiver]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a simulator app on 127.0.0.1; returns its server and a client for its
    /_sim admin API."""
    with ExitStack() as stack:
        def start(app: ASGIApp) -> tuple[ServerThread, httpx.Client]:
            server = stack.enter_context(ServerThread(app))
            return server, stack.enter_context(httpx.Client(base_url=server.url, timeout=5))

        yield start


@pytest.fixture
def receive() -> Iterator[Receive]:
    """Start a WebhookReceiver (its arguments); ask for it before `serve`, so the
    simulators posting to it stop first."""
    with ExitStack() as stack:
        def start(*args: Any, **kwargs: Any) -> WebhookReceiver:
            return stack.enter_context(WebhookReceiver(*args, **kwargs))

        yield start

"""A stand-in webhook endpoint for tests: what a simulator posts to stocksync, or to a
merchant's own URL, lands here and is kept (headers lower-cased, the raw body)."""

from __future__ import annotations

import time
from types import TracebackType

from fastapi import FastAPI, Request, Response

from stocksync.simulators.server import ServerThread

Delivery = tuple[dict[str, str], bytes]


class WebhookReceiver:
    """Answers `status` to every POST to `path`, or 500 to the first `fail_first` of them
    (to see a sender retry). Use as a context manager: it serves on 127.0.0.1 inside it."""

    def __init__(self, path: str = "/hooks", *, status: int = 200, fail_first: int = 0) -> None:
        self.path = path
        self.status = status
        self.fail_first = fail_first
        self.received: list[Delivery] = []
        app = FastAPI()

        @app.post(path)
        async def hook(request: Request) -> Response:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.received.append((headers, await request.body()))
            failing = len(self.received) <= self.fail_first
            return Response(status_code=500 if failing else self.status)

        self.server = ServerThread(app)

    @property
    def url(self) -> str:
        return f"{self.server.url}{self.path}"

    def wait_for(self, count: int, seconds: float = 5.0) -> list[Delivery]:
        """The first `count` deliveries, once that many arrived (fails after `seconds`)."""
        deadline = time.monotonic() + seconds
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, self.received
        return self.received[:count]

    def wait_for_header(self, name: str, value: str, count: int = 1, seconds: float = 5.0
                        ) -> list[Delivery]:
        """Every delivery whose header `name` is `value`, once `count` of them arrived."""
        deadline = time.monotonic() + seconds
        while True:
            found = [(h, b) for h, b in self.received if h.get(name) == value]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} deliveries with {name}: {value}")
            time.sleep(0.02)

    def __enter__(self) -> WebhookReceiver:
        self.server.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.stop()

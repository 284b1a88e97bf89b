"""Page routes answer a domain refusal (unknown SKU, another tenant's id, invalid input)
with the API's status and message, as an HTML page or an htmx fragment, not JSON."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from fastapi.routing import APIRoute

from stocksync.api.errors import status_for
from stocksync.core.errors import DomainError
from stocksync.web.render import problem
from stocksync.web.session import signed_viewer


class PageRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return problem(request, signed_viewer(request), exc, status_for(exc))

        return answer

"""Templates and the small formatting helpers they use."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from stocksync.core.errors import DomainError
from stocksync.web.session import Viewer

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _aware(value: datetime | str) -> datetime:
    """Stored times come back naive from SQLite and as ISO text from JSON: both are UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def ago(value: datetime | str | None, now: datetime | None = None) -> str:
    """"12 s ago", "3 min ago", "5 h ago", "2 d ago"; "never" for None."""
    if value is None:
        return "never"
    value = _aware(value)
    seconds = max(0.0, ((now or datetime.now(UTC)) - value).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def when(value: datetime | str | None) -> str:
    if value is None:
        return "—"
    return _aware(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1:
        return "0 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio:.1%}"


def money(value: Decimal | str | None) -> str:
    """Prices are stored with 4 decimals: show 2 unless the others are used."""
    if value is None or value == "":
        return ""
    amount = Decimal(str(value))
    if amount == amount.quantize(Decimal("0.01")):
        return f"{amount:.2f}"
    return f"{amount.normalize():f}"


TEMPLATES.env.filters.update(ago=ago, when=when, duration=duration, percent=percent,
                             money=money)


def page(request: Request, name: str, who: Viewer | None, status_code: int = 200,
         **context: Any) -> HTMLResponse:
    """A template with what every page needs (the viewer, its CSRF token, the nav)."""
    context.update(request=request, who=who, csrf=who.csrf if who else context.get("csrf"))
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status_code)


def api_refusal(request: Request, who: Viewer | None, answer: Response) -> Response | None:
    """An API route's own refusal (its JSON error body) as a page or fragment; None when
    the route succeeded."""
    if answer.status_code < 400:
        return None
    body = bytes(answer.body) if isinstance(answer.body, bytes | memoryview) else b"{}"
    return problem(request, who, json.loads(body or b"{}").get("message", "refused"),
                   answer.status_code)


def problem(request: Request, who: Viewer | None, exc: DomainError | str,
            status_code: int = 400) -> HTMLResponse:
    """A refusal as a small fragment (htmx swaps it in) or page: the same message the API
    gives."""
    message = str(exc) if isinstance(exc, str) else exc.message
    name = "fragments/problem.html" if request.headers.get("HX-Request") else "problem.html"
    return page(request, name, who, status_code, message=message)

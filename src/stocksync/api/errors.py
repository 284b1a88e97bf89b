"""One table from domain errors to HTTP, and the JSON error shape {"error","message","details"}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from stocksync.core import errors as e

STATUS: dict[type[e.DomainError], int] = {
    e.Unauthorized: 401,
    e.NotFound: 404,
    e.InsufficientStock: 409,
    e.StaleUpdate: 409,
    e.ItemDeleted: 409,
    e.ReservationNotActive: 409,
    e.IdempotencyKeyReused: 422,
    e.InvalidInput: 422,
}


def status_for(error: e.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details if details is not None else {}}


def render_domain_error(error: e.DomainError) -> tuple[int, dict[str, Any]]:
    return status_for(error), error_body(error.code, error.message, error.details)


def json_error(status: int, code: str, message: str, details: Any = None,
               headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message, details), status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    problems = exc.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        first = next(p for p in problems if p.get("type") == "json_invalid")
        return json_error(400, "malformed_json", "the request body is not valid JSON",
                          {"position": first.get("ctx", {}).get("error")})
    if any(p.get("type") == "model_attributes_type" and tuple(p["loc"]) == ("body",)
           for p in problems):
        return json_error(400, "malformed_json",
                          "the request body must be a JSON object (Content-Type: "
                          "application/json)")
    fields = [{"field": _field(tuple(p["loc"])), "message": p["msg"], "type": p["type"]}
              for p in problems]
    summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields[:5])
    return json_error(422, "validation_error", f"invalid request: {summary}", fields)


async def _domain(_: Request, exc: e.DomainError) -> JSONResponse:
    status, body = render_domain_error(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}
    return json_error(exc.status_code, codes.get(exc.status_code, "http_error"),
                      str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(e.DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]

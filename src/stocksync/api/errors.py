"""One table from domain errors to HTTP, and the JSON error shape {"error","message","details"}."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError
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


class Error(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: str = Field(description="stable machine-readable code, e.g. `validation_error`")
    message: str = Field(description="what was wrong, for a person")
    details: dict[str, Any] = Field(description="data about the error; a validation error "
                                    "lists its problems under `errors`")


_MEANING = {
    400: "malformed JSON or webhook body",
    401: "missing or unknown API key",
    404: "no such resource",
    409: "refused by the current state (stock, version, reservation, a concurrent write)",
    413: "request body over the size limit",
    422: "invalid input (`validation_error` lists each field under details.errors)",
    502: "the channel's platform could not be reached to check its credentials",
    503: "the channel's platform asked to slow down (see Retry-After)",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, all with the Error body."""
    return {status: {"model": Error, "description": _MEANING[status]} for status in statuses}


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
    return json_error(422, "validation_error", f"invalid request: {summary}",
                      {"errors": fields})


async def _domain(_: Request, exc: e.DomainError) -> JSONResponse:
    status, body = render_domain_error(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    codes = {400: "malformed_body", 404: "not_found", 405: "method_not_allowed",
             413: "payload_too_large"}
    return json_error(exc.status_code, codes.get(exc.status_code, "http_error"),
                      str(exc.detail))


async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
    # Last resort: writes retry a lost insert race (api.deps.write), so this is a
    # conflict that kept happening, not a server fault.
    return json_error(409, "conflict", "a concurrent request changed the same data; retry")


async def _data(_: Request, exc: DataError) -> JSONResponse:
    # Last resort behind the edge's own checks: the database refused a value.
    return json_error(422, "invalid_input", "a value cannot be stored (out of range or "
                      "not valid text)")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(e.DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(IntegrityError, _integrity)  # type: ignore[arg-type]
    app.add_exception_handler(DataError, _data)  # type: ignore[arg-type]

"""Domain errors. They carry data, never HTTP: `api/errors.py` maps them to responses."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the core or the application raises on purpose."""

    code = "domain_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class UnknownSku(NotFound):
    code = "unknown_sku"


class UnknownLocation(NotFound):
    code = "unknown_location"


class ItemDeleted(DomainError):
    code = "item_deleted"


class InsufficientStock(DomainError):
    """A sale, reservation or decrement would take `available` below zero."""

    code = "insufficient_stock"

    def __init__(self, sku: str, location: str | None, requested: int, available: int) -> None:
        where = f" at {location}" if location else ""
        super().__init__(
            f"cannot take {requested} of {sku}{where}: only {available} available",
            sku=sku,
            location=location,
            requested=requested,
            available=available,
        )
        self.available = available


class StaleUpdate(DomainError):
    """An absolute count older than the newest applied, or a version that no longer matches."""

    code = "stale_update"


class ReservationNotActive(DomainError):
    code = "reservation_not_active"


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"


class Unauthorized(DomainError):
    code = "unauthorized"

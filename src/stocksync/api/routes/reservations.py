"""Reservations: hold, commit, release; expiry is the expirer worker's job."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from stocksync import metrics
from stocksync.api.deps import IdemKey, Svc, Who, request_meta, respond, write
from stocksync.api.errors import render_domain_error
from stocksync.api.hot import AsyncWho, hot_path
from stocksync.api.schemas import ReservationIn, ReservationOut
from stocksync.app import handlers as h
from stocksync.app.ports import UnitOfWork
from stocksync.app.records import ReservationRecord, WriteContext
from stocksync.core.errors import NotFound
from stocksync.core.reservations import ReservationKind, ReservationStatus

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])
ReservationId = Annotated[str, Path(min_length=1, max_length=64)]


def reservation_out(record: ReservationRecord, now: datetime) -> ReservationOut:
    res = record.reservation
    status = res.status
    if status is ReservationStatus.ACTIVE and now >= res.expires_at:
        status = ReservationStatus.EXPIRED  # reads never count a hold past its expiry
    return ReservationOut(id=res.id, sku=res.sku, location=res.location,
                          quantity=res.quantity, kind=record.kind.value, status=status.value,
                          reference=record.reference, expires_at=res.expires_at,
                          created_at=record.created_at, resolved_at=record.resolved_at)


@router.post("", status_code=201, response_model=ReservationOut)
async def create_reservation(request: Request, body: ReservationIn, who: AsyncWho,
                             idempotency_key: IdemKey = None) -> Response:
    """Hold stock. The hot path: async, no thread hop; concurrent holds of one level are
    decided together in one transaction, each as if alone (app/hot.py)."""
    kind = ReservationKind(body.kind)
    req = h.NewReservation(
        sku=body.sku, quantity=body.quantity, location=body.location, kind=kind,
        ttl=timedelta(seconds=body.ttl_seconds) if body.ttl_seconds else None,
        reference=body.reference,
    )

    def render(record: Any) -> tuple[int, Any]:
        assert isinstance(record, ReservationRecord)
        return 201, reservation_out(record, record.created_at).model_dump(mode="json")

    meta = request_meta(request, who, idempotency_key, body)
    outcome = await hot_path(request).reserve(who.tenant_id, meta, req, render,
                                              render_domain_error)
    if not outcome.replayed:
        metrics.RESERVATIONS.labels("created" if outcome.status == 201 else "refused").inc()
    return respond(meta, outcome)


@router.get("/{reservation_id}", response_model=ReservationOut)
def get_reservation(reservation_id: ReservationId, svc: Svc, who: Who) -> ReservationOut:
    with svc.uow(who.tenant_id, write=False) as uow:
        record = uow.reservations.get(reservation_id)
    if record is None:
        raise NotFound(f"no reservation {reservation_id}", reservation_id=reservation_id)
    return reservation_out(record, svc.clock())


def _resolve(request: Request, reservation_id: str, to: ReservationStatus, svc: Svc,
             who: Who, key: str | None) -> Response:
    def action(uow: UnitOfWork, ctx: WriteContext) -> tuple[ReservationRecord, datetime]:
        record, _ = h.resolve_reservation(uow, ctx, reservation_id, to)
        return record, ctx.now

    def render(result: tuple[ReservationRecord, datetime]) -> tuple[int, Any]:
        return 200, reservation_out(*result).model_dump(mode="json")

    response = write(request, svc, who, key, None, action, render)
    if response.status_code == 200 and response.headers.get("Idempotent-Replayed") is None:
        metrics.RESERVATIONS.labels(to.value).inc()
    return response


@router.post("/{reservation_id}/commit", response_model=ReservationOut)
def commit_reservation(request: Request, reservation_id: ReservationId, svc: Svc, who: Who,
                       idempotency_key: IdemKey = None) -> Response:
    """The held units leave stock (a paid or shipped sale). Repeating it changes nothing."""
    return _resolve(request, reservation_id, ReservationStatus.COMMITTED, svc, who,
                    idempotency_key)


@router.post("/{reservation_id}/release", response_model=ReservationOut)
def release_reservation(request: Request, reservation_id: ReservationId, svc: Svc, who: Who,
                        idempotency_key: IdemKey = None) -> Response:
    return _resolve(request, reservation_id, ReservationStatus.RELEASED, svc, who,
                    idempotency_key)

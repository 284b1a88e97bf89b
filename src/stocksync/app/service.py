"""Stocksync: the application service the API, CLI and workers call.

It owns transactions, idempotency and the retry after expiring due holds; the decisions
themselves live in app/handlers.py and core/.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from stocksync import metrics
from stocksync.app import handlers as h
from stocksync.app.ports import EVENTS as EVENTS  # the doorbell's topics, imported from here
from stocksync.app.ports import INBOX as INBOX
from stocksync.app.ports import (
    OUTBOX,
    CredentialSealer,
    Doorbell,
    InboxStore,
    StoreAdmin,
    UnitOfWork,
    UnitOfWorkFactory,
)
from stocksync.app.records import KeyTaken, ReservationRecord, WriteContext
from stocksync.app.tenants import TenantDirectory
from stocksync.app.verify import VerifyReport, verify
from stocksync.bus.memory import MemoryBus
from stocksync.config import Settings
from stocksync.core.clock import Clock
from stocksync.core.errors import DomainError, IdempotencyKeyReused, InsufficientStock
from stocksync.core.reservations import ReservationKind, ReservationStatus

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from stocksync.app.content_ports import ContentStore
    from stocksync.app.dashboard import DashboardReads

T = TypeVar("T")
log = structlog.get_logger()
Rendered = tuple[int, object]


@dataclass(frozen=True, slots=True)
class RequestMeta:
    """Where a write comes from, and its Idempotency-Key with a fingerprint of the request."""

    source: str = "api"
    actor: str | None = None
    idempotency_key: str | None = None
    fingerprint: str = ""
    correlation_id: str | None = None
    origin: str | None = None

    @staticmethod
    def fingerprint_of(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Outcome:
    status: int
    body: str
    replayed: bool = False


class Stocksync:
    def __init__(self, uows: UnitOfWorkFactory, admin: StoreAdmin, settings: Settings,
                 clock: Clock, bus: Doorbell | None = None, box: CredentialSealer | None = None,
                 *, tenants: TenantDirectory, inbox: InboxStore,
                 engine: Engine | None = None) -> None:
        self.uows = uows
        self.admin = admin
        self.tenants = tenants
        self.inbox = inbox
        # Transition only: code not yet behind the ports still reaches the database
        # through the engine: imports/, agents/, leakage/, app/demo.py, app/reconcile.py,
        # app/webhook_intake.py, app/alerts.py (via the alert worker), the import,
        # storefront and publishable-key routes, cli/common.writing, and tests.
        self._engine = engine
        self.settings = settings
        self.clock = clock
        self.bus: Doorbell = bus or MemoryBus()
        self.box = box
        # Sales and holds refused for lack of stock, per tenant, since the last digest
        # (kept in memory: a restart starts the count again).
        self.refusals: Counter[str] = Counter()
        # One connector per channel configuration in this process, shared by its pusher,
        # its order poller and the ingest worker: a platform's rate limit is paced once.
        self.connectors: dict[tuple[str, str], tuple[Any, Any, Any]] = {}
        # Read models and stores of the features built on top (set by bootstrap): the
        # dashboard's bounded queries and content sync's store (app/dashboard.py,
        # app/content_ports.py). None on a store that has none (the memory twin).
        self.dashboard_reads: DashboardReads | None = None
        self.content_store: ContentStore | None = None

    # ---- plumbing ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("this service was built without a database engine")
        return self._engine

    def uow(self, tenant_id: str, *, write: bool = True) -> UnitOfWork:
        ring = (lambda: self.bus.ring(OUTBOX)) if write else None
        return self.uows(tenant_id, write=write, on_commit=ring)

    def verify(self, tenant_id: str | None = None) -> VerifyReport:
        """Replay the ledger and compare it with the stored levels (one tenant or all)."""
        return verify(self.uows, self.admin, tenant_id)

    def default_ttl(self, kind: ReservationKind) -> timedelta:
        seconds = (self.settings.cart_ttl_seconds if kind is ReservationKind.CART
                   else self.settings.checkout_ttl_seconds)
        return timedelta(seconds=seconds)

    def execute(self, tenant_id: str, meta: RequestMeta,
                action: Callable[[UnitOfWork, WriteContext], T],
                render: Callable[[T], Rendered],
                render_error: Callable[[DomainError], Rendered]) -> Outcome:
        """Run `action` in one transaction, exactly once per Idempotency-Key.

        The key is claimed in the same transaction as the effect and completed with the
        response before commit, so a retry sees either nothing or the finished answer.
        Domain refusals are stored for the key too (in their own transaction, since the
        effect's transaction rolled back), so a retry gets the same answer."""
        done = self._once(tenant_id, meta, action, render)
        if isinstance(done, DomainError):
            return self._store_refusal(tenant_id, meta, self.clock(), *render_error(done))
        return done

    def apply_once(self, tenant_id: str, meta: RequestMeta,
                   action: Callable[[UnitOfWork, WriteContext], T],
                   remember: Callable[[T], dict[str, Any]]) -> bool:
        """`execute` for what the application itself applies (a channel's orders and
        levels): typed, no HTTP shapes. True when it ran now, False when its key had
        already run. A refusal is raised as the domain error and not remembered for the
        key, so the same message applied again after a fix runs again."""
        done = self._once(tenant_id, meta, action, lambda result: (201, remember(result)))
        if isinstance(done, DomainError):
            raise done
        return not done.replayed

    def remembered(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        """What `apply_once` kept for `key`, if it ran."""
        with self.uow(tenant_id, write=False) as uow:
            stored = uow.idempotency.lookup(key)
        if stored is None or stored.status_code != 201 or stored.body is None:
            return None
        found: dict[str, Any] = json.loads(stored.body)
        return found

    def _once(self, tenant_id: str, meta: RequestMeta,
              action: Callable[[UnitOfWork, WriteContext], T],
              render: Callable[[T], Rendered]) -> Outcome | DomainError:
        key = meta.idempotency_key
        retried = False
        while True:
            ctx = WriteContext(tenant_id=tenant_id, now=self.clock(), source=meta.source,
                               actor=meta.actor, idempotency_key=key,
                               correlation_id=meta.correlation_id, origin=meta.origin)
            try:
                with self.uow(tenant_id) as uow:
                    if key is not None:
                        stored = uow.idempotency.claim(key, meta.fingerprint, ctx.now)
                        if stored is not None:
                            return self._replay(key, meta, stored.fingerprint,
                                                stored.status_code, stored.body)
                    status, body = render(action(uow, ctx))
                    text = json.dumps(body, default=str)
                    if key is not None:
                        uow.idempotency.complete(key, status, text)
                    uow.commit()
                    log.info("write_applied", tenant=tenant_id, source=meta.source,
                             actor=meta.actor, correlation_id=meta.correlation_id,
                             status=status)
                    return Outcome(status, text)
            except IdempotencyKeyReused:
                raise
            except h.StaleWithConflict as exc:
                self._record_conflict(tenant_id, ctx, exc)
                return exc
            except InsufficientStock as exc:
                sku = str(exc.details.get("sku"))
                if not retried and self.expire_due(tenant_id=tenant_id, sku=sku):
                    retried = True  # holds past their expiry were still counted: retry once
                    continue
                metrics.OVERSELLS_PREVENTED.inc()
                self.refusals[tenant_id] += 1
                return exc
            except DomainError as exc:
                return exc

    def reserve(self, tenant_id: str, meta: RequestMeta, req: h.NewReservation,
                render: Callable[[ReservationRecord], Rendered],
                render_error: Callable[[DomainError], Rendered]) -> Outcome:
        """Hold stock. With a named location, where the store offers it, this is the
        one-statement hot path; otherwise the general transactional path."""
        ttl = req.ttl or self.default_ttl(req.kind)
        if not self.uows.reserves_in_one_statement or req.location is None:
            return self.execute(tenant_id, meta, lambda uow, ctx: h.reserve(uow, ctx, req, ttl),
                                render, render_error)

        def answer(record: ReservationRecord) -> tuple[int, str]:
            status, body = render(record)
            return status, json.dumps(body, default=str)

        key = meta.idempotency_key
        retried = replaying = False
        while True:
            ctx = WriteContext(tenant_id=tenant_id, now=self.clock(), source=meta.source,
                               actor=meta.actor, idempotency_key=key,
                               correlation_id=meta.correlation_id, origin=meta.origin)
            try:
                with self.uow(tenant_id, write=False) as uow:  # autocommit on PostgreSQL
                    if key is not None and replaying and (stored := uow.idempotency.lookup(key)):
                        return self._replay(key, meta, stored.fingerprint,
                                            stored.status_code, stored.body)
                    _, status, text = h.reserve_in_one_statement(
                        uow, ctx, req, ttl, answer, meta.fingerprint)
                self.bus.ring(OUTBOX)
                log.info("write_applied", tenant=tenant_id, source=meta.source,
                         actor=meta.actor, correlation_id=meta.correlation_id, status=status)
                return Outcome(status, text)
            except KeyTaken:
                replaying = True  # the key has an answer already (maybe concurrent): use it
                continue
            except InsufficientStock as exc:
                if not retried and self.expire_due(tenant_id=tenant_id, sku=req.sku):
                    retried = True
                    continue
                metrics.OVERSELLS_PREVENTED.inc()
                self.refusals[tenant_id] += 1
                error: DomainError = exc
            except IdempotencyKeyReused:
                raise
            except DomainError as exc:
                error = exc
            return self._store_refusal(tenant_id, meta, ctx.now, *render_error(error))

    def _replay(self, key: str, meta: RequestMeta, fingerprint: str,
                status: int | None, body: str | None) -> Outcome:
        if fingerprint != meta.fingerprint:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was already used with a different request",
                idempotency_key=key)
        assert status is not None and body is not None
        return Outcome(status, body, replayed=True)

    def _store_refusal(self, tenant_id: str, meta: RequestMeta, now: datetime,
                       status: int, body: object) -> Outcome:
        text = json.dumps(body, default=str)
        key = meta.idempotency_key
        if key is None:
            return Outcome(status, text)
        with self.uow(tenant_id) as uow:
            stored = uow.idempotency.claim(key, meta.fingerprint, now)
            if stored is not None:  # a concurrent retry finished first: its answer stands
                return self._replay(key, meta, stored.fingerprint, stored.status_code,
                                    stored.body)
            uow.idempotency.complete(key, status, text)
            uow.commit()
        return Outcome(status, text)

    def _record_conflict(self, tenant_id: str, ctx: WriteContext,
                         exc: h.StaleWithConflict) -> None:
        with self.uow(tenant_id) as uow:
            uow.ledger.append(exc.conflict, ctx)
            uow.commit()

    # ---- the expirer -------------------------------------------------------------------

    def purge_inbox(self) -> int:
        """Forget applied webhook deliveries after the dedupe window (redeliveries of a
        kept id are dropped; order lines stay exactly-once through their keys anyway)."""
        cutoff = self.clock() - timedelta(hours=self.settings.inbox_retention_hours)
        return self.admin.purge_inbox(cutoff)

    def purge_idempotency_keys(self) -> int:
        """Forget Idempotency-Key answers older than the configured retention."""
        cutoff = self.clock() - timedelta(hours=self.settings.idempotency_ttl_hours)
        return self.admin.purge_idempotency_keys(cutoff)

    def expire_due(self, *, limit: int = 500, tenant_id: str | None = None,
                   sku: str | None = None) -> int:
        """Turn holds past their expiry into `stock.expired` events; returns how many."""
        now = self.clock()
        due = self.admin.due_reservations(now, limit, tenant_id=tenant_id, sku=sku)
        expired = 0
        for record in due:
            with self.uow(record.tenant_id) as uow:
                ctx = WriteContext(tenant_id=record.tenant_id, now=now, source="expirer")
                try:
                    h.resolve_reservation(uow, ctx, record.reservation.id,
                                          ReservationStatus.EXPIRED)
                except DomainError:
                    continue  # committed or released meanwhile: nothing to give back
                uow.commit()
                expired += 1
        metrics.RESERVATIONS.labels("expired").inc(expired)
        return expired

"""Ports the application depends on; adapters live in storage/, bus/ and channels/."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Protocol, Self

from stocksync.app.records import (
    Applied,
    Delivery,
    LoggedEvent,
    ReservationRecord,
    SkuTarget,
    StoredResponse,
    Wanted,
    WriteContext,
)
from stocksync.core.catalog import Item, Location
from stocksync.core.channels import Channel, ChannelStatus
from stocksync.core.events import Event
from stocksync.core.ledger import Level
from stocksync.core.reservations import Reservation, ReservationKind, ReservationStatus

OUTBOX = "outbox"  # rung after a write commits: the sequencer wakes
EVENTS = "events"  # rung after the sequencer published: consumers wake
INBOX = "inbox"  # rung when a webhook delivery is stored or queued again: ingest wakes


class Doorbell(Protocol):
    """Wakes consumers when something changed. It carries no data: the ledger is the truth,
    so a lost ring costs at most one sweep interval. MemoryBus rings in-process; a
    PostgreSQL LISTEN/NOTIFY bridge (and later NATS JetStream) carries rings across
    processes by ringing the local bus."""

    def ring(self, topic: str) -> None: ...

    def subscribe(self, topic: str) -> threading.Event: ...

    def unsubscribe(self, topic: str, bell: threading.Event) -> None: ...

    def subscribe_async(self, topic: str) -> asyncio.Event: ...

    def unsubscribe_async(self, topic: str, bell: asyncio.Event) -> None: ...


class CredentialSealer(Protocol):
    """Seals channel credentials for storage and opens them again."""

    def seal(self, credentials: dict[str, str]) -> str: ...

    def open(self, token: str) -> dict[str, str]: ...


class Ledger(Protocol):
    """Stock levels of one tenant, changed only by events the guard accepts."""

    def stored_levels(self, skus: Iterable[str] | None = None) -> list[Level]: ...

    def levels(self, skus: Iterable[str], now: datetime,
               location: str | None = None) -> list[Level]:
        """Levels as a buyer sees them at `now` (holds past their expiry not counted)."""
        ...

    def level(self, sku: str, location: str, now: datetime) -> Level: ...

    def ensure_level(self, sku: str, location: str, now: datetime) -> None: ...

    def append(self, event: Event, ctx: WriteContext, *,
               expected_version: int | None = None) -> Applied | None:
        """Apply `event` to its level and stage it for the log; None (nothing written)
        when the level's guard refuses it."""
        ...

    def reserve_in_one_statement(self, event: Event, ctx: WriteContext,
                                 record: ReservationRecord,
                                 answer: StoredResponse | None) -> Applied | None:
        """Take the stock, keep the hold and the Idempotency-Key answer as one committed
        step (only where `UnitOfWorkFactory.reserves_in_one_statement`). None when the
        guard refused; KeyTaken when the key already has an answer."""
        ...


class Reservations(Protocol):
    def add(self, res: Reservation, kind: ReservationKind, reference: str | None,
            now: datetime) -> None: ...

    def get(self, reservation_id: str) -> ReservationRecord | None: ...

    def delete(self, reservation_id: str) -> None: ...

    def transition(self, reservation_id: str, to: ReservationStatus, now: datetime) -> bool:
        """Move an active hold to `to`; False when another transition won the race."""
        ...


class Catalog(Protocol):
    def item(self, sku: str) -> Item | None: ...

    def items(self, *, after: str | None = None, limit: int = 100,
              include_deleted: bool = False, query: str | None = None) -> list[Item]: ...

    def items_by_sku(self, skus: list[str]) -> list[Item]: ...

    def item_deleted(self, sku: str) -> bool | None:
        """None: no such item; True: soft-deleted; False: live."""
        ...

    def location_exists(self, code: str) -> bool: ...

    def deleted_skus(self, skus: list[str]) -> set[str]: ...

    def put_item(self, item: Item, now: datetime) -> tuple[Item, bool]: ...

    def set_deleted(self, sku: str, deleted_at: datetime | None, now: datetime) -> bool: ...

    def location(self, code: str) -> Location | None: ...

    def locations(self) -> list[Location]: ...

    def put_location(self, loc: Location, now: datetime) -> bool: ...


class Idempotency(Protocol):
    def claim(self, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
        """Claim `key` for this unit of work: None when claimed, else what it holds."""
        ...

    def lookup(self, key: str) -> StoredResponse | None: ...

    def complete(self, key: str, status_code: int, body: str) -> None: ...


class EventLog(Protocol):
    def page(self, after: int, limit: int, *, sku: str | None = None,
             types: Sequence[str] = (), source: str | None = None,
             since: datetime | None = None, until: datetime | None = None,
             location: str | None = None) -> list[LoggedEvent]: ...

    def for_sku(self, sku: str, *, up_to_sequence: int | None = None,
                recorded_until: datetime | None = None) -> list[LoggedEvent]: ...

    def replay_stream(self, batch: int = 5000) -> Iterator[LoggedEvent]: ...


class Channels(Protocol):
    """A tenant's channels and, per channel and SKU, the wanted/pushed values."""

    def get(self, code: str) -> Channel | None: ...

    def list(self) -> list[Channel]: ...

    def sealed_credentials(self, code: str) -> str | None: ...

    def add(self, channel: Channel, sealed: str | None, cursor: int, now: datetime) -> None: ...

    def change(self, channel: Channel, sealed: str | None, now: datetime) -> None: ...

    def resync(self, code: str) -> None: ...

    def remove(self, code: str) -> None: ...

    def status(self, code: str, cursor: int, now: datetime | None = None) -> ChannelStatus: ...

    def order_cursor(self, code: str) -> tuple[str | None, datetime]: ...

    def record_order_poll(self, code: str, now: datetime, cursor: str | None,
                          error: str | None) -> None: ...

    def advance(self, code: str, cursor: int) -> None: ...

    def claim_lease(self, code: str, owner: str, now: datetime, until: datetime) -> bool: ...

    def record_push(self, code: str, now: datetime, error: str | None) -> None: ...

    def targets(self, code: str, skus: Iterable[str], *,
                lock: bool = False) -> dict[str, SkuTarget]:
        """`lock`: hold the rows until the transaction ends (a decision made from them and
        written back relative to them must not interleave with another writer's)."""
        ...

    def pending_skus(self, code: str) -> set[str]: ...

    def want(self, code: str, sku: str, wanted: int, sequence: int, since: datetime,
             existing: SkuTarget | None, correlation_id: str | None = None,
             reassert: bool = False) -> None: ...

    def want_many(self, code: str, wanted: Sequence[Wanted],
                  existing: Mapping[str, SkuTarget], reassert: bool = False) -> None: ...

    def acknowledge_many(self, code: str, values: Mapping[str, int], now: datetime,
                         wanted: Mapping[str, int | None],
                         moves_read: Mapping[str, int] | None = None,
                         reassert: bool = False) -> set[str]: ...

    def channel_moved(self, code: str, sku: str, delta: int, absorbed: int,
                      at: datetime | None, now: datetime, *, included: bool = False,
                      wanted_delta: int = 0) -> None: ...

    def accept_level(self, code: str, sku: str, value: int, expected: int,
                     observed_at: datetime | None, read_at: datetime | None = None, *,
                     wanted_delta: int = 0) -> bool: ...

    def due(self, code: str, now: datetime, limit: int) -> list[SkuTarget]: ...

    def mark_sending(self, code: str, values: Mapping[str, int],
                     unconfirmed: Mapping[str, Sequence[int]] | None = None) -> None: ...

    def observed(self, code: str, sku: str, value: int,
                 observed_at: datetime | None = None, read_at: datetime | None = None) -> None: ...

    def sku_for_external_id(self, code: str, field: str, external_id: str) -> str | None: ...

    def acknowledge(self, code: str, sku: str, value: int, now: datetime) -> bool: ...

    def count_revision(self, code: str, sku: str, now: datetime, used_before: int) -> None: ...

    def unpark_all(self, code: str) -> None: ...

    def park(self, code: str, sku: str, reason: str) -> None: ...

    def hold_until(self, code: str, held: Mapping[str, datetime]) -> None: ...

    def set_external_ids(self, code: str, ids: Mapping[str, dict[str, str]]) -> None: ...

    def page(self, code: str, after: str | None, limit: int) -> list[Any]: ...

    def revisions_today(self, code: str, now: datetime) -> dict[str, int]: ...

    def mapping(self, code: str) -> dict[str, dict[str, str]]: ...


class UnitOfWork(Protocol):
    """One transaction with every repository bound to one tenant. Nothing is kept unless
    `commit` runs; leaving the `with` block rolls back what was not committed."""

    tenant_id: str
    ledger: Ledger
    reservations: Reservations
    catalog: Catalog
    idempotency: Idempotency
    log: EventLog
    channels: Channels

    def __enter__(self) -> Self: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None: ...

    def defer(self, work: Callable[[], None]) -> None:
        """Run `work` just before COMMIT (it may raise to abort the commit)."""
        ...

    def log_head(self) -> int:
        """The tenant's newest log position (what a reader has seen up to)."""
        ...

    def savepoint(self) -> AbstractContextManager[None]:
        """A part of a write transaction that an exception undoes alone: what the block
        wrote (and deferred) is rolled back, the exception goes on, and what came before
        it stays for the commit. Without an exception the part joins the transaction."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A delivery to keep in the inbox (a webhook's, or an order read by a poll)."""

    tenant_id: str
    channel: str
    kind: str
    delivery_id: str  # with `channel`, what makes a redelivery one
    topic: str
    headers: Mapping[str, str]
    body: bytes
    correlation_id: str | None = None
    not_before: datetime | None = None  # not applied before this time


class InboxStore(Protocol):
    """Webhook deliveries across tenants (storage.inbox.SqlInboxStore); each call is its
    own short transaction."""

    def keep(self, deliveries: Sequence[NewDelivery], now: datetime) -> list[int | None]:
        """Keep deliveries (one transaction, committed before they are acknowledged): each
        one's inbox id, None for one its channel's inbox already holds (a redelivery)."""
        ...

    def receiver(self, webhook_id: str) -> tuple[Channel, str | None] | None:
        """The channel a webhook URL names (across tenants), with its sealed credentials."""
        ...

    def record_refused(self, tenant_id: str, channel: str, now: datetime) -> None:
        """A delivery refused for its signature: counted on the channel (and alerted)."""
        ...

    def listing(self, tenant_id: str, status: str | None, after: int,
                limit: int) -> list[Delivery]: ...

    def get(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None: ...

    def replay(self, delivery_id: int, tenant_id: str | None = None) -> Delivery | None:
        """Queue a delivery again: it as it is now, None when there is no such one."""
        ...

    def dismiss(self, delivery_id: int, now: datetime, by: str, reason: str | None,
                tenant_id: str | None = None) -> tuple[Delivery | None, bool]:
        """Give up on a failed delivery: it as it is now (None when there is no such one)
        and whether it was dismissed by this call (only a failed one can be)."""
        ...

    def claim(self, now: datetime, hold: timedelta, limit: int,
              skip: Iterable[tuple[str, str]] = (),
              later: Collection[str] = ()) -> list[Delivery]:
        """Up to `limit` due deliveries, held for `hold`; `later` topics after the others.
        `skip`: (tenant, channel) pairs whose queue is full: with `later`, only their
        deliveries of those topics are left; without, all of them."""
        ...

    def renew(self, ids: Sequence[int], held_until: datetime, now: datetime,
              hold: timedelta) -> tuple[datetime, set[int]]: ...

    def release(self, ids: Sequence[int], held_until: datetime) -> int: ...

    def settle(self, delivery_id: int, now: datetime, *, error: str | None = None,
               retry_at: datetime | None = None) -> None: ...

    def settle_many(self, delivery_ids: Sequence[int], now: datetime) -> None:
        """Settle deliveries as applied, in one statement (a batch the worker applied in
        one transaction)."""
        ...


class UnitOfWorkFactory(Protocol):
    """Opens units of work. `reserves_in_one_statement` says whether a hold at a named
    location can be taken, kept and answered in one committed step (see
    Ledger.reserve_in_one_statement) instead of the general transactional path."""

    reserves_in_one_statement: bool

    def __call__(self, tenant_id: str, *, write: bool = True,
                 on_commit: Callable[[], None] | None = None) -> UnitOfWork: ...

    def snapshot(self, tenant_id: str) -> UnitOfWork:
        """A read-only unit of work whose reads all see one committed state."""
        ...


class Running(Protocol):
    """A background loop or thread that was started and can be stopped."""

    name: str

    @property
    def alive(self) -> bool: ...

    def stop(self, timeout: float = ...) -> None: ...


class StoreAdmin(Protocol):
    """What the service does across tenants: housekeeping, finding due work, health, and
    the reconciliation reports it keeps (storage.admin.SqlStoreAdmin)."""

    kind: str  # which database, as /v1/health reports it ("postgresql", "sqlite")

    def ping(self) -> None:
        """Raise when the store does not answer."""
        ...

    def tenant_ids(self) -> list[str]: ...

    def enabled_channels(self) -> list[Channel]: ...

    def channel_counts(self) -> dict[str, int]:
        """Channels over the whole installation: total, enabled, failing, pending_skus."""
        ...

    def sequence_pending(self) -> int:
        """Give pending writes their log positions; how many were sequenced."""
        ...

    def drain(self) -> int:
        """Sequence everything pending now; how many were sequenced."""
        ...

    def listen(self, bus: Doorbell, topic: str) -> Running | None:
        """Start ringing `bus` on `topic` when another process commits, where the store
        can tell (None where it cannot: the sweep interval covers it)."""
        ...

    def purge_inbox(self, older_than: datetime) -> int:
        """Forget settled webhook deliveries received before `older_than`."""
        ...

    def purge_idempotency_keys(self, older_than: datetime) -> int: ...

    def due_reservations(self, now: datetime, limit: int, *, tenant_id: str | None = None,
                         sku: str | None = None) -> list[ReservationRecord]:
        """Active holds past their expiry, oldest first."""
        ...

    def save_report(self, report: Mapping[str, Any]) -> None:
        """Keep a reconciliation report: its `id`, `tenant_id`, `channel`, `mode`,
        `started_at`, `finished_at`, `compared`, `drift_rate`, `applied`, `error`, and the
        findings as JSON under `report`."""
        ...

    def load_report(self, tenant_id: str, report_id: str) -> dict[str, Any] | None:
        """A report as kept, its findings spread in (None when there is no such one)."""
        ...

    def latest_report(self, tenant_id: str, channel: str) -> dict[str, Any] | None: ...

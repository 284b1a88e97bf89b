"""SqlChannels: channel rows, their per-SKU wanted/pushed state, cursors and leases."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from stocksync.app.records import SkuTarget, Wanted
from stocksync.core.channels import Channel, ChannelStatus
from stocksync.storage.channel_health import channel_status
from stocksync.storage.channel_rows import (
    channel_from_row,
    rules_to_json,
    sku_target,
)
from stocksync.storage.tables import channel_skus, channels


class SqlChannels:
    def __init__(self, conn: Connection, tenant_id: str) -> None:
        self.conn = conn
        self.tenant_id = tenant_id

    def _where(self, code: str) -> Any:
        return and_(channels.c.tenant_id == self.tenant_id, channels.c.code == code)

    def _sku_where(self, code: str) -> Any:
        return and_(channel_skus.c.tenant_id == self.tenant_id, channel_skus.c.channel == code)

    # ---- channel rows ----------------------------------------------------------------

    def get(self, code: str) -> Channel | None:
        row = self.conn.execute(select(channels).where(self._where(code))).first()
        return channel_from_row(row) if row else None

    def list(self) -> list[Channel]:
        rows = self.conn.execute(select(channels).where(channels.c.tenant_id == self.tenant_id)
                                 .order_by(channels.c.code))
        return [channel_from_row(r) for r in rows]

    def sealed_credentials(self, code: str) -> str | None:
        return self.conn.execute(select(channels.c.credentials).where(self._where(code))).scalar()

    def add(self, channel: Channel, sealed: str | None, cursor: int, now: datetime) -> None:
        self.conn.execute(insert(channels).values(
            tenant_id=self.tenant_id, code=channel.code, kind=channel.kind.value,
            name=channel.name, enabled=channel.enabled, settings=channel.settings,
            credentials=sealed, rules=rules_to_json(channel.rules), cursor=cursor,
            webhook_id="wh_" + secrets.token_hex(12), created_at=now, updated_at=now))

    def change(self, channel: Channel, sealed: str | None, now: datetime) -> None:
        values: dict[str, Any] = {
            "name": channel.name, "enabled": channel.enabled, "settings": channel.settings,
            "rules": rules_to_json(channel.rules), "updated_at": now}
        if sealed is not None:
            values["credentials"] = sealed
        self.conn.execute(update(channels).where(self._where(channel.code)).values(**values))

    def resync(self, code: str) -> None:
        """Forget what the channel was told and its ids: the next round re-pushes every SKU
        from the whole log (and re-discovers ids)."""
        self.conn.execute(delete(channel_skus).where(self._sku_where(code)))
        self.advance(code, 0)

    def remove(self, code: str) -> None:
        self.conn.execute(delete(channel_skus).where(self._sku_where(code)))
        self.conn.execute(delete(channels).where(self._where(code)))

    def status(self, code: str, cursor: int, now: datetime | None = None) -> ChannelStatus:
        """Health, lag (one definition) and counts: storage/channel_health.py."""
        return channel_status(self.conn, self.tenant_id, code, cursor,
                              now or datetime.now(UTC))

    def order_cursor(self, code: str) -> tuple[str | None, datetime]:
        """Where the next order poll starts (None: never polled) and when the channel was
        created (the first poll starts there)."""
        row = self.conn.execute(select(channels.c.order_cursor, channels.c.created_at)
                                .where(self._where(code))).one()
        return row.order_cursor, row.created_at

    def record_order_poll(self, code: str, now: datetime, cursor: str | None,
                          error: str | None) -> None:
        if error is None:
            values: dict[str, Any] = {"order_cursor": cursor, "order_polled_at": now,
                                      "order_poll_error": None}
        else:
            values = {"order_poll_error": error[:2000], "order_poll_error_at": now}
        self.conn.execute(update(channels).where(self._where(code)).values(**values))

    def advance(self, code: str, cursor: int) -> None:
        self.conn.execute(update(channels).where(self._where(code)).values(cursor=cursor))

    def claim_lease(self, code: str, owner: str, now: datetime, until: datetime) -> bool:
        """One worker process runs a channel at a time; a dead one's lease runs out."""
        result = self.conn.execute(
            update(channels).where(self._where(code), or_(
                channels.c.lease_owner == owner, channels.c.lease_owner.is_(None),
                channels.c.lease_until < now))
            .values(lease_owner=owner, lease_until=until))
        return result.rowcount == 1

    def record_push(self, code: str, now: datetime, error: str | None) -> None:
        if error is None:
            values: dict[str, Any] = {"last_push_at": now, "failing_since": None}
        else:
            values = {"last_error": error[:2000], "last_error_at": now,
                      "failing_since": func.coalesce(channels.c.failing_since, now)}
        self.conn.execute(update(channels).where(self._where(code)).values(**values))

    # ---- per-SKU targets -----------------------------------------------------------------

    def targets(self, code: str, skus: Iterable[str], *,
                lock: bool = False) -> dict[str, SkuTarget]:
        query = select(channel_skus).where(self._sku_where(code),
                                           channel_skus.c.sku.in_(list(skus)))
        # SQLite has one writer at a time: FOR UPDATE is PostgreSQL's (and not rendered).
        rows = self.conn.execute(query.with_for_update() if lock else query)
        return {r.sku: sku_target(r) for r in rows}

    def pending_skus(self, code: str) -> set[str]:
        return set(self.conn.execute(select(channel_skus.c.sku).where(
            self._sku_where(code), channel_skus.c.pending_since.isnot(None))).scalars())

    def want(self, code: str, sku: str, wanted: int, sequence: int, since: datetime,
             existing: SkuTarget | None, correlation_id: str | None = None,
             reassert: bool = False) -> None:
        """Record what the channel should show. A row already pending keeps its older
        `pending_since`, so propagation latency counts from the first unpushed change."""
        if existing is None:
            self.conn.execute(insert(channel_skus).values(
                tenant_id=self.tenant_id, channel=code, sku=sku, external_ids={},
                wanted=wanted, wanted_sequence=sequence, pending_since=since, attempts=0,
                correlation_id=correlation_id))
            return
        in_sync = existing.in_sync(wanted, reassert)
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku).values(
            wanted=wanted, wanted_sequence=sequence,
            pending_since=None if in_sync else (existing.pending_since or since),
            parked_reason=None, attempts=0, next_attempt_at=None,
            correlation_id=correlation_id))

    def want_many(self, code: str, wanted: Sequence[Wanted],
                  existing: Mapping[str, SkuTarget], reassert: bool = False) -> None:
        """`want` for many SKUs in two batched statements (a projector round can change
        hundreds of SKUs; one statement each would dominate its time)."""
        new = [w for w in wanted if w.sku not in existing]
        if new:
            self.conn.execute(insert(channel_skus), [
                {"tenant_id": self.tenant_id, "channel": code, "sku": w.sku,
                 "external_ids": {}, "wanted": w.value, "wanted_sequence": w.sequence,
                 "pending_since": w.since, "attempts": 0, "correlation_id": w.correlation_id,
                 "revisions": 0} for w in new])
        changed = []
        for w in wanted:
            old = existing.get(w.sku)
            if old is None:
                continue
            in_sync = old.in_sync(w.value, reassert)
            changed.append({"k_sku": w.sku, "wanted": w.value, "wanted_sequence": w.sequence,
                            "pending_since": None if in_sync else (old.pending_since or w.since),
                            "correlation_id": w.correlation_id})
        if changed:
            self.conn.execute(
                update(channel_skus).where(
                    self._sku_where(code), channel_skus.c.sku == bindparam("k_sku"))
                .values(wanted=bindparam("wanted"), wanted_sequence=bindparam("wanted_sequence"),
                        pending_since=bindparam("pending_since"),
                        correlation_id=bindparam("correlation_id"), parked_reason=None,
                        attempts=0, next_attempt_at=None), changed)

    def acknowledge_many(self, code: str, values: Mapping[str, int], now: datetime,
                         wanted: Mapping[str, int | None],
                         moves_read: Mapping[str, int] | None = None,
                         reassert: bool = False) -> set[str]:
        """`acknowledge` for a whole push in one batched statement. `wanted` is what the
        rows wanted when read; a row whose wanted moved on meanwhile stays pending because
        the statement re-checks it. Returns the SKUs now in sync (as far as it knew).

        `moves_read` is each row's `channel_moves` when it was read for this push. Sales
        the channel made that stocksync counted while the push was in flight are kept on
        top of the acknowledged value: with compare-and-set they can only have happened
        after the set landed (else the set would have failed)."""
        if not values:
            return set()
        moves_read = moves_read or {}
        moves_after = channel_skus.c.channel_moves - bindparam("m_read")
        now_there = bindparam("value") + moves_after
        synced = channel_skus.c.wanted == now_there
        if reassert:
            synced = and_(synced, moves_after == 0)
        self.conn.execute(
            update(channel_skus).where(
                self._sku_where(code), channel_skus.c.sku == bindparam("k_sku"))
            .values(pushed=now_there, channel_moves=moves_after, pushed_at=now, sending=None,
                    unconfirmed=None, attempts=0, next_attempt_at=None,
                    pending_since=case((synced, None), else_=channel_skus.c.pending_since)),
            [{"k_sku": sku, "value": value, "m_read": moves_read.get(sku, 0)}
             for sku, value in values.items()])
        return {sku for sku, value in values.items() if wanted.get(sku) == value}

    def channel_moved(self, code: str, sku: str, delta: int, absorbed: int,
                      at: datetime | None, now: datetime, *, included: bool = False,
                      wanted_delta: int = 0) -> None:
        """The channel sold (delta < 0) or restocked (delta > 0) `sku` itself and stocksync
        counted it: the channel already shows that change, so expect it there. `absorbed`
        units of it had been accepted earlier from the channel's level notice (already in
        `pushed`), so only the rest moves the expected value. `wanted_delta`: how far the
        same transaction moved the ledger under this channel; `wanted` moves with it until
        the projector computes it again (see SkuTarget.wanted)."""
        moved = 0 if included else delta - absorbed
        values: dict[str, Any] = {
            "pushed": case((channel_skus.c.pushed.is_(None), None),
                           else_=channel_skus.c.pushed + moved),
            "wanted": self._moved_wanted(wanted_delta),
            "channel_moves": channel_skus.c.channel_moves + moved,
            "unexplained": channel_skus.c.unexplained - absorbed,
            "pending_since": func.coalesce(channel_skus.c.pending_since, now)}
        if at is not None:
            values["channel_changed_at"] = case(
                (or_(channel_skus.c.channel_changed_at.is_(None),
                     channel_skus.c.channel_changed_at < at), at),
                else_=channel_skus.c.channel_changed_at)
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku).values(**values))

    def accept_level(self, code: str, sku: str, value: int, expected: int,
                     observed_at: datetime | None, read_at: datetime | None = None, *,
                     wanted_delta: int = 0) -> bool:
        """Accept a change made in the channel that no order explains: the channel shows
        `value` where stocksync expected `expected`; an order arriving later for it is netted
        against `unexplained`. Only if the expectation still holds (one statement: the row
        lock makes a second settler of the same change find it moved): False otherwise.
        `wanted_delta`: as in `channel_moved` (the adjustment that records the change)."""
        values: dict[str, Any] = {
            "pushed": value, "channel_moves": 0, "wanted": self._moved_wanted(wanted_delta),
            "unexplained": channel_skus.c.unexplained + (value - expected),
            "level_at": read_at or observed_at or datetime.now(UTC),
            "pending_since": func.coalesce(channel_skus.c.pending_since, func.now())}
        if observed_at is not None:
            values["observed_at"] = observed_at
        done = self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku,
            channel_skus.c.pushed == expected).values(**values))
        return done.rowcount == 1

    @staticmethod
    def _moved_wanted(delta: int) -> Any:
        """`wanted` moved with the ledger until the projector computes it again."""
        wanted = channel_skus.c.wanted + delta
        return case((channel_skus.c.wanted.is_(None), None), (wanted < 0, 0), else_=wanted)

    def due(self, code: str, now: datetime, limit: int) -> list[SkuTarget]:
        rows = self.conn.execute(
            select(channel_skus).where(
                self._sku_where(code), channel_skus.c.pending_since.isnot(None),
                channel_skus.c.parked_reason.is_(None),
                or_(channel_skus.c.next_attempt_at.is_(None),
                    channel_skus.c.next_attempt_at <= now))
            .order_by(channel_skus.c.pending_since).limit(limit))
        return [sku_target(r) for r in rows]

    def mark_sending(self, code: str, values: Mapping[str, int],
                     unconfirmed: Mapping[str, Sequence[int]] | None = None) -> None:
        """Record values about to be pushed, so the channel's echo of them (a webhook that
        may arrive before the push is acknowledged) is recognised as ours; `unconfirmed`:
        each row's values of failed pushes since its last acknowledgement
        (`SkuTarget.sent_unconfirmed`)."""
        unconfirmed = unconfirmed or {}
        if values:
            self.conn.execute(update(channel_skus).where(
                self._sku_where(code), channel_skus.c.sku == bindparam("k_sku"))
                .values(sending=bindparam("value"), unconfirmed=bindparam("kept")),
                [{"k_sku": sku, "value": value, "kept": list(unconfirmed.get(sku, ())) or None}
                 for sku, value in values.items()])

    def observed(self, code: str, sku: str, value: int,
                 observed_at: datetime | None = None, read_at: datetime | None = None) -> None:
        """The channel was seen showing `value` (fetch-on-notify): remember it as the value
        it has, so the pusher compares against the truth there."""
        values: dict[str, Any] = {"pushed": value, "channel_moves": 0,
                                  "level_at": read_at or observed_at or datetime.now(UTC)}
        if observed_at is not None:
            values["observed_at"] = observed_at
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku).values(**values))
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku,
            channel_skus.c.wanted != value).values(
            pending_since=func.coalesce(channel_skus.c.pending_since, func.now())))

    def sku_for_external_id(self, code: str, field: str, external_id: str) -> str | None:
        for sku, ids in self.mapping(code).items():
            if ids.get(field) == external_id:
                return sku
        return None

    def acknowledge(self, code: str, sku: str, value: int, now: datetime) -> bool:
        """The channel now shows `value`. Returns True when that is still what is wanted."""
        where = and_(self._sku_where(code), channel_skus.c.sku == sku)
        self.conn.execute(update(channel_skus).where(where).values(
            pushed=value, pushed_at=now, sending=None, unconfirmed=None, attempts=0,
            next_attempt_at=None))
        done = self.conn.execute(update(channel_skus).where(
            where, channel_skus.c.wanted == value).values(pending_since=None))
        return done.rowcount == 1

    def count_revision(self, code: str, sku: str, now: datetime, used_before: int) -> None:
        """One more revision of the listing today (a capped channel acknowledged a push)."""
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku).values(
            revisions=used_before + 1, revisions_day=now, last_revision_at=now))

    def unpark_all(self, code: str) -> None:
        """Try every parked SKU again (the channel's credentials or settings changed)."""
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.parked_reason.isnot(None)).values(
            parked_reason=None, pending_since=func.coalesce(channel_skus.c.pending_since,
                                                            func.now())))

    def park(self, code: str, sku: str, reason: str) -> None:
        self.conn.execute(update(channel_skus).where(
            self._sku_where(code), channel_skus.c.sku == sku).values(parked_reason=reason[:2000]))

    def hold_until(self, code: str, held: Mapping[str, datetime]) -> None:
        """Not yet (a revision budget holds these back): look again at the given times."""
        for sku, at in held.items():
            self.conn.execute(update(channel_skus).where(
                self._sku_where(code), channel_skus.c.sku == sku).values(next_attempt_at=at))

    def set_external_ids(self, code: str, ids: Mapping[str, dict[str, str]]) -> None:
        """Store the channel's own ids for SKUs (two batched statements)."""
        if not ids:
            return
        known = set(self.conn.execute(select(channel_skus.c.sku).where(
            self._sku_where(code), channel_skus.c.sku.in_(list(ids)))).scalars())
        update_rows = [{"k_sku": sku, "ids": external} for sku, external in ids.items()
                       if sku in known]
        if update_rows:
            self.conn.execute(update(channel_skus).where(
                self._sku_where(code), channel_skus.c.sku == bindparam("k_sku"))
                .values(external_ids=bindparam("ids"), parked_reason=None), update_rows)
        new_rows = [{"tenant_id": self.tenant_id, "channel": code, "sku": sku,
                     "external_ids": external, "attempts": 0, "revisions": 0}
                    for sku, external in ids.items() if sku not in known]
        if new_rows:
            self.conn.execute(insert(channel_skus), new_rows)

    def page(self, code: str, after: str | None, limit: int) -> list[Any]:
        query = select(channel_skus).where(self._sku_where(code))
        if after:
            query = query.where(channel_skus.c.sku > after)
        return list(self.conn.execute(query.order_by(channel_skus.c.sku).limit(limit)))

    def revisions_today(self, code: str, now: datetime) -> dict[str, int]:
        from stocksync.core.revisions import used_today

        rows = self.conn.execute(select(channel_skus.c.sku, channel_skus.c.revisions,
                                        channel_skus.c.revisions_day)
                                 .where(self._sku_where(code), channel_skus.c.revisions > 0))
        counts = {r.sku: used_today(int(r.revisions), r.revisions_day, now) for r in rows}
        return {sku: n for sku, n in counts.items() if n}

    def mapping(self, code: str) -> dict[str, dict[str, str]]:
        rows = self.conn.execute(select(channel_skus.c.sku, channel_skus.c.external_ids)
                                 .where(self._sku_where(code)))
        return {r.sku: dict(r.external_ids) for r in rows if r.external_ids}


def channel_for_webhook(conn: Connection, webhook_id: str) -> tuple[Channel, str | None] | None:
    """The channel a webhook URL names (across tenants), with its sealed credentials."""
    row = conn.execute(select(channels).where(channels.c.webhook_id == webhook_id)).first()
    return (channel_from_row(row), row.credentials) if row else None


def enabled_channels(conn: Connection) -> list[Channel]:
    return [channel_from_row(r) for r in conn.execute(select(channels).where(channels.c.enabled))]

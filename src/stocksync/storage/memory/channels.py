"""MemoryChannels: a tenant's channels, cursors, leases and per-SKU wanted/pushed values,
each change with the conditions of storage/channels.py's statements."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from stocksync.app.records import SkuTarget, Wanted
from stocksync.core.channels import Channel, ChannelStatus
from stocksync.core.revisions import used_today
from stocksync.storage.memory.channel_rows import ChannelRow, SkuRow
from stocksync.storage.memory.channel_status import channel_status
from stocksync.storage.memory.store import Bound


def _now() -> datetime:
    return datetime.now(UTC)  # where SQL uses the database's now()


def _moved(wanted: int | None, delta: int) -> int | None:
    """`wanted` moved with the ledger until the projector computes it again (never < 0)."""
    return None if wanted is None else max(wanted + delta, 0)


class MemoryChannels(Bound):
    # ---- channel rows ----------------------------------------------------------------

    def _row(self, code: str) -> ChannelRow | None:
        found: ChannelRow | None = self.tx.read("channels").get((self.tenant_id, code))
        return found

    def _change_row(self, code: str, **values: Any) -> None:
        row = self._row(code)
        if row is not None:
            self.tx.write("channels")[(self.tenant_id, code)] = replace(row, **values)

    def get(self, code: str) -> Channel | None:
        row = self._row(code)
        return None if row is None else row.channel

    def list(self) -> list[Channel]:
        return sorted((r.channel for (t, _), r in self.tx.read("channels").items()
                       if t == self.tenant_id), key=lambda c: c.code)

    def sealed_credentials(self, code: str) -> str | None:
        row = self._row(code)
        return None if row is None else row.credentials

    def add(self, channel: Channel, sealed: str | None, cursor: int, now: datetime) -> None:
        key = (self.tenant_id, channel.code)
        if key in self.tx.read("channels"):
            raise KeyError(f"channel {channel.code} exists already")
        self.tx.write("channels")[key] = ChannelRow(replace(
            channel, tenant_id=self.tenant_id, cursor=cursor, created_at=now, updated_at=now,
            webhook_id="wh_" + secrets.token_hex(12), settings=dict(channel.settings)),
            credentials=sealed)

    def change(self, channel: Channel, sealed: str | None, now: datetime) -> None:
        row = self._row(channel.code)
        if row is None:
            return
        row = row.with_channel(name=channel.name, enabled=channel.enabled,
                               settings=dict(channel.settings), rules=channel.rules,
                               updated_at=now)
        if sealed is not None:
            row = replace(row, credentials=sealed)
        self.tx.write("channels")[(self.tenant_id, channel.code)] = row

    def resync(self, code: str) -> None:
        self._drop_skus(code)
        self.advance(code, 0)

    def remove(self, code: str) -> None:
        self._drop_skus(code)
        if self._row(code) is not None:
            del self.tx.write("channels")[(self.tenant_id, code)]

    def status(self, code: str, cursor: int, now: datetime | None = None) -> ChannelStatus:
        row = self._row(code)
        if row is None:
            raise LookupError(f"no channel {code}")
        return channel_status(self.tx, row, self._skus(code), cursor, now or _now())

    def order_cursor(self, code: str) -> tuple[str | None, datetime]:
        row = self._row(code)
        if row is None or row.channel.created_at is None:
            raise LookupError(f"no channel {code}")
        return row.order_cursor, row.channel.created_at

    def record_order_poll(self, code: str, now: datetime, cursor: str | None,
                          error: str | None) -> None:
        if error is None:
            self._change_row(code, order_cursor=cursor, order_polled_at=now,
                             order_poll_error=None)
        else:
            self._change_row(code, order_poll_error=error[:2000], order_poll_error_at=now)

    def advance(self, code: str, cursor: int) -> None:
        row = self._row(code)
        if row is not None:
            self.tx.write("channels")[(self.tenant_id, code)] = row.with_channel(cursor=cursor)

    def claim_lease(self, code: str, owner: str, now: datetime, until: datetime) -> bool:
        row = self._row(code)
        if row is None or not (row.lease_owner in (owner, None) or (
                row.lease_until is not None and row.lease_until < now)):
            return False
        self._change_row(code, lease_owner=owner, lease_until=until)
        return True

    def record_push(self, code: str, now: datetime, error: str | None) -> None:
        row = self._row(code)
        if row is None:
            return
        if error is None:
            self._change_row(code, last_push_at=now, failing_since=None)
        else:
            self._change_row(code, last_error=error[:2000], last_error_at=now,
                             failing_since=row.failing_since or now)

    # ---- per-SKU rows ----------------------------------------------------------------

    def _skus(self, code: str) -> list[SkuRow]:
        return sorted((r for (t, c, _), r in self.tx.read("channel_skus").items()
                       if t == self.tenant_id and c == code), key=lambda r: r.sku)

    def _sku(self, code: str, sku: str) -> SkuRow | None:
        found: SkuRow | None = self.tx.read("channel_skus").get((self.tenant_id, code, sku))
        return found

    def _put(self, code: str, row: SkuRow) -> None:
        self.tx.write("channel_skus")[(self.tenant_id, code, row.sku)] = row

    def _insert(self, code: str, row: SkuRow) -> None:
        if self._sku(code, row.sku) is not None:
            raise KeyError(f"{code} already has a row for {row.sku}")  # the primary key
        self._put(code, row)

    def _update(self, code: str, sku: str, change: Callable[[SkuRow], SkuRow | None]) -> bool:
        """Apply `change` to the row if there is one; it returns None when its condition
        does not hold (the UPDATE's WHERE). True when the row changed."""
        row = self._sku(code, sku)
        if row is None:
            return False
        changed = change(row)
        if changed is None:
            return False
        self._put(code, changed)
        return True

    def _drop_skus(self, code: str) -> None:
        keys = [k for k in self.tx.read("channel_skus") if k[:2] == (self.tenant_id, code)]
        if keys:
            rows = self.tx.write("channel_skus")
            for key in keys:
                del rows[key]

    def targets(self, code: str, skus: Iterable[str], *,
                lock: bool = False) -> dict[str, SkuTarget]:  # one writer at a time
        return {sku: row.target() for sku in skus if (row := self._sku(code, sku)) is not None}

    def pending_skus(self, code: str) -> set[str]:
        return {r.sku for r in self._skus(code) if r.pending_since is not None}

    def want(self, code: str, sku: str, wanted: int, sequence: int, since: datetime,
             existing: SkuTarget | None, correlation_id: str | None = None,
             reassert: bool = False) -> None:
        self.want_many(code, [Wanted(sku, wanted, sequence, since, correlation_id)],
                       {} if existing is None else {sku: existing}, reassert)

    def want_many(self, code: str, wanted: Sequence[Wanted],
                  existing: Mapping[str, SkuTarget], reassert: bool = False) -> None:
        """A row already pending keeps its older `pending_since` (latency counts from the
        first unpushed change); a row the caller read as in sync is left not pending."""
        for w in wanted:
            old = existing.get(w.sku)
            if old is None:
                self._insert(code, SkuRow(w.sku, wanted=w.value, wanted_sequence=w.sequence,
                                          pending_since=w.since,
                                          correlation_id=w.correlation_id))
                continue
            pending = None if old.in_sync(w.value, reassert) else (old.pending_since or w.since)
            self._update(code, w.sku, lambda r, w=w, pending=pending: replace(
                r, wanted=w.value, wanted_sequence=w.sequence, pending_since=pending,
                correlation_id=w.correlation_id, parked_reason=None, attempts=0,
                next_attempt_at=None))

    def acknowledge_many(self, code: str, values: Mapping[str, int], now: datetime,
                         wanted: Mapping[str, int | None],
                         moves_read: Mapping[str, int] | None = None,
                         reassert: bool = False) -> set[str]:
        """The channel's own moves counted while the push was in flight stay on top of
        the acknowledged value; a row whose wanted moved on stays pending."""
        moves_read = moves_read or {}
        for sku, value in values.items():
            def ack(r: SkuRow, value: int = value, sku: str = sku) -> SkuRow:
                moves_after = r.channel_moves - moves_read.get(sku, 0)
                now_there = value + moves_after
                synced = r.wanted == now_there and not (reassert and moves_after != 0)
                return replace(r, pushed=now_there, channel_moves=moves_after, pushed_at=now,
                               sending=None, unconfirmed=(), attempts=0, next_attempt_at=None,
                               pending_since=None if synced else r.pending_since)
            self._update(code, sku, ack)
        return {sku for sku, value in values.items() if wanted.get(sku) == value}

    def channel_moved(self, code: str, sku: str, delta: int, absorbed: int,
                      at: datetime | None, now: datetime, *, included: bool = False,
                      wanted_delta: int = 0) -> None:
        """`wanted` moves with the ledger change made in the same transaction (never below
        zero) until the projector computes it again."""
        moved = 0 if included else delta - absorbed

        def move(r: SkuRow) -> SkuRow:
            changed_at = r.channel_changed_at
            if at is not None and (changed_at is None or changed_at < at):
                changed_at = at
            return replace(r, pushed=None if r.pushed is None else r.pushed + moved,
                           wanted=_moved(r.wanted, wanted_delta),
                           channel_moves=r.channel_moves + moved,
                           unexplained=r.unexplained - absorbed,
                           pending_since=r.pending_since or now, channel_changed_at=changed_at)
        self._update(code, sku, move)

    def accept_level(self, code: str, sku: str, value: int, expected: int,
                     observed_at: datetime | None, read_at: datetime | None = None, *,
                     wanted_delta: int = 0) -> bool:
        """Only while the channel was still expected to show `expected`; `wanted_delta`
        as in `channel_moved`."""
        return self._update(code, sku, lambda r: None if r.pushed != expected else replace(
            r, pushed=value, channel_moves=0, unexplained=r.unexplained + value - expected,
            wanted=_moved(r.wanted, wanted_delta),
            level_at=read_at or observed_at or _now(),
            pending_since=r.pending_since or _now(),
            observed_at=observed_at if observed_at is not None else r.observed_at))

    def due(self, code: str, now: datetime, limit: int) -> list[SkuTarget]:
        rows = [r for r in self._skus(code) if r.pending_since is not None
                and r.parked_reason is None
                and (r.next_attempt_at is None or r.next_attempt_at <= now)]
        rows.sort(key=lambda r: (r.pending_since, r.sku))
        return [r.target() for r in rows[:limit]]

    def mark_sending(self, code: str, values: Mapping[str, int],
                     unconfirmed: Mapping[str, Sequence[int]] | None = None) -> None:
        """The values about to be pushed, and each row's values of failed pushes since its
        last acknowledgement (`SkuTarget.sent_unconfirmed`): their echoes are ours."""
        kept = unconfirmed or {}
        for sku, value in values.items():
            self._update(code, sku, lambda r, value=value, sku=sku: replace(
                r, sending=value, unconfirmed=tuple(kept.get(sku, ()))))

    def observed(self, code: str, sku: str, value: int,
                 observed_at: datetime | None = None, read_at: datetime | None = None) -> None:
        self._update(code, sku, lambda r: replace(
            r, pushed=value, channel_moves=0, level_at=read_at or observed_at or _now(),
            observed_at=observed_at if observed_at is not None else r.observed_at,
            pending_since=r.pending_since or _now()
            if r.wanted is not None and r.wanted != value else r.pending_since))

    def sku_for_external_id(self, code: str, field: str, external_id: str) -> str | None:
        return next((r.sku for r in self._skus(code) if r.external_ids.get(field) == external_id),
                    None)

    def acknowledge(self, code: str, sku: str, value: int, now: datetime) -> bool:
        row = self._sku(code, sku)
        self._update(code, sku, lambda r: replace(
            r, pushed=value, pushed_at=now, sending=None, unconfirmed=(), attempts=0,
            next_attempt_at=None, pending_since=None if r.wanted == value else r.pending_since))
        return row is not None and row.wanted == value

    def count_revision(self, code: str, sku: str, now: datetime, used_before: int) -> None:
        self._update(code, sku, lambda r: replace(
            r, revisions=used_before + 1, revisions_day=now, last_revision_at=now))

    def unpark_all(self, code: str) -> None:
        for row in self._skus(code):
            if row.parked_reason is not None:
                self._put(code, replace(row, parked_reason=None,
                                        pending_since=row.pending_since or _now()))

    def park(self, code: str, sku: str, reason: str) -> None:
        self._update(code, sku, lambda r: replace(r, parked_reason=reason[:2000]))

    def hold_until(self, code: str, held: Mapping[str, datetime]) -> None:
        for sku, at in held.items():
            self._update(code, sku, lambda r, at=at: replace(r, next_attempt_at=at))

    def set_external_ids(self, code: str, ids: Mapping[str, dict[str, str]]) -> None:
        for sku, external in ids.items():
            if not self._update(code, sku, lambda r, e=external: replace(
                    r, external_ids=dict(e), parked_reason=None)):
                self._put(code, SkuRow(sku, external_ids=dict(external)))

    def page(self, code: str, after: str | None, limit: int) -> list[Any]:
        return [r for r in self._skus(code) if not after or r.sku > after][:limit]

    def revisions_today(self, code: str, now: datetime) -> dict[str, int]:
        counts = {r.sku: used_today(r.revisions, r.revisions_day, now)
                  for r in self._skus(code) if r.revisions > 0}
        return {sku: n for sku, n in counts.items() if n}

    def mapping(self, code: str) -> dict[str, dict[str, str]]:
        return {r.sku: dict(r.external_ids) for r in self._skus(code) if r.external_ids}

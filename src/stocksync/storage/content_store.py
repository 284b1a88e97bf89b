"""SqlContentStore: content settings, per-channel overrides and per-SKU content state
(implements app.content_ports.ContentStore); each call is one short transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)

from stocksync.app.content_ports import ContentState
from stocksync.core.catalog import Item
from stocksync.core.content import (
    ChannelContent,
    ContentSettings,
    FieldMark,
    marks_from_json,
    marks_to_json,
    settings_from_json,
    to_send,
)
from stocksync.storage.catalog import _item
from stocksync.storage.engine import WRITE
from stocksync.storage.tables import channels, inbox, items
from stocksync.storage.tables_content import (
    channel_content_settings as cs,
)
from stocksync.storage.tables_content import (
    channel_content_state as st,
)
from stocksync.storage.tables_content import (
    item_channel_content as ov,
)

_CHUNK = 500  # SKUs per IN (...) list


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    vs = list(dict.fromkeys(values))
    for i in range(0, len(vs), _CHUNK):
        yield vs[i:i + _CHUNK]


def _changed_after(stmt: Select[Any], table: Table, after: tuple[datetime, str] | None,
                   limit: int) -> Select[Any]:
    """Keyset paging by (updated_at, sku): the rows changed after `after`, oldest first."""
    if after is not None:
        stmt = stmt.where(or_(table.c.updated_at > after[0], and_(
            table.c.updated_at == after[0], table.c.sku > after[1])))
    return stmt.order_by(table.c.updated_at, table.c.sku).limit(limit)


def _override(row: Any) -> ChannelContent:
    r = row._mapping
    return ChannelContent(sku=r["sku"], channel=r["channel"], title=r["title"],
                          description=r["description"], aspects=r["aspects"],
                          updated_at=r["updated_at"], source=r["source"])


def _state(row: Any) -> ContentState:
    r = row._mapping
    return ContentState(sku=r["sku"], wanted=marks_from_json(r["wanted"]),
                        channel_has=marks_from_json(r["channel_has"]),
                        pending_since=r["pending_since"], due_at=r["due_at"],
                        attempts=r["attempts"], last_error=r["last_error"],
                        refused=r["refused"], pushed_at=r["pushed_at"],
                        received_at=r["received_at"])


class SqlContentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _write(self) -> Connection:
        return self.engine.connect().execution_options(**WRITE)

    def _rows(self, table: Table, tenant_id: str, channel: str,
              skus: Iterable[str], conn: Connection | None = None) -> list[Any]:
        """`table`'s rows of these SKUs on one channel, 500 SKUs per query."""
        if conn is None:
            with self.engine.connect() as own:
                return self._rows(table, tenant_id, channel, skus, own)
        return [row for chunk in _chunks(skus) for row in conn.execute(select(table).where(
            table.c.tenant_id == tenant_id, table.c.channel == channel,
            table.c.sku.in_(chunk)))]

    # ---- settings -----------------------------------------------------------------------

    def settings(self, tenant_id: str, channel: str) -> ContentSettings | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(cs.c.settings).where(
                cs.c.tenant_id == tenant_id, cs.c.channel == channel)).first()
        return settings_from_json(row[0]) if row else None

    def put_settings(self, tenant_id: str, channel: str, settings: ContentSettings,
                     now: datetime) -> None:
        with self._write() as conn, conn.begin():
            done = conn.execute(update(cs).where(
                cs.c.tenant_id == tenant_id, cs.c.channel == channel).values(
                settings=settings.as_json(), updated_at=now)).rowcount
            if not done:  # channel edits from before content sync started are history
                seen = conn.execute(select(func.max(inbox.c.id)).where(
                    inbox.c.tenant_id == tenant_id, inbox.c.channel == channel)).scalar()
                conn.execute(insert(cs).values(tenant_id=tenant_id, channel=channel,
                                               settings=settings.as_json(), updated_at=now,
                                               inbox_after=seen or 0))
            # Settings changed: every SKU is projected again (sends only what differs).
            conn.execute(update(cs).where(cs.c.tenant_id == tenant_id,
                                          cs.c.channel == channel).values(projected_until=None))
            conn.execute(update(st).where(st.c.tenant_id == tenant_id,
                                          st.c.channel == channel).values(refused=None))

    def syncing(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [(r.tenant_id, r.channel) for r in conn.execute(
                select(cs.c.tenant_id, cs.c.channel))]

    def deliveries(self, tenant_id: str, channel: str, topic: str,
                   limit: int) -> list[tuple[int, bytes]]:
        """Stored webhook deliveries of `topic` after the content cursor: (id, body)."""
        with self.engine.connect() as conn:
            after = conn.execute(select(cs.c.inbox_after).where(
                cs.c.tenant_id == tenant_id, cs.c.channel == channel)).scalar() or 0
            return [(r.id, bytes(r.body)) for r in conn.execute(
                select(inbox.c.id, inbox.c.body).where(
                    inbox.c.tenant_id == tenant_id, inbox.c.channel == channel,
                    inbox.c.topic == topic, inbox.c.id > after)
                .order_by(inbox.c.id).limit(limit))]

    def read_deliveries(self, tenant_id: str, channel: str, up_to: int) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(update(cs).where(cs.c.tenant_id == tenant_id, cs.c.channel == channel,
                                          cs.c.inbox_after < up_to).values(inbox_after=up_to))

    def projected_until(self, tenant_id: str, channel: str) -> datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(select(cs.c.projected_until).where(  # type: ignore[no-any-return]
                cs.c.tenant_id == tenant_id, cs.c.channel == channel)).scalar()

    def advance(self, tenant_id: str, channel: str, until: datetime) -> None:
        with self._write() as conn, conn.begin():
            conn.execute(update(cs).where(cs.c.tenant_id == tenant_id,
                                          cs.c.channel == channel).values(
                projected_until=until))

    # ---- overrides ----------------------------------------------------------------------

    def override(self, tenant_id: str, channel: str, sku: str) -> ChannelContent | None:
        return self.overrides(tenant_id, channel, [sku]).get(sku)

    def overrides(self, tenant_id: str, channel: str,
                  skus: Iterable[str]) -> dict[str, ChannelContent]:
        return {r.sku: _override(r) for r in self._rows(ov, tenant_id, channel, skus)}

    def put_override(self, tenant_id: str, content: ChannelContent) -> None:
        values = {"title": content.title, "description": content.description,
                  "aspects": content.aspects, "updated_at": content.updated_at,
                  "source": content.source}
        with self._write() as conn, conn.begin():
            done = conn.execute(update(ov).where(
                ov.c.tenant_id == tenant_id, ov.c.channel == content.channel,
                ov.c.sku == content.sku).values(**values)).rowcount
            if not done:
                conn.execute(insert(ov).values(tenant_id=tenant_id, channel=content.channel,
                                               sku=content.sku, **values))

    def changed_overrides(self, tenant_id: str, channel: str,
                          after: tuple[datetime, str] | None,
                          limit: int) -> list[ChannelContent]:
        stmt = select(ov).where(ov.c.tenant_id == tenant_id, ov.c.channel == channel)
        with self.engine.connect() as conn:
            return [_override(r) for r in conn.execute(_changed_after(stmt, ov, after, limit))]

    # ---- catalog ------------------------------------------------------------------------

    def item(self, tenant_id: str, sku: str) -> Item | None:
        return self.items(tenant_id, [sku]).get(sku)

    def items(self, tenant_id: str, skus: Iterable[str]) -> dict[str, Item]:
        out: dict[str, Item] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(skus):
                for row in conn.execute(select(items).where(
                        items.c.tenant_id == tenant_id, items.c.sku.in_(chunk))):
                    out[row.sku] = _item(row)
        return out

    def changed_items(self, tenant_id: str, after: tuple[datetime, str] | None,
                      limit: int) -> list[Item]:
        """Items changed after `after` (updated_at, sku), oldest change first."""
        stmt = select(items).where(items.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [_item(r) for r in conn.execute(_changed_after(stmt, items, after, limit))]

    def lease(self, tenant_id: str, channel: str) -> tuple[str | None, datetime | None]:
        with self.engine.connect() as conn:
            row = conn.execute(select(channels.c.lease_owner, channels.c.lease_until).where(
                channels.c.tenant_id == tenant_id, channels.c.code == channel)).first()
        return (row[0], row[1]) if row else (None, None)

    def channel_exists(self, tenant_id: str, channel: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(channels.c.code).where(
                channels.c.tenant_id == tenant_id,
                channels.c.code == channel)).first() is not None

    # ---- state per SKU ------------------------------------------------------------------

    def states(self, tenant_id: str, channel: str,
               skus: Iterable[str]) -> dict[str, ContentState]:
        return {r.sku: _state(r) for r in self._rows(st, tenant_id, channel, skus)}

    page = states

    def save_wanted(self, tenant_id: str, channel: str,
                    rows: Mapping[str, tuple[dict[str, FieldMark], datetime | None]],
                    now: datetime) -> None:
        if not rows:
            return
        with self._write() as conn, conn.begin():
            known = {r.sku for r in self._rows(st, tenant_id, channel, rows, conn)}
            for sku, (wanted, due) in rows.items():
                values: dict[str, Any] = {"wanted": marks_to_json(wanted), "due_at": due}
                if sku in known:
                    # pending_since keeps the oldest unsent change; a new change is tried
                    # again even after a refusal (the refusal may be what it fixes).
                    conn.execute(update(st).where(
                        st.c.tenant_id == tenant_id, st.c.channel == channel,
                        st.c.sku == sku).values(
                        **values, refused=None, attempts=0, last_error=None,
                        **({"pending_since": None} if due is None else {})))
                    if due is not None:
                        conn.execute(update(st).where(
                            st.c.tenant_id == tenant_id, st.c.channel == channel,
                            st.c.sku == sku, st.c.pending_since.is_(None)).values(
                            pending_since=now))
                else:
                    conn.execute(insert(st).values(
                        tenant_id=tenant_id, channel=channel, sku=sku, channel_has={},
                        pending_since=None if due is None else now, **values))

    def due(self, tenant_id: str, channel: str, now: datetime,
            limit: int) -> list[ContentState]:
        with self.engine.connect() as conn:
            return [_state(r) for r in conn.execute(select(st).where(
                st.c.tenant_id == tenant_id, st.c.channel == channel,
                st.c.due_at <= now, st.c.refused.is_(None)).order_by(
                st.c.due_at, st.c.sku).limit(limit))]

    def acknowledge(self, tenant_id: str, channel: str,
                    sent: Mapping[str, dict[str, FieldMark]], now: datetime) -> None:
        self._merge_has(tenant_id, channel, sent, now, pushed=True)

    def channel_edit(self, tenant_id: str, channel: str, sku: str,
                     marks: Mapping[str, FieldMark], now: datetime) -> None:
        self._merge_has(tenant_id, channel, {sku: dict(marks)}, now, pushed=False)

    def _merge_has(self, tenant_id: str, channel: str,
                   per_sku: Mapping[str, dict[str, FieldMark]], now: datetime,
                   pushed: bool) -> None:
        with self._write() as conn, conn.begin():
            current = {r.sku: _state(r)
                       for r in self._rows(st, tenant_id, channel, per_sku, conn)}
            for sku, marks in per_sku.items():
                state = current.get(sku)
                has = {**(state.channel_has if state else {}), **marks}
                wanted = state.wanted if state else {}
                settled = not to_send(wanted, has)
                values: dict[str, Any] = {"channel_has": marks_to_json(has)}
                if pushed:
                    values |= {"pushed_at": now, "attempts": 0, "last_error": None}
                else:
                    values["received_at"] = now
                if settled:
                    values |= {"pending_since": None, "due_at": None}
                elif not pushed:  # an older channel edit: stocksync's value goes back
                    values |= {"due_at": now, "pending_since": (
                        state.pending_since if state and state.pending_since else now)}
                if state is None:
                    conn.execute(insert(st).values(tenant_id=tenant_id, channel=channel,
                                                   sku=sku, wanted={}, **values))
                else:
                    conn.execute(update(st).where(
                        st.c.tenant_id == tenant_id, st.c.channel == channel,
                        st.c.sku == sku).values(**values))

    def failed(self, tenant_id: str, channel: str, skus: Iterable[str], error: str,
               retry_at: datetime) -> None:
        with self._write() as conn, conn.begin():
            for chunk in _chunks(skus):
                conn.execute(update(st).where(
                    st.c.tenant_id == tenant_id, st.c.channel == channel,
                    st.c.sku.in_(chunk)).values(
                    attempts=st.c.attempts + 1, last_error=error[:2000], due_at=retry_at))

    def refuse(self, tenant_id: str, channel: str, reasons: Mapping[str, str],
               now: datetime) -> None:
        with self._write() as conn, conn.begin():
            for sku, reason in reasons.items():
                conn.execute(update(st).where(
                    st.c.tenant_id == tenant_id, st.c.channel == channel,
                    st.c.sku == sku).values(refused=reason[:2000], last_error=reason[:2000]))

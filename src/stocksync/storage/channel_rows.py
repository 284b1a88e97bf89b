"""Channel rows and per-SKU targets as plain values, and their JSON/row mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from stocksync.core.channel_rules import ChannelRules, ExternalChanges
from stocksync.core.channels import Channel, ChannelKind


def rules_to_json(rules: ChannelRules) -> dict[str, Any]:
    data = asdict(rules)
    data["locations"] = list(rules.locations)
    data["include"] = list(rules.include)
    data["exclude"] = list(rules.exclude)
    data["external_changes"] = rules.external_changes.value
    return data


def rules_from_json(data: Mapping[str, Any]) -> ChannelRules:
    return ChannelRules(
        locations=tuple(data.get("locations", ())),
        safety_buffer=int(data.get("safety_buffer", 0)),
        allocation_percent=int(data.get("allocation_percent", 100)),
        max_quantity=data.get("max_quantity"),
        include=tuple(data.get("include", ())), exclude=tuple(data.get("exclude", ())),
        external_changes=ExternalChanges(data.get("external_changes", "overwrite")),
    )


def channel_from_row(row: Any) -> Channel:
    r = row._mapping
    return Channel(tenant_id=r["tenant_id"], code=r["code"], kind=ChannelKind(r["kind"]),
                   name=r["name"], rules=rules_from_json(r["rules"]),
                   settings=dict(r["settings"] or {}), enabled=bool(r["enabled"]),
                   cursor=int(r["cursor"]), updated_at=r["updated_at"],
                   webhook_id=r["webhook_id"], created_at=r["created_at"])


@dataclass(frozen=True, slots=True)
class Wanted:
    sku: str
    value: int
    sequence: int
    since: datetime
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class SkuTarget:
    sku: str
    wanted: int | None  # None: known to the channel (mapping) but never projected yet
    pushed: int | None
    pending_since: datetime | None
    external_ids: dict[str, str]
    sending: int | None = None
    observed_at: datetime | None = None
    correlation_id: str | None = None
    revisions: int = 0
    revisions_day: datetime | None = None
    last_revision_at: datetime | None = None
    channel_moves: int = 0  # the channel's own sales/restocks counted since the last ack
    unexplained: int = 0  # accepted level changes no order has explained yet
    channel_changed_at: datetime | None = None  # newest own change of the channel counted
    level_at: datetime | None = None  # when `pushed` was last read from the channel

    @property
    def last_set(self) -> int | None:
        """The value stocksync last set (or saw) before the channel's own moves."""
        return None if self.pushed is None else self.pushed - self.channel_moves

    def ours(self) -> frozenset[int]:
        """The values the channel can show because of stocksync's own sets: the expected,
        wanted and in-flight ones, and every value between our last set and the expected
        one. The channel's own sales counted since that set may each have come before it
        landed (erased, until the set is made again) or after it, so any mix can show."""
        values = {v for v in (self.pushed, self.wanted, self.sending) if v is not None}
        if self.pushed is not None and self.channel_moves:
            low, high = sorted((self.pushed, self.pushed - self.channel_moves))
            values.update(range(low, high + 1))
        return frozenset(values)

    def in_sync(self, wanted: int | None, reassert: bool) -> bool:
        """Nothing to push: the channel shows `wanted`. With `reassert` (platforms without
        compare-and-set), a channel that sold since our last set is pushed again anyway,
        because our absolute set may have landed after that sale and erased it."""
        return self.pushed == wanted and not (reassert and self.channel_moves)


def sku_target(r: Any) -> SkuTarget:
    return SkuTarget(sku=r.sku, wanted=None if r.wanted is None else int(r.wanted),
                     pushed=None if r.pushed is None else int(r.pushed),
                     pending_since=r.pending_since, external_ids=dict(r.external_ids or {}),
                     sending=None if r.sending is None else int(r.sending),
                     observed_at=r.observed_at, correlation_id=r.correlation_id,
                     revisions=int(r.revisions or 0), revisions_day=r.revisions_day,
                     last_revision_at=r.last_revision_at,
                     channel_moves=int(r.channel_moves or 0),
                     unexplained=int(r.unexplained or 0),
                     channel_changed_at=r.channel_changed_at, level_at=r.level_at)

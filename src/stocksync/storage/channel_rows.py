"""Channel rows and per-SKU targets as plain values, and their JSON/row mapping."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from stocksync.app.records import SkuTarget
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


def sku_target(r: Any) -> SkuTarget:
    return SkuTarget(sku=r.sku, wanted=None if r.wanted is None else int(r.wanted),
                     pushed=None if r.pushed is None else int(r.pushed),
                     pending_since=r.pending_since, external_ids=dict(r.external_ids or {}),
                     sending=None if r.sending is None else int(r.sending),
                     unconfirmed=tuple(int(v) for v in r.unconfirmed or ()),
                     observed_at=r.observed_at, correlation_id=r.correlation_id,
                     revisions=int(r.revisions or 0), revisions_day=r.revisions_day,
                     last_revision_at=r.last_revision_at,
                     channel_moves=int(r.channel_moves or 0),
                     unexplained=int(r.unexplained or 0),
                     channel_changed_at=r.channel_changed_at, level_at=r.level_at)

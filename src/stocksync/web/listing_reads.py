"""What the listings pages need beyond the /v1/listings routes: how many pending drafts a
filter covers (the approve-all button says it), the channels a draft can be written for,
and an image suggestion turned into the item's new content (sent through PUT /v1/items)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from stocksync.api.schemas import ItemIn, ItemOut
from stocksync.app.service import Stocksync
from stocksync.core.errors import InvalidInput
from stocksync.listings.attributes import CORE
from stocksync.listings.service import targets
from stocksync.storage.tables_listings import listing_drafts

# Suggestions that are fields of the item itself; every other attribute (pattern,
# neckline, sleeve length) lives in the item's free-form attributes under this name.
ITEM_FIELDS = ("colour", "material", "garment_type")
ATTRIBUTE_NAMES = {"pattern": "Pattern", "neckline": "Neckline",
                   "sleeve_length": "Sleeve Length", "fit": "Fit", "style": "Style"}
OUTCOMES = {"rules": "rules", "llm_accepted": "LLM accepted",
            "llm_repaired": "LLM repaired", "fallback": "fallback"}


def pending_count(svc: Stocksync, tenant_id: str, sku: str | None,
                  channel: str | None) -> int:
    where = [listing_drafts.c.tenant_id == tenant_id, listing_drafts.c.status == "pending"]
    if sku:
        where.append(listing_drafts.c.sku == sku)
    if channel:
        where.append(listing_drafts.c.channel == channel)
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(listing_drafts)
                                .where(*where)).scalar_one())


def listing_channels(svc: Stocksync, tenant_id: str) -> list[tuple[str, str]]:
    """(code, kind) of every channel that takes listings; none yet is not an error here."""
    try:
        return targets(svc, tenant_id, None)
    except InvalidInput:
        return []


def missing_core(components: dict[str, Any] | list[str]) -> list[str]:
    """The seed's four core components a title lacks (shown beside those found)."""
    return [c for c in CORE if c not in components]


def _key(name: str) -> str:
    return re.sub(r"[\s_-]+", "_", name.strip().lower())


def with_suggestion(item: ItemOut, attribute: str, value: str) -> ItemIn:
    """The item as it is, with the suggested value in place: an item field (colour,
    material, garment type) or the free-form attribute of that name (an existing key
    spelled `sleeve-length` or `Sleeve Length` is replaced, not duplicated)."""
    value = value.strip()
    if not value:
        raise InvalidInput("the suggestion has no value", field="value")
    body = {k: v for k, v in item.model_dump(mode="json").items() if k in ItemIn.model_fields}
    if attribute in ITEM_FIELDS:
        body[attribute] = value
    elif attribute in ATTRIBUTE_NAMES:
        attrs = {k: v for k, v in (body.get("attributes") or {}).items()
                 if _key(k) != attribute}
        attrs[ATTRIBUTE_NAMES[attribute]] = value
        body["attributes"] = attrs
    else:
        raise InvalidInput(f"{attribute} is not an attribute a suggestion can set",
                           field="attribute")
    return ItemIn.model_validate(body)


def merchant_value(item: ItemOut, attribute: str) -> str | None:
    """What the merchant has now for the attribute, shown beside the suggestion."""
    if attribute in ITEM_FIELDS:
        found: str | None = getattr(item, attribute)
        return found
    return next((str(v) for k, v in item.attributes.items() if _key(k) == attribute), None)

"""What a listing is built from: an item's attributes, and a tenant's word rules.
Pure data (no I/O), so the title builder and its checks are plain functions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

from stocksync.listings.vocabulary import DEFAULT_FLUFF, DEFAULT_PREFERRED, norm

# The seed's order: Brand + Gender + Material + Garment Type + Vital Attributes.
CORE = ("brand", "gender", "material", "garment_type")
VITALS = ("size", "colour", "fit", "style", "pattern")
COMPONENTS = CORE + VITALS
# Item attributes (free-form keys) read as vitals or as eBay aspects.
EXTRA_KEYS = ("fit", "style", "pattern", "neckline", "sleeve_length", "closure", "season",
              "occasion")


@dataclass(frozen=True, slots=True)
class ListingAttributes:
    """One item's facts, as the merchant keeps them. Empty means unknown."""

    sku: str
    brand: str | None = None
    gender: str | None = None
    material: str | None = None
    garment_type: str | None = None
    size: str | None = None
    colour: str | None = None
    fit: str | None = None
    style: str | None = None
    pattern: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)  # neckline, sleeve_length, ...

    def value(self, component: str) -> str | None:
        raw: str | None = getattr(self, component)
        return raw.strip() if raw and raw.strip() else None

    def known(self) -> dict[str, str]:
        """Every known component and extra attribute (for prompts and aspects)."""
        found = {c: v for c in COMPONENTS if (v := self.value(c))}
        found.update({k: v.strip() for k, v in self.extra.items() if v and v.strip()})
        return found


def _key(name: str) -> str:
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def from_item(sku: str, *, brand: str | None, gender: str | None, material: str | None,
              garment_type: str | None, size: str | None, colour: str | None,
              attributes: Mapping[str, str]) -> ListingAttributes:
    """An item's fields plus the vitals and extras kept in its free-form attributes
    (`Fit`, `sleeve length`, `Sleeve-Length` all name one attribute)."""
    named = {_key(k): str(v) for k, v in attributes.items() if v is not None}
    if not colour:
        colour = named.get("color") or named.get("colour")
    return ListingAttributes(
        sku=sku, brand=brand, gender=gender, material=material, garment_type=garment_type,
        size=size, colour=colour, fit=named.get("fit"), style=named.get("style"),
        pattern=named.get("pattern"),
        extra={k: named[k] for k in EXTRA_KEYS[3:] if named.get(k)})


@dataclass(frozen=True)
class WordRules:
    """A tenant's banned (fluff) words and preferred terms (synonym -> the term buyers
    search for), merged over the defaults. (No slots: the derived lookups below are
    computed once per rules object, which a catalog job reuses for every item.)"""

    banned: frozenset[str] = DEFAULT_FLUFF
    preferred: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_PREFERRED))

    @cached_property
    def banned_words(self) -> frozenset[str]:
        return frozenset(b for b in self.banned if " " not in b)

    @cached_property
    def banned_phrases(self) -> tuple[tuple[str, ...], ...]:
        return tuple(sorted(tuple(b.split()) for b in self.banned if " " in b))

    @cached_property
    def phrases(self) -> dict[tuple[str, str], list[str]]:
        """Memo of titles.phrase for these rules: (component, value) -> its words."""
        return {}

    @cached_property
    def _terms(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.preferred.items()}

    @cached_property
    def _synonyms(self) -> re.Pattern[str] | None:
        # One alternation, longest first, so "hooded sweatshirt" wins over "sweatshirt".
        ordered = sorted(self._terms, key=lambda s: (-len(s), s))
        if not ordered:
            return None
        return re.compile(r"(?<![\w-])(?:" + "|".join(map(re.escape, ordered)) +
                          r")(?![\w-])", re.IGNORECASE)

    def prefer(self, text: str) -> str:
        """Synonyms replaced by the buyers' term, whole words and phrases."""
        pattern = self._synonyms
        if pattern is None:
            return text
        return pattern.sub(lambda m: self._terms[m.group(0).lower()], text)

    @classmethod
    def for_tenant(cls, banned: list[str] | None = None,
                   preferred: Mapping[str, str] | None = None,
                   allowed: list[str] | None = None) -> WordRules:
        """Defaults plus the tenant's own; `allowed` takes default fluff words back out
        (a brand of that name, a style the merchant means)."""
        words = {w.strip().lower() for w in DEFAULT_FLUFF | set(banned or ()) if w.strip()}
        words -= {w.strip().lower() for w in allowed or ()}
        terms = dict(DEFAULT_PREFERRED)
        terms.update({k.strip().lower(): v.strip() for k, v in (preferred or {}).items()
                      if k.strip() and v.strip()})
        return cls(frozenset(words), terms)

    def banned_in(self, text: str) -> list[str]:
        """The banned words and phrases `text` contains, whole words only."""
        words = [norm(w) for w in text.split()]
        found = [b for b in set(words) & self.banned_words]
        if self.banned_phrases:
            joined = f" {' '.join(words)} "
            found += [" ".join(p) for p in self.banned_phrases if f" {' '.join(p)} " in joined]
        return sorted(found)

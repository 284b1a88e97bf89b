"""The offline title builder: Brand + Gender + Material + Garment Type + Vital Attributes
(size, colour, fit, style, pattern), fitted to a channel's limit by dropping the least
important words. Never cuts a word, never repeats one, deterministic."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stocksync.listings.attributes import COMPONENTS, VITALS, ListingAttributes, WordRules
from stocksync.listings.vocabulary import GENDER_TERMS, norm

# The order words go when a title is too long: the optional vitals (pattern, style, fit),
# then the modifiers of material and garment type (their last word, the noun buyers search
# for, stays: "100% Organic Cotton" keeps "Cotton"), then colour and size, then gender,
# material, garment type. The brand goes last, its first word very last.
OPTIONAL_VITALS = ("pattern", "style", "fit")
MAIN_VITALS = ("colour", "size")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    component: str


@dataclass(frozen=True, slots=True)
class BuiltTitle:
    title: str
    limit: int
    components: dict[str, str]  # component -> the words of it the title carries
    dropped: dict[str, str]  # component -> words left out (to fit, or repeated)
    warnings: tuple[str, ...]

    @property
    def length(self) -> int:
        return len(self.title)

    @property
    def has_five_components(self) -> bool:
        """Brand, gender, material, garment type and at least one vital attribute."""
        core = all(c in self.components for c in ("brand", "gender", "material",
                                                  "garment_type"))
        return core and any(v in self.components for v in VITALS)


def apply_preferred(text: str, rules: WordRules) -> str:
    """Replace synonyms by the buyers' term, whole words and phrases, longest first."""
    return rules.prefer(text)


def _capitalise(word: str) -> str:
    # Merchant casing is kept (XL, McQueen, iPhone); only all-lower words are capitalised.
    return word[:1].upper() + word[1:] if word.islower() else word


PHRASE_MEMO = 50_000  # entries per rules object, then it starts again


def phrase(component: str, value: str, rules: WordRules) -> list[str]:
    """The words one component contributes, after preferred terms and fluff removal."""
    memo = rules.phrases
    found = memo.get((component, value))
    if found is None:
        if len(memo) >= PHRASE_MEMO:
            memo.clear()
        found = memo[(component, value)] = _phrase(component, value, rules)
    return list(found)


def _phrase(component: str, value: str, rules: WordRules) -> list[str]:
    text = _SPACE.sub(" ", value).strip()
    if component == "gender":
        term = GENDER_TERMS.get(norm(text))
        text = term[0] if term else text
    elif component != "brand":  # the brand is the merchant's name for it, kept as is
        text = rules.prefer(text)
    words = [w for w in text.split() if w.strip()]
    if component != "brand":
        words = _without_banned(words, rules)
    if component == "size" and words and norm(words[0]) != "size":
        words = ["Size", *words]
    if component == "fit" and words and norm(words[-1]) != "fit":
        words = [*words, "Fit"]
    if component == "brand":
        return words
    return [_capitalise(w) for w in words]


def _without_banned(words: list[str], rules: WordRules) -> list[str]:
    normed = [norm(w) for w in words]
    drop = {i for i, w in enumerate(normed) if w in rules.banned_words}
    for parts in rules.banned_phrases:
        for i in range(len(normed) - len(parts) + 1):
            if tuple(normed[i:i + len(parts)]) == parts:
                drop.update(range(i, i + len(parts)))
    return [w for i, w in enumerate(words) if i not in drop]


def build_title(attrs: ListingAttributes, limit: int, rules: WordRules) -> BuiltTitle:
    """The rules' title for one channel. Every word comes whole from the item's data."""
    words: list[Word] = []
    seen: set[str] = set()
    dropped: dict[str, list[str]] = {}
    warnings: list[str] = []
    for component in COMPONENTS:
        value = attrs.value(component)
        if value is None:
            continue
        if component != "brand" and (found := rules.banned_in(value)):
            warnings.append(f"{component}: removed {', '.join(found)} (banned word)")
        for text in phrase(component, value, rules):
            key = norm(text)
            if not key or key in seen:  # never repeat a word (Cotton Cotton Shirt)
                dropped.setdefault(component, []).append(text)
                continue
            seen.add(key)
            words.append(Word(text, component))
    if attrs.value("brand") is None:
        warnings.append("no brand: the title cannot start with one")
    for component in ("gender", "material", "garment_type"):
        if attrs.value(component) is None:
            warnings.append(f"no {component.replace('_', ' ')}")
    fitted, cut = fit(words, limit)
    for word in cut:
        dropped.setdefault(word.component, []).append(word.text)
    if cut:
        names = sorted({w.component for w in cut}, key=COMPONENTS.index)
        warnings.append(f"left out to fit {limit} characters: {', '.join(names)}")
    if not fitted:
        warnings.append(f"no word fits in {limit} characters")
    components: dict[str, list[str]] = {}
    for word in fitted:
        components.setdefault(word.component, []).append(word.text)
    return BuiltTitle(title=" ".join(w.text for w in fitted), limit=limit,
                      components={k: " ".join(v) for k, v in components.items()},
                      dropped={k: " ".join(v) for k, v in dropped.items()},
                      warnings=tuple(warnings))


def _length(words: list[Word]) -> int:
    return sum(len(w.text) for w in words) + max(len(words) - 1, 0)


def fit(words: list[Word], limit: int) -> tuple[list[Word], list[Word]]:
    """Drop whole words, least important first, until the title fits `limit`."""
    kept = list(words)
    cut: list[Word] = []
    for group in _drop_sequence(words):
        if _length(kept) <= limit:
            break
        for victim in group:
            kept.remove(victim)
            cut.append(victim)
    return kept, cut


def _drop_sequence(words: list[Word]) -> list[list[Word]]:
    """Groups of words in the order they would be dropped (the brand's first word last).
    A vital goes whole: "Size" without its "M" would say nothing."""
    by: dict[str, list[Word]] = {}
    for word in words:
        by.setdefault(word.component, []).append(word)
    material, garment = by.get("material", []), by.get("garment_type", [])
    gender, brand = by.get("gender", []), by.get("brand", [])
    order: list[list[Word]] = [by[c] for c in OPTIONAL_VITALS if c in by]
    order += [[w] for w in material[:-1] + garment[:-1]]
    order += [by[c] for c in MAIN_VITALS if c in by]
    order += [[w] for w in reversed(gender)]
    order += [[w] for w in material[-1:] + garment[-1:]]
    order += [[w] for w in reversed(brand[1:])] + [[w] for w in brand[:1]]
    return order

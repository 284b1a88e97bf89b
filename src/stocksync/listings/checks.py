"""The rules every title must pass, whoever wrote it (the builder, a model, a merchant):
length, brand present, required components present, no banned words, no invented
attributes, no repeated words. Pure functions."""

from __future__ import annotations

from dataclasses import dataclass

from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.titles import phrase
from stocksync.listings.vocabulary import GENDER_TERMS, VOCABULARY, norm

REQUIRED = ("brand", "gender", "material", "garment_type")


@dataclass(frozen=True, slots=True)
class Problem:
    code: str  # too_long, empty, brand_missing, brand_not_first, component_missing,
    # banned_word, invented_attribute, repeated_word
    message: str
    word: str | None = None


def item_words(attrs: ListingAttributes, rules: WordRules) -> set[str]:
    """Every word the item's own data gives a title (raw values, buyers' terms and the
    builder's formatting), normalised: what a title may say without inventing."""
    words: set[str] = set()
    for name, value in attrs.known().items():
        words.update(norm(w) for w in value.split())
        if name in ("brand", "gender", "material", "garment_type", "size", "colour", "fit",
                    "style", "pattern"):
            words.update(norm(w) for w in phrase(name, value, rules))
    gender = attrs.value("gender")
    if gender and (term := GENDER_TERMS.get(norm(gender))):
        # every way of writing the same gender: men, mens, men's, male
        words.update(norm(k) for k, v in GENDER_TERMS.items() if v == term)
        words.update(norm(w) for w in term[1].split())
    return words


def _present(component: str, attrs: ListingAttributes, title_words: set[str],
             rules: WordRules) -> bool:
    value = attrs.value(component)
    if value is None:
        return True
    if component == "gender":
        term = GENDER_TERMS.get(norm(value))
        if term is None:
            return all(norm(w) in title_words for w in value.split())
        return any(norm(k) in title_words for k, v in GENDER_TERMS.items() if v == term)
    built = [norm(w) for w in phrase(component, value, rules)]
    raw = [norm(w) for w in value.split()]
    if component == "brand":
        return all(w in title_words for w in raw)
    # material and garment type: their noun (last word), as written or as buyers say it
    return any(ws and ws[-1] in title_words for ws in (built, raw))


def check_title(title: str, attrs: ListingAttributes, limit: int,
                rules: WordRules) -> list[Problem]:
    """Every rule `title` breaks for this item and channel limit (empty: it passes)."""
    problems: list[Problem] = []
    words = title.split()
    if not words:
        return [Problem("empty", "the title is empty")]
    if len(title) > limit:
        problems.append(Problem("too_long", f"{len(title)} characters, over {limit}"))
    normed = [norm(w) for w in words]
    title_words = set(normed)
    brand = attrs.value("brand")
    for component in REQUIRED:
        if not _present(component, attrs, title_words, rules):
            code = "brand_missing" if component == "brand" else "component_missing"
            problems.append(Problem(code, f"{component.replace('_', ' ')} "
                                    f"{attrs.value(component)!r} is not in the title",
                                    attrs.value(component)))
    if brand and _present("brand", attrs, title_words, rules) \
            and normed[0] != norm(brand.split()[0]):
        problems.append(Problem("brand_not_first", f"the title does not start with {brand!r}"))
    brand_words = {norm(w) for w in brand.split()} if brand else set()
    for banned in rules.banned_in(title):
        if banned not in brand_words:
            problems.append(Problem("banned_word", f"{banned!r} is a banned word", banned))
    known = item_words(attrs, rules)
    for word in dict.fromkeys(normed):
        kind = next((k for k, vocab in VOCABULARY.items() if word in vocab), None)
        if kind and word not in known:
            problems.append(Problem("invented_attribute", f"{word!r} ({kind.replace('_', ' ')})"
                                    " is not in the item's data", word))
    repeated = sorted({w for w in normed if normed.count(w) > 1 and w})
    for word in repeated:
        problems.append(Problem("repeated_word", f"{word!r} appears more than once", word))
    return problems


def components_in(title: str, attrs: ListingAttributes, rules: WordRules) -> dict[str, str]:
    """The item's components a title carries (core ones by their noun, vitals whole)."""
    title_words = {norm(w) for w in title.split()}
    found: dict[str, str] = {}
    for component, value in attrs.known().items():
        if component in REQUIRED:
            if _present(component, attrs, title_words, rules):
                found[component] = value
        elif component in ("size", "colour", "fit", "style", "pattern"):
            words = [norm(w) for w in phrase(component, value, rules)]
            words = [w for w in words if w not in ("size", "fit")] or words
            if words and all(w in title_words for w in words):
                found[component] = value
    return found

"""One draft for one item and channel: the rules' title, or the model's answer once the
rules have checked it (accepted as is, repaired, or replaced by the rules' title with the
reason kept). No item is ever left without a title the rules accept."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from stocksync.listings.aspects import ebay_aspects, short_description
from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.checks import REQUIRED, Problem, check_title, components_in
from stocksync.listings.llm import ListingModel, ModelUnavailable
from stocksync.listings.titles import build_title, phrase
from stocksync.listings.vocabulary import norm

# What a repair may fix; anything else (a missing gender, material or garment type) means
# the model's title is replaced by the rules' one.
REPAIRABLE = frozenset({"too_long", "brand_missing", "brand_not_first", "banned_word",
                        "invented_attribute", "repeated_word"})


class Outcome(StrEnum):
    RULES = "rules"  # no model asked: the rules' title
    LLM_ACCEPTED = "llm_accepted"  # the model's title passed every rule
    LLM_REPAIRED = "llm_repaired"  # the model's title, fixed by the rules
    FALLBACK = "fallback"  # the model failed or its title could not be fixed


@dataclass(frozen=True, slots=True)
class Draft:
    sku: str
    channel: str
    channel_kind: str
    title: str
    limit: int
    outcome: Outcome
    components: dict[str, str]
    warnings: tuple[str, ...]
    aspects: dict[str, list[str]]
    description: str
    reason: str | None = None  # why the model's answer was repaired or replaced
    model_title: str | None = None  # what the model answered, kept for review
    problems: tuple[str, ...] = field(default=())  # rules the final title still breaks

    @property
    def length(self) -> int:
        return len(self.title)


def _describe(problems: list[Problem]) -> str:
    return "; ".join(p.message for p in problems)


def repair(answer: str, attrs: ListingAttributes, limit: int,
           rules: WordRules) -> tuple[str, list[Problem]]:
    """The model's title with what the rules can fix fixed: banned, invented and repeated
    words out, the brand put first, then words that are no required component dropped
    from the end until it fits. Returns the title and what it still breaks."""
    problems = check_title(answer, attrs, limit, rules)
    bad = {p.word for p in problems if p.code in ("banned_word", "invented_attribute")}
    banned_phrases = [b.split() for b in bad if b and " " in b]
    words = answer.split()
    normed = [norm(w) for w in words]
    drop = {i for i, w in enumerate(normed) if w in bad}
    for parts in banned_phrases:
        for i in range(len(normed) - len(parts) + 1):
            if normed[i:i + len(parts)] == parts:
                drop.update(range(i, i + len(parts)))
    kept: list[str] = []
    seen: set[str] = set()
    for i, word in enumerate(words):
        key = norm(word)
        if i in drop or not key or key in seen:
            continue
        seen.add(key)
        kept.append(word)
    brand = attrs.value("brand")
    if brand:
        brand_words = brand.split()
        keys = {norm(w) for w in brand_words}
        kept = brand_words + [w for w in kept if norm(w) not in keys]
    protected = {norm(w) for c in REQUIRED if (v := attrs.value(c))
                 for w in phrase(c, v, rules) + v.split()}
    while len(" ".join(kept)) > limit:
        spare = next((i for i in range(len(kept) - 1, -1, -1)
                      if norm(kept[i]) not in protected), None)
        if spare is None:
            break
        del kept[spare]
    title = " ".join(kept)
    return title, check_title(title, attrs, limit, rules)


def draft(attrs: ListingAttributes, channel: str, channel_kind: str, limit: int,
          rules: WordRules, *, model: ListingModel | None = None,
          template: str | None = None) -> Draft:
    """The draft for one item on one channel (the model is asked only when given)."""
    built = build_title(attrs, limit, rules)
    common = {"sku": attrs.sku, "channel": channel, "channel_kind": channel_kind,
              "limit": limit, "aspects": ebay_aspects(attrs, rules),
              "description": short_description(attrs, rules)}
    rules_draft = Draft(title=built.title, outcome=Outcome.RULES,
                        components=components_in(built.title, attrs, rules),
                        warnings=built.warnings,
                        problems=tuple(p.message for p in
                                       check_title(built.title, attrs, limit, rules)
                                       if p.code != "component_missing"),
                        **common)  # type: ignore[arg-type]
    if model is None:
        return rules_draft
    try:
        answer = model.title(template or "", attrs, channel_kind, limit)
    except ModelUnavailable as exc:
        return _fallback(rules_draft, f"model: {exc.reason}", None)
    problems = check_title(answer, attrs, limit, rules)
    if not problems:
        return Draft(title=answer, outcome=Outcome.LLM_ACCEPTED, model_title=answer,
                     components=components_in(answer, attrs, rules), warnings=(),
                     **common)  # type: ignore[arg-type]
    if all(p.code in REPAIRABLE for p in problems):
        fixed, left = repair(answer, attrs, limit, rules)
        if not left:
            return Draft(title=fixed, outcome=Outcome.LLM_REPAIRED, model_title=answer,
                         reason=_describe(problems),
                         components=components_in(fixed, attrs, rules),
                         warnings=tuple(f"repaired: {p.message}" for p in problems),
                         **common)  # type: ignore[arg-type]
        return _fallback(rules_draft, f"could not repair: {_describe(left)}", answer)
    return _fallback(rules_draft, _describe(problems), answer)


def _fallback(rules_draft: Draft, reason: str, answer: str | None) -> Draft:
    return Draft(sku=rules_draft.sku, channel=rules_draft.channel,
                 channel_kind=rules_draft.channel_kind, title=rules_draft.title,
                 limit=rules_draft.limit, outcome=Outcome.FALLBACK,
                 components=rules_draft.components,
                 warnings=(*rules_draft.warnings, f"model title replaced: {reason}"),
                 aspects=rules_draft.aspects, description=rules_draft.description,
                 reason=reason, model_title=answer, problems=rules_draft.problems)

"""Property tests of the offline title builder: never over the limit, never a cut word,
never a repeated word, brand first when known, deterministic."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.checks import check_title
from stocksync.listings.titles import build_title, phrase
from stocksync.listings.vocabulary import TITLE_LIMITS, norm

WORD = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd"),
                                      whitelist_characters="-'%&"),
               min_size=1, max_size=14)
VALUE = st.lists(WORD, min_size=1, max_size=4).map(" ".join)
MAYBE = st.none() | VALUE
GENDER = st.none() | st.sampled_from(["men", "Women", "unisex", "female", "Kids", "boys"])
ATTRS = st.builds(ListingAttributes, sku=st.just("SKU"), brand=MAYBE, gender=GENDER,
                  material=MAYBE, garment_type=MAYBE, size=MAYBE, colour=MAYBE, fit=MAYBE,
                  style=MAYBE, pattern=MAYBE)
LIMIT = st.sampled_from(sorted(TITLE_LIMITS.values())) | st.integers(1, 120)
RULES = st.builds(WordRules.for_tenant,
                  banned=st.lists(st.sampled_from(["vintage", "classic", "soft"]), max_size=2),
                  preferred=st.dictionaries(st.sampled_from(["tee", "jumper", "cotton"]),
                                            st.sampled_from(["T-Shirt", "Sweater", "Cotton"]),
                                            max_size=2))


def source_words(attrs: ListingAttributes, rules: WordRules) -> set[str]:
    words: set[str] = set()
    for component, value in attrs.known().items():
        words.update(phrase(component, value, rules))
    return words


@settings(max_examples=100, deadline=None)
@given(ATTRS, LIMIT, RULES)
def test_a_title_is_never_over_the_limit_and_every_word_is_whole(
        attrs: ListingAttributes, limit: int, rules: WordRules) -> None:
    built = build_title(attrs, limit, rules)
    assert len(built.title) <= limit
    assert built.title == built.title.strip() and "  " not in built.title
    allowed = source_words(attrs, rules)
    for word in built.title.split():  # a cut word would not be one of the item's words
        assert word in allowed, (word, allowed)


@settings(max_examples=100, deadline=None)
@given(ATTRS, LIMIT, RULES)
def test_no_word_is_repeated_and_the_brand_comes_first(
        attrs: ListingAttributes, limit: int, rules: WordRules) -> None:
    built = build_title(attrs, limit, rules)
    keys = [norm(w) for w in built.title.split()]
    assert len(keys) == len(set(keys))
    brand = [w for w in (attrs.value("brand") or "").split() if norm(w)]
    if brand and len(brand[0]) <= limit:
        assert built.title.split()[0] == brand[0]


@settings(max_examples=80, deadline=None)
@given(ATTRS, LIMIT, RULES)
def test_the_builder_is_deterministic(attrs: ListingAttributes, limit: int,
                                      rules: WordRules) -> None:
    assert build_title(attrs, limit, rules) == build_title(attrs, limit, rules)


@settings(max_examples=80, deadline=None)
@given(ATTRS, RULES)
def test_banned_words_never_reach_a_title_outside_the_brand(attrs: ListingAttributes,
                                                            rules: WordRules) -> None:
    built = build_title(attrs, 255, rules)
    brand_words = {norm(w) for w in (attrs.value("brand") or "").split()}
    assert not [b for b in rules.banned_in(built.title) if b not in brand_words]


def test_the_seed_structure_for_a_full_item() -> None:
    attrs = ListingAttributes("VINT-LEATHER-JKT-L", brand="Schott", gender="male",
                              material="Leather", garment_type="biker jacket", size="L",
                              colour="black", fit="regular", style="vintage",
                              pattern="solid")
    rules = WordRules.for_tenant()
    built = build_title(attrs, 80, rules)
    assert built.title == ("Schott Men's Leather Biker Jacket Size L Black Regular Fit "
                           "Vintage Solid")
    assert built.has_five_components
    assert check_title(built.title, attrs, 80, rules) == []


def test_too_long_drops_the_least_important_words_first() -> None:
    attrs = ListingAttributes("X", brand="Levi's", gender="men",
                              material="100% Organic Cotton",
                              garment_type="denim trucker jacket", size="XL", colour="navy",
                              fit="slim", style="vintage", pattern="striped")
    rules = WordRules.for_tenant()
    assert build_title(attrs, 75, rules).title == \
        "Levi's Men's 100% Organic Cotton Denim Trucker Jacket Size XL Navy Slim Fit"
    assert build_title(attrs, 40, rules).title == "Levi's Men's Cotton Jacket Size XL Navy"
    assert build_title(attrs, 20, rules).title == "Levi's Cotton Jacket"


def test_preferred_terms_and_banned_words_apply_per_tenant() -> None:
    attrs = ListingAttributes("X", brand="Acme", gender="women", material="cotton",
                              garment_type="jumper", style="amazing cosy")
    rules = WordRules.for_tenant(banned=["cosy"], preferred={"jumper": "Knit Sweater"})
    built = build_title(attrs, 80, rules)
    assert built.title == "Acme Women's Cotton Knit Sweater"
    assert any("amazing" in w for w in built.warnings)
    allowed = WordRules.for_tenant(allowed=["amazing"])
    assert "Amazing" in build_title(attrs, 80, allowed).title

"""eBay item specifics (aspects) and a short description, from the same attributes as the
title. Aspect names are the ones eBay's clothing categories ask for (Taxonomy API
getItemAspectsForCategory); values are `[str]` as the Inventory API's Product.aspects
takes them ("aspects": {"Brand": ["GoPro"]})."""

from __future__ import annotations

from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.titles import apply_preferred
from stocksync.listings.vocabulary import GENDER_TERMS, norm

# eBay caps an item specific's value per site (GeteBayDetails ItemSpecificDetails
# .MaxCharactersPerValue) and per aspect (aspectMaxLength in getItemAspectsForCategory).
# 65 is our assumption of the usual site value, not a figure the docs corpus confirmed.
ASPECT_VALUE_MAX = 65
ASPECT_NAMES = {
    "brand": "Brand", "material": "Material", "garment_type": "Type", "size": "Size",
    "colour": "Color", "fit": "Fit", "style": "Style", "pattern": "Pattern",
    "neckline": "Neckline", "sleeve_length": "Sleeve Length", "closure": "Closure",
    "season": "Season", "occasion": "Occasion",
}
DESCRIPTION_MAX = 500


def _clip(value: str) -> str:
    if len(value) <= ASPECT_VALUE_MAX:
        return value
    cut = value[:ASPECT_VALUE_MAX + 1].rsplit(" ", 1)[0]  # whole words only
    return cut[:ASPECT_VALUE_MAX]


def ebay_aspects(attrs: ListingAttributes, rules: WordRules) -> dict[str, list[str]]:
    """Item specifics: Brand, Department, Material, Type, Size, Color, Fit, Style,
    Pattern and the extras the merchant keeps (neckline, sleeve length...)."""
    aspects: dict[str, list[str]] = {}
    for name, value in attrs.known().items():
        if name == "gender":
            term = GENDER_TERMS.get(norm(value))
            aspects["Department"] = [term[1] if term else _clip(value)]
            continue
        label = ASPECT_NAMES.get(name, name.replace("_", " ").title())
        text = value if name == "brand" else apply_preferred(value, rules)
        aspects[label] = [_clip(text)]
    return aspects


def short_description(attrs: ListingAttributes, rules: WordRules) -> str:
    """One or two plain sentences a listing can open with; only the item's facts."""
    known = attrs.known()
    gender = known.get("gender")
    term = GENDER_TERMS.get(norm(gender)) if gender else None
    noun = apply_preferred(known.get("garment_type", "item"), rules)
    head = " ".join(p for p in (known.get("brand"), term[0] if term else gender,
                                noun.lower()) if p)
    sentence = head[:1].upper() + head[1:]
    material = known.get("material")
    if material:
        sentence += f" in {apply_preferred(material, rules).lower()}"
    details = [f"{label}: {apply_preferred(known[key], rules)}"
               for key, label in (("colour", "Color"), ("size", "Size"), ("fit", "Fit"),
                                  ("style", "Style"), ("pattern", "Pattern"),
                                  ("neckline", "Neckline"),
                                  ("sleeve_length", "Sleeve length")) if key in known]
    text = sentence + "." + (" " + ". ".join(details) + "." if details else "")
    if len(text) > DESCRIPTION_MAX:
        text = text[:DESCRIPTION_MAX].rsplit(" ", 1)[0]
    return text

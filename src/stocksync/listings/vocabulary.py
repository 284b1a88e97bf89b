"""Words the listing rules know: channel title limits, fluff, the buyers' search terms,
and the attribute vocabulary that tells an invented attribute from a real one."""

from __future__ import annotations

from functools import lru_cache

# Title limits per channel kind, in characters (code points).
# - eBay: "Item.Title ... Maximum length: 80 characters"
#   (https://developer.ebay.com/api-docs/user-guides/static/trading-user-guide/listing-title.html;
#   Inventory API Product.title "Max Length: 80", /work/shared/channels/ebay.md).
# - Amazon: 75 characters including spaces in every category but media since 27 July 2026
#   (the `item_name` field still accepts 200, but longer titles are rewritten or dropped
#   from search): https://dev.to/toolmaxo/amazon-cut-product-titles-to-75-characters-a-
#   small-checker-that-finds-every-problem-2b0a and
#   https://www.skills.sh/kuudoai/skills/amazon-sp-listing-optimizer (both citing Amazon's
#   Seller Central announcement "Updates to improve your product titles begin on July 27").
# - Shopify: the product title takes 255 characters
#   (https://lettercounter.org/blog/shopify-product-description-length; the 70 quoted by
#   https://shopifyranked.com/shopify-seo/title-tags/ is the SEO page title, not the product
#   title). No shopify.dev page in the docs corpus states the figure.
TITLE_LIMITS: dict[str, int] = {"ebay": 80, "amazon": 75, "shopify": 255}
# Other kinds (WooCommerce, Square, a generic portal) get Shopify's length: long enough
# for every component, short enough for any storefront.
DEFAULT_TITLE_LIMIT = 255


def title_limit(kind: str) -> int:
    return TITLE_LIMITS.get(kind, DEFAULT_TITLE_LIMIT)


# Promotional words marketplaces call keyword spam; a tenant adds its own.
DEFAULT_FLUFF: frozenset[str] = frozenset({
    "amazing", "awesome", "best", "bargain", "beautiful", "cheap", "fabulous", "gorgeous",
    "l@@k", "look", "must have", "must-have", "perfect", "stunning", "wow", "free shipping",
    "hot sale", "best seller", "bestseller", "sale", "trendy", "unique", "nice",
})

# Synonym -> the term buyers search for (US marketplaces); a tenant's own entries win.
DEFAULT_PREFERRED: dict[str, str] = {
    "tee": "T-Shirt", "tshirt": "T-Shirt", "t shirt": "T-Shirt", "jumper": "Sweater",
    "pullover": "Sweater", "trainers": "Sneakers", "trousers": "Pants", "hoody": "Hoodie",
    "hooded sweatshirt": "Hoodie", "denims": "Jeans", "gilet": "Vest", "waistcoat": "Vest",
    "colour": "Color", "grey": "Gray",
}

# Genders as buyers search them, and as eBay's Department aspect names them.
GENDER_TERMS: dict[str, tuple[str, str]] = {
    "men": ("Men's", "Men"), "mens": ("Men's", "Men"), "man": ("Men's", "Men"),
    "male": ("Men's", "Men"), "women": ("Women's", "Women"), "womens": ("Women's", "Women"),
    "woman": ("Women's", "Women"), "female": ("Women's", "Women"),
    "ladies": ("Women's", "Women"), "unisex": ("Unisex", "Unisex Adults"),
    "boys": ("Boys'", "Boys"), "boy": ("Boys'", "Boys"), "girls": ("Girls'", "Girls"),
    "girl": ("Girls'", "Girls"), "kids": ("Kids'", "Unisex Kids"),
}

COLOURS = frozenset({
    "black", "white", "grey", "gray", "red", "blue", "navy", "green", "yellow", "orange",
    "purple", "pink", "brown", "beige", "cream", "khaki", "olive", "burgundy", "maroon",
    "teal", "turquoise", "tan", "gold", "silver", "ivory", "charcoal", "camel", "mustard",
    "lilac", "coral", "multicolor", "multicolour",
})
MATERIALS = frozenset({
    "cotton", "linen", "wool", "merino", "cashmere", "silk", "leather", "suede", "denim",
    "polyester", "nylon", "viscose", "rayon", "spandex", "elastane", "acrylic", "fleece",
    "corduroy", "velvet", "satin", "chiffon", "jersey", "tweed", "canvas", "bamboo",
    "modal", "lyocell", "tencel", "hemp", "alpaca", "mohair", "faux",
})
PATTERNS = frozenset({
    "striped", "stripe", "stripes", "plaid", "checked", "check", "tartan", "floral",
    "polka", "dot", "dots", "camo", "camouflage", "paisley", "houndstooth", "herringbone",
    "printed", "graphic", "tie-dye", "leopard", "geometric", "solid", "argyle",
})
FITS = frozenset({"slim", "skinny", "regular", "relaxed", "oversized", "loose", "tapered",
                  "straight", "bootcut", "athletic", "cropped", "boxy", "tailored"})
GARMENTS = frozenset({
    "t-shirt", "shirt", "blouse", "top", "tank", "sweater", "cardigan", "hoodie",
    "sweatshirt", "jacket", "coat", "blazer", "vest", "dress", "skirt", "jeans", "pants",
    "shorts", "leggings", "joggers", "chinos", "suit", "polo", "parka", "trench", "bomber",
    "sneakers", "boots", "shoes", "sandals", "scarf", "hat", "cap", "beanie", "gloves",
    "socks", "jumpsuit", "romper", "overalls", "kimono", "tunic", "camisole", "bodysuit",
})
SIZES = frozenset({"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl", "4xl",
                   "5xl", "small", "medium", "large", "petite", "plus"})

_EDGE_CHARS = "\"'.,;:!?()[]{}<>*#&/\\|~`^=_"


@lru_cache(maxsize=65536)  # a catalog repeats its words: most calls are hits
def norm(word: str) -> str:
    """A word as compared: lower case, edge punctuation and a possessive 's dropped, so
    `Men's`, `mens,` and `MENS` are one word (`men`)."""
    w = word.lower().replace("\u2019", "'").strip(_EDGE_CHARS)
    if w.endswith("'s"):
        w = w[:-2]
    w = w.replace("'", "")
    return w[:-1] if w in _PLURAL_GENDERS else w


_PLURAL_GENDERS = frozenset({"mens", "womens", "boys", "girls"})


GENDER_WORDS = frozenset(norm(k) for k in GENDER_TERMS)
# What each kind of word is, for telling an invented attribute from a real one.
VOCABULARY: dict[str, frozenset[str]] = {
    "colour": COLOURS, "material": MATERIALS, "pattern": PATTERNS, "fit": FITS,
    "garment_type": GARMENTS, "size": SIZES, "gender": GENDER_WORDS,
}

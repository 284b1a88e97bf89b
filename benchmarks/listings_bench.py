"""AI listings benchmark: titles per second with the offline rules on a generated fashion
catalog (the seed's 30,000 SKUs), the share of titles within each channel's limit with all
five components, and with the test model server (its scripted mix of good, over-long,
fluffy, brand-less, inventing, garment-less and failing answers) the share accepted,
repaired and replaced.

    python -m benchmarks.listings_bench [--items 30000] [--model-items 1000]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.drafting import Draft, draft
from stocksync.listings.llm import SEED_PROMPT, ListingModel, ModelSettings
from stocksync.listings.titles import build_title
from stocksync.listings.vocabulary import TITLE_LIMITS

BRANDS = ["Levi's", "Schott", "Acme", "Nordwear", "Tommy Hilfiger", "Calvin Klein",
          "The North Face", "Ralph Lauren Polo", "Scotch & Soda", "Carhartt WIP", "Uniqlo",
          "Barbour International", "Patagonia", "A.P.C.", "Stone Island"]
GENDERS = ["men", "women", "unisex", "male", "female", "girls", "boys"]
MATERIALS = ["Cotton", "100% Organic Cotton", "Merino Wool", "Linen", "Leather", "Denim",
             "Cashmere", "Polyester Blend", "Faux Leather", "Recycled Nylon", "Silk",
             "Cotton Modal Jersey"]
GARMENTS = ["T-Shirt", "tee", "Oxford Shirt", "Crew Neck Jumper", "Biker Jacket",
            "Trucker Jacket", "Slim Chinos", "Hoodie", "Wrap Dress", "Pleated Midi Skirt",
            "Puffer Parka", "Cardigan", "Jeans", "Polo Shirt", "Bomber Jacket"]
SIZES = ["XS", "S", "M", "L", "XL", "XXL", "32W 32L", "UK 10", "EU 42"]
COLOURS = ["Black", "White", "Navy", "grey", "Olive Green", "Burgundy", "Camel", "Sky Blue",
           "Off White", "Charcoal Marl"]
FITS = ["slim", "regular", "relaxed", "oversized", None]
STYLES = ["vintage", "casual", "workwear", "preppy", "amazing retro", None, None]
PATTERNS = ["striped", "solid", "floral", "plaid", "camo", None, None]


def catalog(count: int, seed: int = 7) -> list[ListingAttributes]:
    rnd = random.Random(seed)

    def maybe(values: list[str], missing: float = 0.03) -> str | None:
        return None if rnd.random() < missing else rnd.choice(values)

    return [ListingAttributes(
        sku=f"SKU-{i:06d}", brand=maybe(BRANDS, 0.01), gender=maybe(GENDERS),
        material=maybe(MATERIALS), garment_type=maybe(GARMENTS, 0.01), size=maybe(SIZES),
        colour=maybe(COLOURS), fit=rnd.choice(FITS), style=rnd.choice(STYLES),
        pattern=rnd.choice(PATTERNS)) for i in range(count)]


def rules_run(items: list[ListingAttributes], rules: WordRules) -> list[list[str]]:
    rows = []
    for kind, limit in TITLE_LIMITS.items():
        start = time.perf_counter()
        built = [build_title(a, limit, rules) for a in items]
        titles_s = time.perf_counter() - start
        start = time.perf_counter()
        for a in items:  # the whole draft: title, aspects, description, checks
            draft(a, kind, kind, limit, rules)
        drafts_s = time.perf_counter() - start
        within = sum(len(b.title) <= limit for b in built)
        five = sum(b.has_five_components for b in built)
        complete = [a for a in items if all(a.value(c) for c in (
            "brand", "gender", "material", "garment_type"))]
        five_of_complete = sum(build_title(a, limit, rules).has_five_components
                               for a in complete)
        rows.append([kind, str(limit), f"{len(items):,}", f"{len(items) / titles_s:,.0f}",
                     f"{len(items) / drafts_s:,.0f}", f"{drafts_s:.1f}",
                     f"{within / len(items):.1%}", f"{five / len(items):.1%}",
                     f"{five_of_complete / max(len(complete), 1):.1%}"])
    return rows


def model_run(items: list[ListingAttributes], rules: WordRules,
              concurrency: int) -> tuple[Counter[str], float, Counter[str]]:
    from tests.listings.model_server import ModelServer

    with ModelServer(mix=True) as server:
        model = ListingModel(ModelSettings(base_url=server.base_url, model="test-model",
                                           api_key="unused", timeout_seconds=5.0))

        def one(a: ListingAttributes) -> Draft:
            return draft(a, "ebay", "ebay", 80, rules, model=model, template=SEED_PROMPT)

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            drafts = list(pool.map(one, items))
        elapsed = time.perf_counter() - start
        model.close()
        for d in drafts:
            assert d.title and len(d.title) <= 80
        return Counter(d.outcome.value for d in drafts), elapsed, server.calls


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=30_000)
    parser.add_argument("--model-items", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    rules = WordRules.for_tenant()
    items = catalog(args.items)
    print(table(["channel", "limit", "items", "titles/s", "drafts/s (title+aspects+"
                 "description+checks)", "drafts s", "within limit", "five components",
                 "five components (items with all four core fields)"],
                rules_run(items, rules)))
    outcomes, elapsed, calls = model_run(catalog(args.model_items, seed=11), rules,
                                         args.concurrency)
    total = sum(outcomes.values())
    print()
    print(table(["model items", "accepted", "repaired", "replaced (fallback)", "s",
                 "server answered"],
                [[f"{total:,}", f"{outcomes['llm_accepted'] / total:.1%}",
                  f"{outcomes['llm_repaired'] / total:.1%}",
                  f"{outcomes['fallback'] / total:.1%}", f"{elapsed:.1f}",
                  ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))]]))


if __name__ == "__main__":
    main()

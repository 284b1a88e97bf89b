"""Every answer of a model is checked by the rules: good answers are kept, over-long,
brand-less, fluffy and inventing ones repaired, the rest (and time-outs, 429s, errors)
replaced by the rules' title with the reason kept. A real HTTP server plays the model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stocksync.listings.attributes import ListingAttributes, WordRules
from stocksync.listings.checks import check_title
from stocksync.listings.drafting import Outcome, draft
from stocksync.listings.llm import SEED_PROMPT, ListingModel, ModelSettings
from tests.listings.model_server import ModelServer

TIMEOUT = 0.5


@pytest.fixture(scope="module")
def server() -> Iterator[ModelServer]:
    with ModelServer(slow_seconds=TIMEOUT * 3) as live:
        yield live


@pytest.fixture(scope="module")
def model(server: ModelServer) -> Iterator[ListingModel]:
    found = ListingModel(ModelSettings(base_url=server.base_url, model="test-model",
                                       api_key="unused", timeout_seconds=TIMEOUT,
                                       vision_model="test-vision"))
    yield found
    found.close()


def item(brand: str) -> ListingAttributes:
    return ListingAttributes("JKT-1", brand=brand, gender="men", material="Leather",
                             garment_type="Biker Jacket", size="L", colour="Black")


RULES = WordRules.for_tenant()


def run(model: ListingModel, brand: str, limit: int = 80):  # type: ignore[no-untyped-def]
    attrs = item(brand)
    found = draft(attrs, "ebay-us", "ebay", limit, RULES, model=model, template=SEED_PROMPT)
    assert len(found.title) <= limit and found.title  # never without a valid title
    assert not [p for p in check_title(found.title, attrs, limit, RULES)
                if p.code != "component_missing"]
    return found


def test_a_good_answer_is_accepted_as_it_came(model: ListingModel,
                                              server: ModelServer) -> None:
    found = run(model, "Goodwear")
    assert found.outcome is Outcome.LLM_ACCEPTED
    assert found.title == "Goodwear Men's Leather Biker Jacket Black Size L"
    assert found.reason is None and found.components["brand"] == "Goodwear"
    system = server.prompts[-1][0]
    assert system == {"role": "system", "content": SEED_PROMPT}  # the seed's prompt
    assert "Maximum title length: 80" in server.prompts[-1][1]["content"]


def test_an_over_long_answer_is_cut_back_to_whole_words(model: ListingModel) -> None:
    found = run(model, "Longline")
    assert found.outcome is Outcome.LLM_REPAIRED
    assert found.title.startswith("Longline Men's Leather Biker Jacket")
    assert "over 80" in (found.reason or "")
    assert len(found.model_title or "") > 80


def test_a_brandless_answer_gets_its_brand_first(model: ListingModel) -> None:
    found = run(model, "Nobrand Studio")
    assert found.outcome is Outcome.LLM_REPAIRED
    assert found.title.startswith("Nobrand Studio Men's Leather")
    assert "brand" in (found.reason or "")


def test_fluff_words_are_taken_out(model: ListingModel) -> None:
    found = run(model, "Fluffy")
    assert found.outcome is Outcome.LLM_REPAIRED
    assert "Amazing" not in found.title and "L@@K" not in found.title
    assert "banned word" in (found.reason or "")


def test_an_invented_colour_is_taken_out(model: ListingModel) -> None:
    found = run(model, "Inventive")
    assert found.outcome is Outcome.LLM_REPAIRED and "Red" not in found.title
    assert "'red' (colour) is not in the item's data" in (found.reason or "")


def test_a_missing_garment_type_cannot_be_repaired(model: ListingModel) -> None:
    found = run(model, "Nogarment")
    assert found.outcome is Outcome.FALLBACK
    assert found.title == "Nogarment Men's Leather Biker Jacket Size L Black"  # the rules'
    assert "garment type" in (found.reason or "") and found.model_title


@pytest.mark.parametrize(("brand", "reason"), [
    ("Slowpoke", f"timed out after {TIMEOUT} s"), ("Failing", "answered 500"),
    ("Busy Bee", "rate limited (429)"), ("Empty", "answered nothing")])
def test_time_outs_rate_limits_and_errors_fall_back_to_the_rules(
        model: ListingModel, brand: str, reason: str) -> None:
    found = run(model, brand)
    assert found.outcome is Outcome.FALLBACK and reason in (found.reason or "")
    assert found.title.startswith(brand.split()[0])


def test_no_model_means_the_rules_title(model: ListingModel) -> None:
    found = draft(item("Acme"), "shop", "shopify", 255, RULES)
    assert found.outcome is Outcome.RULES
    assert found.aspects["Brand"] == ["Acme"] and found.aspects["Department"] == ["Men"]
    assert found.description.startswith("Acme Men's biker jacket in leather.")


def test_a_vision_model_names_attributes_with_confidence(model: ListingModel) -> None:
    found = model.describe_image(b"\x89PNG fake bytes are fine here", "image/png")
    assert found["material"] == ("Denim", 0.82)
    assert found["sleeve_length"] == ("Long Sleeve", 0.77)
    assert "neckline" not in found  # no value: no suggestion

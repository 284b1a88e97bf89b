"""The callback `hmac` as Shopify computes it: the published example reproduces."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

from stocksync.connect.shopify import query_hmac
from stocksync.simulators.shopify_oauth import sign_query

EXAMPLE = json.loads((Path(__file__).parents[1] / "fixtures" / "shopify" /
                      "oauth_callback.json").read_text())


def test_published_example_hmac_reproduces() -> None:
    params = dict(parse_qsl(EXAMPLE["query"]))
    assert query_hmac(params, EXAMPLE["secret"]) == params["hmac"]
    assert sign_query(params, EXAMPLE["secret"]) == params["hmac"]
    assert query_hmac({**params, "shop": "other.myshopify.com"},
                      EXAMPLE["secret"]) != params["hmac"]

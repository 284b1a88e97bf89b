"""The published payload's schema: served at GET /v1/schema/stream-events.json, printed by
`stocksync stream schema` (the same document), and every message the running server
publishes (every kind of event the API makes) validates against it (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

import httpx
import jsonschema
from typer.testing import CliRunner

from stocksync.bootstrap import build_service
from stocksync.cli.main import app
from stocksync.config import Settings
from tests.conftest import LiveServer, new_tenant, seed, settle
from tests.stream.conftest import count_stream, eventually, read_stream


def _make_every_kind_of_event(client: httpx.Client) -> None:
    seed(client, {"A": {"WH": 10, "SHOP": 2}, "B": {"WH": 3}})
    for body in ({"type": "sale", "sku": "A", "location": "WH", "quantity": 1},
                 {"type": "adjust", "sku": "A", "location": "WH", "quantity": -2,
                  "reason": "damaged"},
                 {"type": "count", "sku": "B", "location": "WH", "quantity": 5},
                 {"type": "transfer", "sku": "A", "location": "WH", "quantity": 2,
                  "to_location": "SHOP"}):
        client.post("/v1/movements", json=body).raise_for_status()
    held = client.post("/v1/reservations", json={"sku": "A", "quantity": 1,
                                                 "location": "WH"}).json()
    client.post(f"/v1/reservations/{held['id']}/commit").raise_for_status()
    held = client.post("/v1/reservations", json={"sku": "A", "quantity": 1}).json()
    client.post(f"/v1/reservations/{held['id']}/release").raise_for_status()
    client.delete("/v1/items/B").raise_for_status()


def test_every_published_message_validates_against_the_served_schema(
        stream_settings: Settings) -> None:
    svc = build_service(stream_settings)
    tenant = new_tenant(svc, "schema")
    url = stream_settings.nats_url or ""
    try:
        with LiveServer(svc) as live, httpx.Client(base_url=live.url, headers=tenant.headers,
                                                   timeout=30) as client:
            served = httpx.get(live.url + "/v1/schema/stream-events.json")
            assert served.status_code == 200
            assert served.headers["content-type"].startswith("application/schema+json")
            schema = served.json()
            _make_every_kind_of_event(client)
            settle(svc)  # every write sequenced: the head is final
            head = client.get("/v1/events", params={"limit": 1}).json()["head"]
            eventually(lambda: count_stream(url, stream_settings.nats_stream) == head,
                       20, "everything published")
        printed = CliRunner().invoke(app, ["stream", "schema"])
        assert printed.exit_code == 0, printed.output
        assert json.loads(printed.output) == schema

        messages = read_stream(url, stream_settings.nats_stream)
        validator = jsonschema.Draft202012Validator(schema)
        types = set()
        for m in messages:
            body = json.loads(m.body)
            errors = [e.message for e in validator.iter_errors(body)]
            assert not errors, (body, errors)
            types.add(body["type"])
        assert {"stock.received", "stock.sold", "stock.adjusted", "stock.counted",
                "stock.transferred", "stock.reserved", "stock.committed", "stock.released",
                "item.deleted"} <= types, types
        # The schema is closed: a field it does not describe is refused.
        assert list(validator.iter_errors({**json.loads(messages[0].body), "extra": 1}))
    finally:
        svc.engine.dispose()

"""Event files: the published schema, `validate`, and `replay` of the worked example."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from stocksync.app.replay import replay
from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.storage.sequencer import drain
from tests.conftest import LiveServer, new_tenant

EXAMPLE = Path(__file__).parents[2] / "examples" / "worked-example.jsonl"
runner = CliRunner()


def test_the_worked_example_replays_to_the_expected_stock_and_only_once(
        svc: Stocksync) -> None:
    tenant = new_tenant(svc)
    report, problems = replay(svc, tenant.id, EXAMPLE)
    assert problems == []
    assert report.applied == 15 and len(report.refused) == 2
    again, _ = replay(svc, tenant.id, EXAMPLE)
    assert again.applied == 0 and again.already_applied == 15
    with svc.uow(tenant.id, write=False) as uow:
        levels = {(lv.sku, lv.location): lv.on_hand for lv in uow.ledger.stored_levels()}
    assert levels == {("TEE-BLK-M", "WH_MAIN"): 25, ("TEE-BLK-M", "NYC_01"): 8,
                      ("HOOD-GRY-L", "WH_MAIN"): 10}
    drain(svc.engine)
    with svc.uow(tenant.id, write=False) as uow:
        conflicts = uow.log.page(0, 1000, types=["conflict.detected"])
    assert len(conflicts) == 1 and conflicts[0].data["attempted"] == "stock.counted"
    assert svc.verify(tenant.id).ok


def test_validate_accepts_the_example_and_reports_every_violation(tmp_path: Path) -> None:
    ok = runner.invoke(app, ["validate", str(EXAMPLE)])
    assert ok.exit_code == 0 and "16 events are valid" in ok.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([
        '{"type": "stock.received", "sku": "A", "location": "WH", "quantity": 0}',
        '{"type": "stock.sold", "sku": "bad sku!", "location": "WH", "quantity": 1}',
        '{"type": "stock.teleported"}',
        '{not json',
        '{"type": "stock.counted", "sku": "A", "location": "WH", "quantity": 3}',
    ]))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    for expected in ("record 1: stock.received.quantity", "record 2: stock.sold.sku",
                     "record 3:", "record 4: json", "record 5: stock.counted.occurred_at"):
        assert expected in result.output, (expected, result.output)


def test_the_schema_is_published(server: LiveServer) -> None:
    schema = httpx.get(server.url + "/v1/schema/events.json").json()
    kinds = set(schema["discriminator"]["mapping"])
    assert {"stock.received", "stock.counted", "pos.transaction", "shopify.order"} <= kinds
    assert "PosTransaction" in schema["$defs"]
